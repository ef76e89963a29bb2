package davpath

import "testing"

// Benchmarks of the request-path hot spots: every request parses its URL (and COPY/MOVE their
// Destination); every PROPFIND entry joins a member name and escapes an href.
//
//	go test -run '^$' -bench . -benchmem ./davpath/

var sinkPath Path

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ name, in, prefix string }{
		{"short", "/bench/small/4k.bin", ""},
		{"deep", "/bench/tree/d07/s3/f042.txt", ""},
		{"escaped", "/docs/Caf%C3%A9%20menu/r%C3%A9sum%C3%A9%20%282024%29.pdf", ""},
		{"prefix", "/dav/bench/c1k/f0001.txt", "/dav"},
		{"dirty", "//bench//c1k///f0001.txt/", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := Parse(c.in, c.prefix)
				if err != nil {
					b.Fatal(err)
				}
				sinkPath = p
			}
		})
	}
}

var sinkString string

// BenchmarkEscape is the href of a PROPFIND entry.
func BenchmarkEscape(b *testing.B) {
	for _, c := range []struct {
		name string
		p    Path
	}{
		{"plain", "/bench/c1k/f0001.txt"},
		{"unicode", "/docs/Café menu/résumé (2024).pdf"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkString = c.p.Escape("", false)
			}
		})
	}
}

// BenchmarkJoin is a member path of a listing.
func BenchmarkJoin(b *testing.B) {
	b.ReportAllocs()
	var d Path = "/bench/c10k"
	for b.Loop() {
		sinkPath = d.Join("f01234.txt")
	}
}

var sinkBool bool

// BenchmarkValidName is the check osfs.List runs on every directory entry.
func BenchmarkValidName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = ValidName("f01234.txt")
	}
}
