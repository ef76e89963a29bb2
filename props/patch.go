package props

import (
	"errors"
	"fmt"
	"slices"
)

// The patch rules below are part of the seam, not of one store: every Store (memprops,
// store/bolt, the etcd store) applies PROPPATCH instructions through Apply, so the same body
// gets the same answer whichever backend holds the properties.

// Default limits of Limits.
const (
	DefaultMaxValueBytes = 64 << 10
	DefaultMaxPropsBytes = 1 << 20
)

// Limits bound what Apply accepts. Zero fields take the defaults.
type Limits struct {
	// MaxValueBytes bounds one property's Value (default DefaultMaxValueBytes).
	MaxValueBytes int
	// MaxPropsBytes bounds the total size of one resource's properties: the sum of the lengths
	// of their namespaces, local names, languages and values (default DefaultMaxPropsBytes).
	MaxPropsBytes int
}

// WithDefaults returns l with its zero (or negative) fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = DefaultMaxValueBytes
	}
	if l.MaxPropsBytes <= 0 {
		l.MaxPropsBytes = DefaultMaxPropsBytes
	}
	return l
}

// ErrInvalidName is returned by Apply for a property without a local name.
var ErrInvalidName = errors.New("props: property without a local name")

// Size returns the size of a property as counted against Limits.MaxPropsBytes.
func Size(p Property) int {
	return len(p.Name.Space) + len(p.Name.Local) + len(p.Lang) + len(p.Value)
}

// Apply returns the properties that result from applying ops in order to cur (RFC 4918 §9.2:
// "Instructions MUST either all be executed or none executed"), or an error and nothing. A set
// replaces a property of the same name in place, or appends it; removing an absent property is
// not an error (RFC 4918 §14.23). cur is not modified, and the result shares no memory with ops.
// The result is nil when no property remains.
//
// The total is checked after the last op, not after each one: a PROPPATCH that removes one
// large property and sets another is judged by what it leaves, as the client would expect.
func Apply(cur []Property, ops []Op, lim Limits) ([]Property, error) {
	lim = lim.WithDefaults()
	out := slices.Clone(cur)
	for _, op := range ops {
		if op.Prop.Name.Local == "" {
			return nil, ErrInvalidName
		}
		i := slices.IndexFunc(out, func(p Property) bool { return p.Name == op.Prop.Name })
		if op.Remove {
			if i >= 0 {
				out = slices.Delete(out, i, i+1)
			}
			continue
		}
		if len(op.Prop.Value) > lim.MaxValueBytes {
			return nil, fmt.Errorf("%w: %s %s is %d bytes, limit %d", ErrTooLarge,
				op.Prop.Name.Space, op.Prop.Name.Local, len(op.Prop.Value), lim.MaxValueBytes)
		}
		p := op.Prop
		p.Value = slices.Clone(p.Value)
		if i >= 0 {
			out[i] = p
		} else {
			out = append(out, p)
		}
	}
	total := 0
	for _, p := range out {
		total += Size(p)
	}
	if total > lim.MaxPropsBytes {
		return nil, fmt.Errorf("%w: %d bytes of properties, limit %d", ErrTooLarge, total, lim.MaxPropsBytes)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
