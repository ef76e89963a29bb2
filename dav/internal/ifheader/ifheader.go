package ifheader

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is returned, possibly wrapped with detail, by Parse for any
// violation of the RFC 4918 §10.4.2 grammar and for inputs over the limits.
// Callers test for it with errors.Is; the engine answers 400 Bad Request.
var ErrSyntax = errors.New("ifheader: syntax error")

// MaxLen is the longest If header value, in bytes, that Parse accepts.
const MaxLen = 64 << 10

// MaxConditions is the largest total number of conditions, over all lists,
// that Parse accepts.
const MaxConditions = 1000

// Condition is one term of a List: a state token or an entity tag, possibly
// negated. Exactly one of Token and ETag is set.
type Condition struct {
	// Not reports whether the condition was prefixed with "Not".
	Not bool
	// Token is the state token, the content of the Coded-URL without the
	// angle brackets, such as "urn:uuid:…" or "DAV:no-lock". It is "" when
	// ETag is set.
	Token string
	// ETag is the entity tag as written, quotes included and with its W/
	// prefix if any. It is "" when Token is set.
	ETag string
}

// List is one parenthesized list of conditions. A List matches when all its
// conditions match; the header matches when any of its lists does (RFC 4918
// §10.4.3).
type List struct {
	// Resource is the URI of the Resource-Tag, without the angle brackets,
	// for a tagged list, and "" for an untagged one. It is as written: the
	// engine canonicalizes it before comparing.
	Resource string
	// Conditions holds at least one condition, in the order written.
	Conditions []Condition
}

// Header is a parsed If header. Either every list is tagged or none is.
type Header struct{ Lists []List }

// Parse parses the value of an If header (without the "If:" field name).
// Every error wraps ErrSyntax.
func Parse(s string) (Header, error) {
	if len(s) > MaxLen {
		return Header{}, fmt.Errorf("%w: header longer than %d bytes", ErrSyntax, MaxLen)
	}
	p := parser{s: s}
	h, err := p.header()
	if err != nil {
		return Header{}, err
	}
	return h, nil
}

// Tokens returns every state token in the header, negated or not, in the
// order of first appearance and without duplicates. The engine submits these
// to the lock manager: RFC 4918 §10.4.1 counts a token as submitted wherever
// it appears in the header.
func (h Header) Tokens() []string {
	var out []string
	seen := make(map[string]struct{})
	for _, l := range h.Lists {
		for _, c := range l.Conditions {
			if c.Token == "" {
				continue
			}
			if _, ok := seen[c.Token]; ok {
				continue
			}
			seen[c.Token] = struct{}{}
			out = append(out, c.Token)
		}
	}
	return out
}

// String renders h in the RFC 4918 §10.4.2 syntax, single spaces between
// tokens. A Resource-Tag is written before a list only when it differs from
// the previous list's, so Parse(h.String()) yields h again.
func (h Header) String() string {
	var b strings.Builder
	prev := ""
	for i, l := range h.Lists {
		if i > 0 {
			b.WriteByte(' ')
		}
		if l.Resource != "" && (i == 0 || l.Resource != prev) {
			b.WriteByte('<')
			b.WriteString(l.Resource)
			b.WriteString("> ")
		}
		prev = l.Resource
		b.WriteByte('(')
		for j, c := range l.Conditions {
			if j > 0 {
				b.WriteByte(' ')
			}
			if c.Not {
				b.WriteString("Not ")
			}
			if c.Token != "" {
				b.WriteByte('<')
				b.WriteString(c.Token)
				b.WriteByte('>')
			} else {
				b.WriteByte('[')
				b.WriteString(c.ETag)
				b.WriteByte(']')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// parser is a hand-written recursive-descent parser over the header value.
type parser struct {
	s     string
	i     int
	conds int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrSyntax, p.i, fmt.Sprintf(format, args...))
}

// skipLWS skips linear white space. Go's net/http has already unfolded
// obsolete line folding, but CR and LF are accepted as folding remnants.
func (p *parser) skipLWS() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) header() (Header, error) {
	var h Header
	p.skipLWS()
	if p.i == len(p.s) {
		return h, p.errorf("empty header")
	}
	tagged := p.s[p.i] == '<'
	resource := ""
	for {
		p.skipLWS()
		if p.i == len(p.s) {
			break
		}
		switch c := p.s[p.i]; {
		case c == '<':
			if !tagged {
				return Header{}, p.errorf("resource tag in an untagged header")
			}
			r, err := p.codedURL(false)
			if err != nil {
				return Header{}, err
			}
			// RFC 4918 §10.4.2: Tagged-list = Resource-Tag 1*List.
			p.skipLWS()
			if p.i == len(p.s) || p.s[p.i] != '(' {
				return Header{}, p.errorf("resource tag not followed by a list")
			}
			resource = r
		case c == '(':
			l, err := p.list()
			if err != nil {
				return Header{}, err
			}
			l.Resource = resource
			h.Lists = append(h.Lists, l)
		default:
			return Header{}, p.errorf("unexpected %q", c)
		}
	}
	return h, nil
}

func (p *parser) list() (List, error) {
	var l List
	p.i++ // '('
	for {
		p.skipLWS()
		if p.i == len(p.s) {
			return List{}, p.errorf("unterminated list")
		}
		if p.s[p.i] == ')' {
			p.i++
			if len(l.Conditions) == 0 {
				return List{}, p.errorf("empty list")
			}
			return l, nil
		}
		c, err := p.condition()
		if err != nil {
			return List{}, err
		}
		p.conds++
		if p.conds > MaxConditions {
			return List{}, p.errorf("more than %d conditions", MaxConditions)
		}
		l.Conditions = append(l.Conditions, c)
	}
}

func (p *parser) condition() (Condition, error) {
	var c Condition
	if len(p.s)-p.i >= 3 && strings.EqualFold(p.s[p.i:p.i+3], "not") {
		c.Not = true
		p.i += 3
		p.skipLWS()
		if p.i == len(p.s) {
			return c, p.errorf("Not without a condition")
		}
	}
	switch p.s[p.i] {
	case '<':
		t, err := p.codedURL(true)
		if err != nil {
			return c, err
		}
		c.Token = t
	case '[':
		p.i++
		e, err := p.entityTag()
		if err != nil {
			return c, err
		}
		if p.i == len(p.s) || p.s[p.i] != ']' {
			return c, p.errorf("entity tag not closed by ]")
		}
		p.i++
		c.ETag = e
	default:
		return c, p.errorf("unexpected %q in list", p.s[p.i])
	}
	return c, nil
}

// codedURL reads "<" URI ">" and returns the URI. A state token must be an
// absolute URI (RFC 4918 §6.5, Coded-URL); a Resource-Tag may also be an
// absolute path (Simple-ref, RFC 4918 §8.3). The URI characters themselves
// are checked only for what would break the grammar: no white space, no
// angle brackets, no control characters. Bytes above 0x7F are tolerated
// because some clients send unescaped UTF-8 paths.
func (p *parser) codedURL(stateToken bool) (string, error) {
	start := p.i
	p.i++ // '<'
	for p.i < len(p.s) && p.s[p.i] != '>' {
		if b := p.s[p.i]; b <= ' ' || b == '<' || b == 0x7f {
			return "", p.errorf("%q inside a URI", b)
		}
		p.i++
	}
	if p.i == len(p.s) {
		p.i = start
		return "", p.errorf("unterminated URI")
	}
	u := p.s[start+1 : p.i]
	p.i++ // '>'
	switch {
	case hasScheme(u):
	case !stateToken && strings.HasPrefix(u, "/"):
	default:
		p.i = start
		if stateToken {
			return "", p.errorf("state token %q is not an absolute URI", u)
		}
		return "", p.errorf("resource tag %q is neither an absolute URI nor an absolute path", u)
	}
	return u, nil
}

// hasScheme reports whether u begins with an RFC 3986 scheme and a colon.
func hasScheme(u string) bool {
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// entityTag reads an RFC 2616 §3.11 entity-tag, [W/] quoted-string, and
// returns it as written. Quoted pairs are honoured so that an escaped quote
// or bracket does not end the tag; control characters other than HT are
// rejected.
func (p *parser) entityTag() (string, error) {
	start := p.i
	if len(p.s)-p.i >= 2 && (p.s[p.i] == 'W' || p.s[p.i] == 'w') && p.s[p.i+1] == '/' {
		p.i += 2
	}
	if p.i == len(p.s) || p.s[p.i] != '"' {
		return "", p.errorf("entity tag is not a quoted string")
	}
	p.i++
	for p.i < len(p.s) {
		switch b := p.s[p.i]; {
		case b == '"':
			p.i++
			return p.s[start:p.i], nil
		case b == '\\':
			if p.i+1 == len(p.s) || p.s[p.i+1] > 0x7f || p.s[p.i+1] < ' ' && p.s[p.i+1] != '\t' {
				return "", p.errorf("bad quoted pair in entity tag")
			}
			p.i += 2
		case b < ' ' && b != '\t' || b == 0x7f:
			return "", p.errorf("control character %q in entity tag", b)
		default:
			p.i++
		}
	}
	return "", p.errorf("unterminated entity tag")
}
