package davxml

import (
	"encoding/xml"
	"io"
	"strings"
)

// RedirectRef is a parsed RFC 4437 DAV:mkredirectref (§6) or DAV:updateredirectref (§7)
// body.
type RedirectRef struct {
	// Target is the DAV:href inside DAV:reftarget, white space trimmed; "" when absent
	// (allowed only in updateredirectref).
	Target string
	// HasTarget is true when the body holds DAV:reftarget.
	HasTarget bool
	// Permanent is true for DAV:redirect-lifetime DAV:permanent (301), false for temporary
	// (302), the default when the element is absent (§6).
	Permanent bool
	// HasLifetime is true when the body holds DAV:redirect-lifetime.
	HasLifetime bool
}

// ParseMkRedirectRef parses an MKREDIRECTREF body (RFC 4437 §6): root DAV:mkredirectref
// holding exactly one DAV:reftarget with one non-empty DAV:href and at most one
// DAV:redirect-lifetime holding DAV:temporary or DAV:permanent. Anything else is
// ErrInvalid; unknown elements are ignored; an empty body is ErrMalformed.
func ParseMkRedirectRef(r io.Reader, lim Limits) (RedirectRef, error) {
	rr, err := parseRedirectRef(r, lim, dav("mkredirectref"))
	if err == nil && !rr.HasTarget {
		err = ErrInvalid
	}
	return rr, err
}

// ParseUpdateRedirectRef parses an UPDATEREDIRECTREF body (RFC 4437 §7): root
// DAV:updateredirectref holding at most one DAV:reftarget and at most one
// DAV:redirect-lifetime, at least one of the two.
func ParseUpdateRedirectRef(r io.Reader, lim Limits) (RedirectRef, error) {
	rr, err := parseRedirectRef(r, lim, dav("updateredirectref"))
	if err == nil && !rr.HasTarget && !rr.HasLifetime {
		err = ErrInvalid
	}
	return rr, err
}

func parseRedirectRef(r io.Reader, lim Limits, root xml.Name) (RedirectRef, error) {
	p, empty, err := newParser(r, lim)
	if err != nil {
		return RedirectRef{}, err
	}
	if empty {
		return RedirectRef{}, p.malformed("empty %s body", root.Local)
	}
	defer p.close()
	var rr RedirectRef
	var nTarget, nLife int
	err = p.document(root, func(n xml.Name) error {
		switch n {
		case dav("reftarget"):
			nTarget++
			rr.HasTarget = true
			nHref := 0
			err := p.children(func(n xml.Name) error {
				if n != dav("href") {
					return p.skip()
				}
				nHref++
				s, err := p.text()
				rr.Target = strings.TrimSpace(s)
				return err
			})
			if err == nil && (nHref != 1 || rr.Target == "") {
				p.invalid("reftarget must hold exactly one non-empty href")
			}
			return err
		case dav("redirect-lifetime"):
			nLife++
			rr.HasLifetime = true
			nKind := 0
			err := p.children(func(n xml.Name) error {
				switch n {
				case dav("temporary"):
					nKind++
				case dav("permanent"):
					nKind++
					rr.Permanent = true
				}
				return p.skip()
			})
			if err == nil && nKind != 1 {
				p.invalid("redirect-lifetime must hold exactly one of temporary and permanent")
			}
			return err
		}
		return p.skip()
	})
	if err != nil {
		return RedirectRef{}, err
	}
	if nTarget > 1 || nLife > 1 {
		return RedirectRef{}, p.errInvalid("%s holds a repeated element", root.Local)
	}
	return rr, nil
}
