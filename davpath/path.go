// Package davpath is the only parser of request URIs and Destination headers in davd.
//
// A Path is canonical: it starts with "/", has no empty, "." or ".." segments, no trailing slash
// (except the root "/"), no NUL byte, no control character and no overlong UTF-8 encoding. The
// access policy, the lock manager and the storage backends all see the same Path value, so a
// rule written for "/secret" cannot be bypassed with "/public/../secret", "%2e%2e" or "//secret".
//
// A segment is otherwise any byte string a Unix file system allows as a name: a backslash is an
// ordinary character there, and names need not be UTF-8 (see checkName). Such names travel
// percent-encoded in hrefs (Escape), so a client gets back exactly the bytes on disk.
package davpath

import (
	"errors"
	"net/url"
	"os"
	"strings"
)

// Path is a canonical, unescaped resource path. The zero value is not valid; use Root.
type Path string

// Root is the path of the served tree's top collection.
const Root Path = "/"

// MaxLen is the default upper bound on the length of an escaped request path (see Parser).
const MaxLen = 4096

// Errors returned by Parse. The dav package maps ErrTooLong to 414 and the others to 400.
var (
	ErrInvalid   = errors.New("davpath: invalid path")
	ErrTraversal = errors.New("davpath: dot segment in path")
	ErrTooLong   = errors.New("davpath: path too long")
	ErrOutside   = errors.New("davpath: path outside the served prefix")
)

// Parse turns an escaped URL path (as in r.URL.EscapedPath()) into a canonical Path, after removing
// prefix (an unescaped path such as "/dav", or "" / "/" for none). It refuses, rather than
// resolves, dot segments in any encoding: a client that sends them is either broken or probing.
// Empty segments ("//") are collapsed, and a trailing slash is dropped (the caller may keep
// HasTrailingSlash for its own use).
func Parse(escaped, prefix string) (Path, error) {
	if len(escaped) > MaxLen {
		return "", ErrTooLong
	}
	if escaped == "" || escaped[0] != '/' {
		return "", ErrInvalid
	}
	// Each segment is unescaped on its own, so an encoded slash (%2F) inside a name is refused
	// rather than silently turned into a separator.
	var b strings.Builder
	b.Grow(len(escaped))
	for seg := range strings.SplitSeq(escaped[1:], "/") {
		if seg == "" {
			continue
		}
		name, err := url.PathUnescape(seg)
		if err != nil {
			return "", ErrInvalid
		}
		if err := checkName(name); err != nil {
			return "", err
		}
		b.WriteByte('/')
		b.WriteString(name)
	}
	p := Path(b.String())
	if p == "" {
		p = Root
	}
	// Bound the canonical form too, escaped as hrefs are (with a trailing slash for a
	// collection), so every accepted path can be sent back and parsed again: raw UTF-8 in the
	// request line is shorter than its escaped href.
	if escapedLen(string(p))+1 > MaxLen {
		return "", ErrTooLong
	}
	return p.TrimPrefix(prefix)
}

// escapedLen returns the length of s percent-encoded as Escape does.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if shouldEscape(s[i]) {
			n += 2
		}
	}
	return n
}

// checkName validates one unescaped segment. The rule is "every name the host file system
// allows, except what could change which resource a path names":
//
//   - "." and ".." are refused, never resolved (RFC 3986 §3.3 and §5.2.4 give them meaning as
//     dot segments; Parse has already percent-decoded, so %2e%2e lands here too).
//   - The separators of the host OS are refused inside a segment: "/" (only reachable as %2F,
//     which RFC 3986 §2.2 says is data, not a delimiter, but every file system API would take
//     as one), and on Windows also "\", which is a separator there. On Unix a backslash is an
//     ordinary byte of a name and is allowed.
//   - NUL (it ends a name in every system call), and the C0 controls and DEL: no file system
//     API refuses them, but a CR/LF in a name is a header-injection and log-forgery hazard in
//     Location, Destination echoes and access logs, and XML 1.0 cannot carry most of them in
//     displayname (RFC 4918 §15.2).
//   - Overlong UTF-8 encodings (RFC 3629 §3 and §10: "%c0%ae" is a '.' and "%c0%af" a '/' to a
//     lenient decoder, the classic way past a traversal check) are refused, in their 2- to
//     6-byte forms, wherever they appear in the segment.
//
// Everything else is allowed, including bytes that are not UTF-8 at all ("%ff"): RFC 3986 §2.1
// percent-encodes octets, not characters, and RFC 4918 §8.3 asks only that hrefs be URIs, which
// an escaped octet string is. Such a name reaches storage as its exact bytes.
func checkName(name string) error {
	if name == "." || name == ".." {
		return ErrTraversal
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == 0, c == '/', c == '\\' && backslashSeparates:
			return ErrInvalid
		case c < 0x20 || c == 0x7f:
			return ErrInvalid
		case c >= 0xc0 && overlong(name[i:]):
			return ErrInvalid
		}
	}
	return nil
}

// backslashSeparates is true where the OS takes a backslash as a path separator.
const backslashSeparates = os.PathSeparator == '\\'

// overlong reports whether s starts with the lead byte of an overlong UTF-8 sequence: a code
// point encoded in more bytes than it needs. C0 and C1 are refused wherever they are (they can
// only start an encoding of U+0000..U+007F, and RFC 3629 §1 says they never appear in UTF-8);
// E0, F0, F8 and FC are when the next byte leaves the high bits of the code point zero. Any
// other lead byte at the end of the name encodes nothing and is just a byte.
func overlong(s string) bool {
	switch c := s[0]; {
	case c == 0xc0 || c == 0xc1:
		return true
	case len(s) < 2:
		return false
	case c == 0xe0:
		return s[1] >= 0x80 && s[1] < 0xa0
	case c == 0xf0:
		return s[1] >= 0x80 && s[1] < 0x90
	case c == 0xf8:
		return s[1] >= 0x80 && s[1] < 0x88
	case c == 0xfc:
		return s[1] >= 0x80 && s[1] < 0x84
	}
	return false
}

// ValidName reports whether name can be one segment of a Path.
func ValidName(name string) bool { return name != "" && checkName(name) == nil }

// TrimPrefix removes a canonical prefix such as "/dav" from p. The prefix must match whole
// segments: "/davx" is not under "/dav".
func (p Path) TrimPrefix(prefix string) (Path, error) {
	prefix = strings.TrimRight(prefix, "/")
	if prefix == "" {
		return p, nil
	}
	if string(p) == prefix {
		return Root, nil
	}
	if strings.HasPrefix(string(p), prefix) && p[len(prefix)] == '/' {
		return p[len(prefix):], nil
	}
	return "", ErrOutside
}

// New builds a Path from unescaped segments, validating each.
func New(segments ...string) (Path, error) {
	if len(segments) == 0 {
		return Root, nil
	}
	var b strings.Builder
	for _, s := range segments {
		if err := checkName(s); err != nil || s == "" {
			return "", ErrInvalid
		}
		b.WriteByte('/')
		b.WriteString(s)
	}
	return Path(b.String()), nil
}

// IsRoot reports whether p is the root collection.
func (p Path) IsRoot() bool { return p == Root }

// String returns the unescaped path.
func (p Path) String() string { return string(p) }

// Base returns the last segment, or "" for the root.
func (p Path) Base() string {
	if p.IsRoot() {
		return ""
	}
	return string(p[strings.LastIndexByte(string(p), '/')+1:])
}

// Parent returns the parent collection; the root is its own parent.
func (p Path) Parent() Path {
	i := strings.LastIndexByte(string(p), '/')
	if i <= 0 {
		return Root
	}
	return p[:i]
}

// Join appends one segment, which the caller must have validated (storage listings are).
func (p Path) Join(name string) Path {
	if p.IsRoot() {
		return Path("/" + name)
	}
	return Path(string(p) + "/" + name)
}

// Contains reports whether q is p or lies below p.
func (p Path) Contains(q Path) bool {
	if p.IsRoot() || p == q {
		return true
	}
	return strings.HasPrefix(string(q), string(p)) && q[len(p)] == '/'
}

// Rebase moves q, which must lie under from, to the same place under to (COPY/MOVE of trees).
func (q Path) Rebase(from, to Path) Path {
	if q == from {
		return to
	}
	rest := string(q[len(from):])
	if from.IsRoot() {
		rest = string(q)
	}
	if to.IsRoot() {
		return Path(rest)
	}
	return Path(string(to) + rest)
}

// Segments returns the unescaped segments; none for the root.
func (p Path) Segments() []string {
	if p.IsRoot() {
		return nil
	}
	return strings.Split(string(p[1:]), "/")
}

// Depth returns the number of segments.
func (p Path) Depth() int {
	if p.IsRoot() {
		return 0
	}
	return strings.Count(string(p), "/")
}

// Rel returns p relative to the root as a slash-separated name suitable for os.Root ("." for the
// root itself).
func (p Path) Rel() string {
	if p.IsRoot() {
		return "."
	}
	return string(p[1:])
}

// Escape returns the path percent-encoded for use in an href or a Location header, with prefix
// (unescaped) in front and a trailing slash when dir is true.
func (p Path) Escape(prefix string, dir bool) string {
	var b strings.Builder
	prefix = strings.TrimRight(prefix, "/")
	b.Grow(len(prefix) + len(p) + 8)
	if prefix != "" {
		appendEscaped(&b, prefix)
	}
	if p.IsRoot() {
		b.WriteByte('/')
		return b.String()
	}
	appendEscaped(&b, string(p))
	if dir {
		b.WriteByte('/')
	}
	return b.String()
}

// AppendEscaped appends the escaped form of s (slashes kept) to dst; the PROPFIND writer uses it
// to build hrefs without allocating.
func AppendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if shouldEscape(c) {
			dst = append(dst, '%', upperhex[c>>4], upperhex[c&15])
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

const upperhex = "0123456789ABCDEF"

func appendEscaped(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if shouldEscape(c) {
			b.WriteByte('%')
			b.WriteByte(upperhex[c>>4])
			b.WriteByte(upperhex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
}

// shouldEscape reports whether c must be percent-encoded in a path. RFC 3986 unreserved
// characters, sub-delims, the colon, the at sign and the slash stay as they are, except the
// ampersand and the apostrophe, which would need XML escaping in an href. GNOME gvfs dislikes
// encoded parentheses, so they stay too.
func shouldEscape(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return false
	}
	switch c {
	case '-', '.', '_', '~', '/', '!', '$', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return false
	}
	return true
}
