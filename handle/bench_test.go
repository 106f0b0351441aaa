package handle

import (
	"testing"

	"golang.org/x/net/idna"
)

// benchmarkHandles are typical inputs: short ASCII handles, a long one and
// an A-label.
var benchmarkHandles = []string{
	"alice.example.com",
	"bob.dhp.test",
	"phone.carol.bsky.social",
	"xn--bcher-kva.test",
	"shoooort.loooooooooooooooooooooooooong.loooooooooooooooooooooooooong.loooooooooooooooooooooooooong.test",
}

// BenchmarkParse compares Parse and ParseInput with a baseline of
// idna.Lookup.ToASCII on the same names, the conversion that a lookup of the
// name would need anyway. The ns/handle metric is the time per name.
func BenchmarkParse(b *testing.B) {
	cases := []struct {
		name  string
		parse func(string) error
	}{
		{"baseline=idna.Lookup.ToASCII", func(s string) error { _, err := idna.Lookup.ToASCII(s); return err }},
		{"Parse", func(s string) error { _, err := Parse(s); return err }},
		{"ParseInput", func(s string) error { _, err := ParseInput(s); return err }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range benchmarkHandles {
					if err := c.parse(s); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(benchmarkHandles)), "ns/handle")
		})
	}
}

// BenchmarkParseInputUnicode measures the IDNA path of ParseInput against the
// same baseline.
func BenchmarkParseInputUnicode(b *testing.B) {
	const input = " @Bücher.Straße.TEST "
	b.Run("baseline=idna.Lookup.ToASCII", func(b *testing.B) {
		for b.Loop() {
			if _, err := idna.Lookup.ToASCII("bücher.straße.test"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseInput", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseInput(input); err != nil {
				b.Fatal(err)
			}
		}
	})
}
