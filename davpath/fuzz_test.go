package davpath

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks the parser on arbitrary input: it never panics, everything it accepts is
// canonical, and escaping an accepted path and parsing it again gives the same path.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b", "//a//b/", "/a%20b", "/%2e%2e/x", "/a/%2E%2E%2Fb", "/..%2f", "/%252e%252e/",
		"/%c0%ae%c0%ae/", "/a\\..\\b", "/a%00b", "/%ff", "/caf%C3%A9", "/a/./b", "/a;b=c", "/%", "/%zz",
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
	case !utf8.ValidString(s):
		t.Fatalf("%q: invalid UTF-8", s)
	case strings.ContainsAny(s, "\x00\\"):
		t.Fatalf("%q: NUL or backslash", s)
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
