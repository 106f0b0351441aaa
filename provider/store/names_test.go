package store

import (
	"bytes"
	"errors"
	"sort"
	"testing"
)

func TestOwnerKeyCanonicalOrder(t *testing.T) {
	t.Parallel()
	// The example of RFC 4034, section 6.1, in canonical order.
	ordered := []string{
		"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
		"z.example.", `\001.z.example.`, "*.z.example.", `\200.z.example.`,
	}
	keys := make([][]byte, len(ordered))
	for i, name := range ordered {
		key, err := ownerKey(name)
		if err != nil {
			t.Fatalf("ownerKey(%q): %v", name, err)
		}
		keys[i] = key
	}
	if !sort.SliceIsSorted(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 }) {
		for i, k := range keys {
			t.Logf("%-22s %q", ordered[i], k)
		}
		t.Error("owner keys are not in the canonical order of RFC 4034, section 6.1")
	}
}

func TestOwnerKeySubtree(t *testing.T) {
	t.Parallel()
	cases := []struct {
		top, name string
		below     bool
	}{
		{"dhp.test.", "a.dhp.test.", true},
		{"dhp.test.", "a.b.dhp.test.", true},
		{"dhp.test.", "A.DHP.TEST.", true},
		{"dhp.test.", "dhp.test.", false},
		{"dhp.test.", "xdhp.test.", false},
		{"dhp.test.", "dhp-x.test.", false},
		{"dhp.test.", `a\.dhp.test.`, false}, // one label "a.dhp" under test.
		{"b.dhp.test.", "b-c.dhp.test.", false},
		{".", "a.test.", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			top, err := ownerKey(tc.top)
			if err != nil {
				t.Fatal(err)
			}
			key, err := ownerKey(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			end := subtreeEnd(top)
			inRange := bytes.Compare(key, top) > 0 && (end == nil || bytes.Compare(key, end) < 0)
			if inRange != tc.below {
				t.Errorf("%s in the key range below %s = %v, want %v", tc.name, tc.top, inRange, tc.below)
			}
		})
	}
}

func TestNormalizeNameErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"Empty":             "",
		"NotFullyQualified": "dhp.test",
		"EmptyLabel":        "a..dhp.test.",
		"LabelTooLong":      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test.",
	}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := normalizeName(input)
			var invalid *InvalidNameError
			if !errors.As(err, &invalid) || invalid.Name != input {
				t.Errorf("normalizeName(%q): error %v, want *InvalidNameError naming the input", input, err)
			}
		})
	}
	if got, err := normalizeName("Alice.DHP.test."); err != nil || got != "alice.dhp.test." {
		t.Errorf(`normalizeName("Alice.DHP.test.") = %q, %v; want "alice.dhp.test."`, got, err)
	}
}

func TestOwnerKeyRejectsZeroByte(t *testing.T) {
	t.Parallel()
	_, err := ownerKey(`a\000b.test.`)
	var invalid *InvalidNameError
	if !errors.As(err, &invalid) {
		t.Errorf("ownerKey of a label with a zero byte: error %v, want *InvalidNameError", err)
	}
}

// FuzzOwnerKey checks that every name the store accepts gets a key that
// ignores ASCII case and contains the keys of the names below it.
func FuzzOwnerKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		norm, err := normalizeName(name)
		if err != nil {
			return
		}
		key, err := ownerKey(name)
		if err != nil {
			return
		}
		lower, err := ownerKey(norm)
		if err != nil || !bytes.Equal(key, lower) {
			t.Fatalf("ownerKey(%q) = %q, but of its lowercase form %q: %q, %v", name, key, norm, lower, err)
		}
		child := "x." + norm
		if norm == "." {
			child = "x."
		}
		childKey, err := ownerKey(child)
		if err != nil {
			return // the child is too long
		}
		end := subtreeEnd(key)
		if bytes.Compare(childKey, key) <= 0 || (end != nil && bytes.Compare(childKey, end) >= 0) {
			t.Fatalf("key of %q is outside the key range of %q", child, norm)
		}
	})
}
