package davxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SyncCollection is a parsed RFC 6578 sync-collection REPORT body.
type SyncCollection struct {
	// Token is the content of DAV:sync-token, white space trimmed; "" asks for an initial sync
	// (§3.2).
	Token string
	// Infinite is true for sync-level "infinite", false for "1" (§3.3).
	Infinite bool
	// Props holds the names in DAV:prop, in document order.
	Props []xml.Name
	// Limit is the DAV:nresults of DAV:limit (RFC 5323 §5.17), 0 when absent.
	Limit int
}

// ErrUnsupportedReport means the REPORT body's root element names a report other than
// sync-collection; the engine answers 403 with the supported-report precondition.
var ErrUnsupportedReport = errors.New("davxml: unsupported report")

// maxTextBytes bounds the text content of one small element (a token, a level, a number).
const maxTextBytes = 8 << 10

// ParseSyncCollection parses a REPORT body whose root is DAV:sync-collection (RFC 6578 §6.1:
// sync-token, sync-level, an optional limit, and prop). A missing sync-token, sync-level or
// prop, a level other than "1" and "infinite", or an nresults that is not a positive integer
// is ErrInvalid; unknown elements are ignored. An empty body is ErrMalformed.
func ParseSyncCollection(r io.Reader, lim Limits) (SyncCollection, error) {
	p, empty, err := newParser(r, lim)
	if err != nil {
		return SyncCollection{}, err
	}
	if empty {
		return SyncCollection{}, p.malformed("empty REPORT body")
	}
	defer p.close()
	var sc SyncCollection
	var nTok, nLevel, nProp, nLimit int
	root, err := p.next()
	if err != nil {
		return SyncCollection{}, err
	}
	// RFC 3253 §3.6: a report the resource does not support is a 403 with supported-report,
	// which the engine decides from this error alone.
	if root.name != dav("sync-collection") {
		return SyncCollection{}, fmt.Errorf("%w: {%s}%s", ErrUnsupportedReport, root.name.Space, root.name.Local)
	}
	err = p.children(func(n xml.Name) error {
		switch n {
		case dav("sync-token"):
			nTok++
			s, err := p.text()
			sc.Token = strings.TrimSpace(s)
			return err
		case dav("sync-level"):
			nLevel++
			s, err := p.text()
			switch strings.TrimSpace(s) {
			case "1":
			case "infinite", "infinity":
				sc.Infinite = true
			default:
				p.invalid("sync-level %q is neither 1 nor infinite", s)
			}
			return err
		case dav("prop"):
			nProp++
			return p.names(&sc.Props)
		case dav("limit"):
			nLimit++
			return p.children(func(n xml.Name) error {
				if n != dav("nresults") {
					return p.skip()
				}
				s, err := p.text()
				v, cerr := strconv.Atoi(strings.TrimSpace(s))
				if cerr != nil || v <= 0 {
					p.invalid("nresults %q is not a positive integer", s)
				}
				sc.Limit = v
				return err
			})
		}
		return p.skip()
	})
	if err == nil {
		if _, err = p.next(); err != io.EOF {
			if err == nil {
				err = p.malformed("content after the root element")
			}
		} else {
			err = p.inv
		}
	}
	if err != nil {
		return SyncCollection{}, err
	}
	switch {
	case nTok != 1:
		return SyncCollection{}, p.errInvalid("sync-collection must hold exactly one sync-token")
	case nLevel != 1:
		return SyncCollection{}, p.errInvalid("sync-collection must hold exactly one sync-level")
	case nProp != 1:
		return SyncCollection{}, p.errInvalid("sync-collection must hold exactly one prop")
	case nLimit > 1:
		return SyncCollection{}, p.errInvalid("sync-collection holds more than one limit")
	}
	return sc, nil
}

// text returns the character data of the element just started, consuming it. A child element
// inside makes the body invalid; text longer than maxTextBytes is malformed.
func (p *parser) text() (string, error) {
	depth := len(p.stack)
	var b strings.Builder
	for {
		t, err := p.next()
		if err != nil {
			return "", err
		}
		switch t.kind {
		case tokText:
			if b.Len()+len(t.text) > maxTextBytes {
				return "", p.malformed("element text longer than %d bytes", maxTextBytes)
			}
			b.Write(t.text)
		case tokStart:
			p.invalid("<%s> where text was expected", t.name.Local)
			if err := p.skip(); err != nil {
				return "", err
			}
		case tokEnd:
			if len(p.stack) < depth {
				return b.String(), nil
			}
		}
	}
}
