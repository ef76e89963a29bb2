package davxml

import (
	"encoding/xml"
	"fmt"
	"io"
)

// Property is one property element of a request body.
type Property struct {
	// Name is the property's namespace-qualified name.
	Name xml.Name
	// Lang is the xml:lang in scope on the property element, "" if none.
	// RFC 4918 §4.3 asks servers to keep it with the value.
	Lang string
	// Value is the property element's content as raw, namespace-self-contained
	// XML (see the package documentation); empty for an empty element.
	Value []byte
}

// PropfindKind says what a PROPFIND asks for.
type PropfindKind int

// The kinds of PROPFIND request (RFC 4918 §9.1).
const (
	// AllProp asks for all dead properties and the live properties defined
	// by RFC 4918, plus those named in Include.
	AllProp PropfindKind = iota
	// PropName asks for the names of all properties.
	PropName
	// Prop asks for the properties named in Props.
	Prop
)

// String returns the name of the DAV: element that selects k.
func (k PropfindKind) String() string {
	switch k {
	case AllProp:
		return "allprop"
	case PropName:
		return "propname"
	case Prop:
		return "prop"
	}
	return "PropfindKind(?)"
}

// Propfind is a parsed PROPFIND body.
type Propfind struct {
	Kind PropfindKind
	// Props holds the requested names, in document order, for Prop.
	Props []xml.Name
	// Include holds the names in DAV:include, for AllProp.
	Include []xml.Name
}

// ParsePropfind parses a PROPFIND request body (RFC 4918 §9.1, §14.20). An
// empty body, or one of only white space, is an allprop request. The root
// must be DAV:propfind holding exactly one of DAV:allprop (optionally with
// DAV:include), DAV:propname and DAV:prop; anything else is ErrInvalid.
// Unknown elements are ignored.
func ParsePropfind(r io.Reader, lim Limits) (Propfind, error) {
	p, empty, err := newParser(r, lim)
	if err != nil {
		return Propfind{}, err
	}
	if empty {
		return Propfind{Kind: AllProp}, nil
	}
	defer p.close()
	var (
		pf                      Propfind
		nAll, nName, nProp, nIn int
	)
	err = p.document(dav("propfind"), func(n xml.Name) error {
		switch n {
		case dav("allprop"):
			nAll++
			return p.skip()
		case dav("propname"):
			nName++
			return p.skip()
		case dav("prop"):
			nProp++
			return p.names(&pf.Props)
		case dav("include"):
			nIn++
			return p.names(&pf.Include)
		}
		return p.skip()
	})
	if err != nil {
		return Propfind{}, err
	}
	switch {
	case nAll+nName+nProp == 0:
		return Propfind{}, p.errInvalid("propfind holds none of allprop, propname and prop")
	case nAll+nName+nProp > 1:
		return Propfind{}, p.errInvalid("propfind holds more than one of allprop, propname and prop")
	case nIn > 1:
		return Propfind{}, p.errInvalid("propfind holds more than one include")
	case nIn > 0 && nAll == 0:
		return Propfind{}, p.errInvalid("include without allprop")
	case nAll > 0:
		pf.Kind = AllProp
	case nName > 0:
		pf.Kind = PropName
	default:
		pf.Kind = Prop
	}
	return pf, nil
}

func (p *parser) errInvalid(format string, args ...any) error {
	p.invalid(format, args...)
	return p.inv
}

// PatchOp is one instruction of a PROPPATCH.
type PatchOp struct {
	// Remove distinguishes DAV:remove from DAV:set.
	Remove bool
	// Prop is the property to set, or for Remove the property to remove
	// (Name only; Lang is "" and Value nil).
	Prop Property
}

// ParseProppatch parses a PROPPATCH request body (RFC 4918 §9.2, §14.19).
// The root must be DAV:propertyupdate; each DAV:set and DAV:remove must hold
// a DAV:prop. The operations are returned in document order, which RFC 4918
// §9.2 requires the server to follow. A body with no operation at all is
// ErrInvalid; an empty body is ErrMalformed, since it is not XML.
func ParseProppatch(r io.Reader, lim Limits) ([]PatchOp, error) {
	p, empty, err := newParser(r, lim)
	if err != nil {
		return nil, err
	}
	if empty {
		return nil, fmt.Errorf("%w: empty PROPPATCH body", ErrMalformed)
	}
	defer p.close()
	var ops []PatchOp
	err = p.document(dav("propertyupdate"), func(n xml.Name) error {
		remove := n == dav("remove")
		if !remove && n != dav("set") {
			return p.skip()
		}
		hasProp := false
		err := p.children(func(n xml.Name) error {
			if n != dav("prop") {
				return p.skip()
			}
			hasProp = true
			return p.children(func(n xml.Name) error {
				if err := p.countProp(); err != nil {
					return err
				}
				op := PatchOp{Remove: remove, Prop: Property{Name: n}}
				if remove {
					ops = append(ops, op)
					return p.skip()
				}
				op.Prop.Lang = p.lang()
				v, err := p.capture()
				op.Prop.Value = v
				ops = append(ops, op)
				return err
			})
		})
		if err == nil && !hasProp {
			p.invalid("%s without prop", n.Local)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, p.errInvalid("propertyupdate holds no property to set or remove")
	}
	return ops, nil
}

// LockInfo is a parsed LOCK request body.
type LockInfo struct {
	// Shared is true for a shared lock and false for an exclusive one.
	Shared bool
	// Owner is the content of DAV:owner as raw, namespace-self-contained XML
	// like Property.Value, or nil if the body has no DAV:owner.
	Owner []byte
}

// ParseLockInfo parses a LOCK request body (RFC 4918 §9.10, §14.11). An
// empty body, or one of only white space, reports empty, which means a lock
// refresh. The root must be DAV:lockinfo holding one DAV:lockscope with
// DAV:exclusive or DAV:shared, one DAV:locktype with DAV:write (the only
// lock type defined), and at most one DAV:owner; anything else is
// ErrInvalid.
func ParseLockInfo(r io.Reader, lim Limits) (info LockInfo, empty bool, err error) {
	p, empty, err := newParser(r, lim)
	if err != nil || empty {
		return LockInfo{}, empty, err
	}
	defer p.close()
	var nScope, nType, nOwner int
	err = p.document(dav("lockinfo"), func(n xml.Name) error {
		switch n {
		case dav("lockscope"):
			nScope++
			var excl, shared int
			err := p.children(func(n xml.Name) error {
				switch n {
				case dav("exclusive"):
					excl++
				case dav("shared"):
					shared++
				}
				return p.skip()
			})
			if err == nil && excl+shared != 1 {
				p.invalid("lockscope must hold exactly one of exclusive and shared")
			}
			info.Shared = shared > 0
			return err
		case dav("locktype"):
			nType++
			write := 0
			err := p.children(func(n xml.Name) error {
				if n == dav("write") {
					write++
				}
				return p.skip()
			})
			if err == nil && write != 1 {
				p.invalid("locktype must hold write, the only lock type supported")
			}
			return err
		case dav("owner"):
			nOwner++
			v, err := p.capture()
			info.Owner = v
			return err
		}
		return p.skip()
	})
	if err != nil {
		return LockInfo{}, false, err
	}
	switch {
	case nScope != 1:
		return LockInfo{}, false, p.errInvalid("lockinfo must hold exactly one lockscope")
	case nType != 1:
		return LockInfo{}, false, p.errInvalid("lockinfo must hold exactly one locktype")
	case nOwner > 1:
		return LockInfo{}, false, p.errInvalid("lockinfo holds more than one owner")
	}
	return info, false, nil
}
