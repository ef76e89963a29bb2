package ifheader

import (
	"strings"
	"testing"
)

// Benchmarks of If header parsing (RFC 4918 §10.4): every write to a locked resource carries one.
//
//	go test -run '^$' -bench . -benchmem ./dav/internal/ifheader/

var sinkHeader Header

func BenchmarkParseShapes(b *testing.B) {
	many := strings.Repeat(`(<urn:uuid:0ce8f1c2-5f0e-4c59-a8a4-6c9b3a7e2d11> ["etag-1234"]) `, 50)
	for _, c := range []struct{ name, in string }{
		{"token", `(<urn:uuid:0ce8f1c2-5f0e-4c59-a8a4-6c9b3a7e2d11>)`},
		{"tagged-token-etag", `<http://127.0.0.1:8080/bench/c1k/f0001.txt> (<urn:uuid:0ce8f1c2-5f0e-4c59-a8a4-6c9b3a7e2d11> ["1730000000-80"])`},
		{"not-nolock", `(Not <DAV:no-lock> ["1730000000-80"])`},
		{"litmus-complex", `(<urn:uuid:0ce8f1c2-5f0e-4c59-a8a4-6c9b3a7e2d11>) (Not <DAV:no-lock>) (["W/\"weak\""] <urn:uuid:11111111-2222-3333-4444-555555555555>)`},
		{"50-lists", many},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				h, err := Parse(c.in)
				if err != nil {
					b.Fatal(err)
				}
				sinkHeader = h
			}
		})
	}
}

var sinkTokens []string

func BenchmarkTokens(b *testing.B) {
	h, err := Parse(`(<urn:uuid:0ce8f1c2-5f0e-4c59-a8a4-6c9b3a7e2d11>) (Not <DAV:no-lock>) (<urn:uuid:11111111-2222-3333-4444-555555555555> ["x"])`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkTokens = h.Tokens()
	}
}
