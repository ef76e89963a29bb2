package davpath

import (
	"strings"
	"testing"
)

// FuzzParse checks the parser on arbitrary input: it never panics, everything it accepts is
// canonical, and escaping an accepted path and parsing it again gives the same path.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b", "//a//b/", "/a%20b", "/%2e%2e/x", "/a/%2E%2E%2Fb", "/..%2f", "/%252e%252e/",
		"/%c0%ae%c0%ae/", "/%e0%80%ae", "/%f0%80%80%af", "/%f8%80%80%80%ae", "/%fc%80%80%80%80%af", "/%e0%a0%80", "/%c3", "/a%5cb", "/a\\..\\b", "/a%00b", "/%ff", "/caf%C3%A9", "/a/./b", "/a;b=c", "/%", "/%zz",
		"http://evil/x", "/" + strings.Repeat("a/", 100),
	} {
		f.Add(s, "")
		f.Add(s, "/dav")
	}
	f.Fuzz(func(t *testing.T, escaped, prefix string) {
		p, err := Parse(escaped, prefix)
		if err != nil {
			if p != "" {
				t.Fatalf("Parse(%q) = %q with error %v", escaped, p, err)
			}
			return
		}
		checkCanonical(t, p)
		for _, pre := range []string{"", prefix} {
			if pre != "" {
				// Only clean prefixes are configured; skip the others.
				pp, err := Parse(pre, "")
				if err != nil || string(pp) != strings.TrimRight(pre, "/") || pp.IsRoot() {
					continue
				}
			}
			for _, dir := range []bool{false, true} {
				e := p.Escape(pre, dir)
				q, err := Parse(e, pre)
				if err != nil || q != p {
					t.Fatalf("Parse(%q) = %q; Escape(%q, %v) = %q; Parse of that = %q, %v", escaped, p, pre, dir, e, q, err)
				}
			}
		}
		if p.Depth() != len(p.Segments()) {
			t.Fatalf("%q: Depth %d but %d segments", p, p.Depth(), len(p.Segments()))
		}
		if !p.IsRoot() {
			if got := p.Parent().Join(p.Base()); got != p {
				t.Fatalf("%q: Parent().Join(Base()) = %q", p, got)
			}
			if !p.Parent().Contains(p) {
				t.Fatalf("%q: not inside its parent", p)
			}
		}
	})
}

func checkCanonical(t *testing.T, p Path) {
	t.Helper()
	s := string(p)
	switch {
	case s == "" || s[0] != '/':
		t.Fatalf("%q: not absolute", s)
	case s != "/" && strings.HasSuffix(s, "/"):
		t.Fatalf("%q: trailing slash", s)
	case strings.Contains(s, "//"):
		t.Fatalf("%q: empty segment", s)
	case strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		t.Fatalf("%q: NUL or control character", s)
	case backslashSeparates && strings.Contains(s, "\\"):
		t.Fatalf("%q: backslash, a separator on this OS", s)
	case strings.IndexByte(s, 0xc0) >= 0 || strings.IndexByte(s, 0xc1) >= 0:
		t.Fatalf("%q: C0 or C1 byte", s)
	}
	if i := overlongAt(s); i >= 0 {
		t.Fatalf("%q: overlong UTF-8 sequence at byte %d", s, i)
	}
	for _, seg := range p.Segments() {
		if seg == "." || seg == ".." || seg == "" {
			t.Fatalf("%q: segment %q", s, seg)
		}
		if !ValidName(seg) {
			t.Fatalf("%q: segment %q is not a valid name", s, seg)
		}
	}
}

// TestParseBoundsCanonicalLength: a path accepted in raw UTF-8 must still parse once escaped.
func TestParseBoundsCanonicalLength(t *testing.T) {
	raw := "/" + strings.Repeat("é", 1500)
	if _, err := Parse(raw, ""); err != ErrTooLong {
		t.Fatalf("Parse of a 1500-character raw UTF-8 path whose href is 9001 bytes: %v, want ErrTooLong", err)
	}
	ok := "/" + strings.Repeat("é", 600)
	p, err := Parse(ok, "")
	if err != nil {
		t.Fatal(err)
	}
	if q, err := Parse(p.Escape("", true), ""); err != nil || q != p {
		t.Fatalf("round trip: %q %v", q, err)
	}
}

// overlongAt decodes s the way a lenient UTF-8 decoder would (any lead byte of 2 to 6 bytes and
// its continuation bytes, without checking the result) and returns the offset of the first
// sequence that encodes its code point in more bytes than needed, or -1. It is written apart from
// davpath's check so that the fuzzer compares two implementations.
func overlongAt(s string) int {
	minimum := [...]rune{2: 0x80, 3: 0x800, 4: 0x10000, 5: 0x200000, 6: 0x4000000}
	for i := 0; i < len(s); i++ {
		c := s[i]
		n := 0
		for c&(0x80>>n) != 0 {
			n++
		}
		if n < 2 || n > 6 || i+n > len(s) {
			continue
		}
		r := rune(c & (0x7f >> n))
		ok := true
		for k := 1; k < n; k++ {
			if s[i+k]&0xc0 != 0x80 {
				ok = false
				break
			}
			r = r<<6 | rune(s[i+k]&0x3f)
		}
		if ok && r < minimum[n] {
			return i
		}
	}
	return -1
}
