package davpath

import (
	"runtime"
	"testing"
)

// TestCheckName walks every class of name checkName accepts or refuses (see its comment for
// the reasons, with the RFC sections).
func TestCheckName(t *testing.T) {
	onWindows := runtime.GOOS == "windows"
	for _, c := range []struct {
		class, name string
		want        error
	}{
		{"plain", "report.pdf", nil},
		{"valid multi-byte UTF-8", "résumé 日本 🎉", nil},
		{"C1 control as valid UTF-8 (U+0085)", "a\u0085b", nil},
		{"invalid UTF-8 byte", "\xff", nil},
		{"invalid UTF-8 inside a name", "caf\xe9.txt", nil},
		{"lone continuation byte", "a\x80b", nil},
		{"truncated sequence at the end", "caf\xc3", nil},
		{"surrogate half (CESU-8)", "\xed\xa0\x80", nil},
		{"lead byte beyond U+10FFFF", "\xf5\x80\x80\x80", nil},
		{"shortest 3-byte form", "\xe0\xa0\x80", nil},
		{"shortest 4-byte form", "\xf0\x90\x80\x80", nil},
		{"E0 at the end", "a\xe0", nil},
		{"dots that are not dot segments", "...", nil},
		{"leading dot", ".hidden", nil},
		{"dot-dot inside a name", "a..b", nil},
		{"percent sign", "100%", nil},
		{"literal %2e%2e after one decoding", "%2e%2e", nil},
		{"every printable ASCII punctuation but /", "!\"#$%&'()*+,-.:;<=>?@[]^_`{|}~", nil},
		{"space only", " ", nil},

		{"dot", ".", ErrTraversal},
		{"dot-dot", "..", ErrTraversal},
		{"slash", "a/b", ErrInvalid},
		{"NUL", "a\x00b", ErrInvalid},
		{"tab", "a\tb", ErrInvalid},
		{"CR LF", "a\r\nb", ErrInvalid},
		{"DEL", "a\x7fb", ErrInvalid},
		{"overlong '.' (C0 AE)", "\xc0\xae\xc0\xae", ErrInvalid},
		{"overlong '/' (C0 AF)", "..\xc0\xafsecret", ErrInvalid},
		{"overlong C1 form", "\xc1\x81", ErrInvalid},
		{"lone C0", "a\xc0", ErrInvalid},
		{"overlong 3-byte '/' (E0 80 AF)", "..\xe0\x80\xaf", ErrInvalid},
		{"overlong 3-byte U+07FF (E0 9F BF)", "\xe0\x9f\xbf", ErrInvalid},
		{"overlong 4-byte '/' (F0 80 80 AF)", "\xf0\x80\x80\xaf", ErrInvalid},
		{"overlong 5-byte '.' (F8 80 80 80 AE)", "\xf8\x80\x80\x80\xae", ErrInvalid},
		{"overlong 6-byte '/' (FC 80 80 80 80 AF)", "\xfc\x80\x80\x80\x80\xaf", ErrInvalid},
	} {
		if err := checkName(c.name); err != c.want {
			t.Errorf("%s: checkName(%q) = %v, want %v", c.class, c.name, err, c.want)
		}
		if got := ValidName(c.name); got != (c.want == nil) {
			t.Errorf("%s: ValidName(%q) = %v", c.class, c.name, got)
		}
	}

	// The backslash is a name character on Unix and a separator on Windows.
	var want error
	if onWindows {
		want = ErrInvalid
	}
	for _, name := range []string{`a\b`, `..\secret`, `\`} {
		if err := checkName(name); err != want {
			t.Errorf("checkName(%q) = %v, want %v on %s", name, err, want, runtime.GOOS)
		}
	}
}

// TestParseNames: the new names are reached through their percent-encoded URL, Escape gives an
// href that encodes every byte outside the plain set, and Parse of that href is the same bytes.
func TestParseNames(t *testing.T) {
	for _, c := range []struct {
		escaped   string
		want      Path
		href      string
		backslash bool
	}{
		{"/a/%ff", "/a/\xff", "/a/%FF", false},
		{"/a/%FF%fe.bin", "/a/\xff\xfe.bin", "/a/%FF%FE.bin", false},
		{"/caf%E9", "/caf\xe9", "/caf%E9", false},
		{"/r%C3%A9sum%C3%A9", "/résumé", "/r%C3%A9sum%C3%A9", false},
		{"/a%5Cb", `/a\b`, "/a%5Cb", true},
		{`/..\secret.txt`, `/..\secret.txt`, "/..%5Csecret.txt", true},
		{"/%252e%252e", "/%2e%2e", "/%252e%252e", false},
		{"/%22%23%25%26%27%3C%3E%3F%5B%5D%5E%60%7B%7C%7D", "/\"#%&'<>?[]^`{|}", "/%22%23%25%26%27%3C%3E%3F%5B%5D%5E%60%7B%7C%7D", false},
	} {
		if c.backslash && backslashSeparates {
			continue // refused there, see TestCheckName
		}
		p, err := Parse(c.escaped, "")
		if err != nil || p != c.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", c.escaped, p, err, c.want)
			continue
		}
		if h := p.Escape("", false); h != c.href {
			t.Errorf("Escape(%q) = %q, want %q", p, h, c.href)
		}
		if h := string(AppendEscaped(nil, string(p))); h != c.href {
			t.Errorf("AppendEscaped(%q) = %q, want %q", p, h, c.href)
		}
		if q, err := Parse(c.href, ""); err != nil || q != p {
			t.Errorf("Parse(Escape(%q)) = %q, %v", p, q, err)
		}
	}
	for _, escaped := range []string{"/a/%2e%2e/b", "/a/..%2fb", "/%c0%ae%c0%ae/x", "/..%c0%afx", "/..%e0%80%afx", "/a%00", "/a%0d%0ab", "/a%2fb"} {
		if p, err := Parse(escaped, ""); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", escaped, p)
		}
	}
}
