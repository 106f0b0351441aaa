package dnssec

import (
	"testing"
	"time"
)

func TestCanonicalOrder(t *testing.T) {
	t.Parallel()
	// The example list of RFC 4034, section 6.1, in canonical order.
	names := []string{
		"example.",
		"a.example.",
		"yljkjljk.a.example.",
		"Z.a.example.",
		"zABC.a.EXAMPLE.",
		"z.example.",
		`\001.z.example.`,
		"*.z.example.",
		`\200.z.example.`,
	}
	for i := range names {
		for j := range names {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := canonicalCompare(names[i], names[j]); got != want {
				t.Errorf("canonicalCompare(%q, %q) = %d, want %d", names[i], names[j], got, want)
			}
		}
	}
}

func TestNameHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"parent of a name", parentName("a.b.test."), "b.test."},
		{"parent of a TLD", parentName("test."), "."},
		{"parent of the root", parentName("."), ""},
		{"suffix labels", suffixLabels("a.b.test.", 2), "b.test."},
		{"suffix zero labels", suffixLabels("a.b.test.", 0), "."},
		{"common ancestor", commonAncestor("a.b.test.", "c.b.test."), "b.test."},
		{"common ancestor is root", commonAncestor("a.test.", "b.example."), "."},
		{"wildcard below root", childOf("*", "."), "*."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}

	between := namesBetween("test.", "a.b.test.")
	if len(between) != 2 || between[0] != "b.test." || between[1] != "a.b.test." {
		t.Errorf("namesBetween = %q, want [b.test. a.b.test.]", between)
	}
}

func TestSerialTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		now   time.Time
		value uint32
		want  time.Time
	}{
		{"same era", time.Unix(1_800_000_000, 0), 1_800_000_100, time.Unix(1_800_000_100, 0)},
		{"past", time.Unix(1_800_000_000, 0), 1_700_000_000, time.Unix(1_700_000_000, 0)},
		// Past 2106 the 32-bit field wraps; RFC 4034, section 3.1.5.
		{"after wrap", time.Unix(1<<32-100, 0), 50, time.Unix(1<<32+50, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := serialTime(tc.value, tc.now); !got.Equal(tc.want) {
				t.Errorf("serialTime(%d) = %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}
