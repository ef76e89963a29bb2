package memprops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
)

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

func (l Limits) withDefaults() Limits {
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
func Size(p props.Property) int {
	return len(p.Name.Space) + len(p.Name.Local) + len(p.Lang) + len(p.Value)
}

// Apply returns the properties that result from applying ops in order to cur (RFC 4918 §9.2:
// "Instructions MUST either all be executed or none executed"), or an error and nothing. A set
// replaces a property of the same name in place, or appends it; removing an absent property is
// not an error (RFC 4918 §14.23). cur is not modified, and the result shares no memory with ops.
// The result is nil when no property remains.
func Apply(cur []props.Property, ops []props.Op, lim Limits) ([]props.Property, error) {
	lim = lim.withDefaults()
	out := slices.Clone(cur)
	for _, op := range ops {
		if op.Prop.Name.Local == "" {
			return nil, ErrInvalidName
		}
		i := slices.IndexFunc(out, func(p props.Property) bool { return p.Name == op.Prop.Name })
		if op.Remove {
			if i >= 0 {
				out = slices.Delete(out, i, i+1)
			}
			continue
		}
		if len(op.Prop.Value) > lim.MaxValueBytes {
			return nil, fmt.Errorf("%w: %s %s is %d bytes, limit %d", props.ErrTooLarge,
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
		return nil, fmt.Errorf("%w: %d bytes of properties, limit %d", props.ErrTooLarge, total, lim.MaxPropsBytes)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// clone returns a deep copy of ps, so callers never share memory with the store.
func clone(ps []props.Property) []props.Property {
	if len(ps) == 0 {
		return nil
	}
	out := make([]props.Property, len(ps))
	for i, p := range ps {
		p.Value = slices.Clone(p.Value)
		out[i] = p
	}
	return out
}

// Store is an in-memory props.Store, safe for concurrent use. The zero value is not usable; use
// New.
type Store struct {
	lim Limits
	mu  sync.RWMutex
	m   map[davpath.Path][]props.Property
}

var _ props.Store = (*Store)(nil)

// New returns an empty Store with the given limits.
func New(lim Limits) *Store {
	return &Store{lim: lim.withDefaults(), m: make(map[davpath.Path][]props.Property)}
}

// Get implements props.Store.
func (s *Store) Get(ctx context.Context, p davpath.Path) ([]props.Property, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return clone(s.m[p]), nil
}

// GetDir implements props.Store. It scans every resource with properties, which is fine for
// the tests it serves.
func (s *Store) GetDir(ctx context.Context, dir davpath.Path) (map[string][]props.Property, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]props.Property)
	for p, ps := range s.m {
		if !p.IsRoot() && p.Parent() == dir {
			out[p.Base()] = clone(ps)
		}
	}
	return out, nil
}

// Patch implements props.Store.
func (s *Store) Patch(ctx context.Context, p davpath.Path, ops []props.Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := Apply(s.m[p], ops, s.lim)
	if err != nil {
		return err
	}
	if ps == nil {
		delete(s.m, p)
	} else {
		s.m[p] = ps
	}
	return nil
}

// Copy implements props.Store.
func (s *Store) Copy(ctx context.Context, src, dst davpath.Path, recursive bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	moved := s.take(src, recursive, false)
	s.take(dst, true, true)
	for p, ps := range moved {
		s.m[p.Rebase(src, dst)] = clone(ps)
	}
	return nil
}

// Move implements props.Store.
func (s *Store) Move(ctx context.Context, src, dst davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	moved := s.take(src, true, true)
	s.take(dst, true, true)
	for p, ps := range moved {
		s.m[p.Rebase(src, dst)] = ps
	}
	return nil
}

// Delete implements props.Store.
func (s *Store) Delete(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.take(p, true, true)
	return nil
}

// take returns the properties of p (and of everything below it when recursive), removing them
// from the store when remove is set.
func (s *Store) take(p davpath.Path, recursive, remove bool) map[davpath.Path][]props.Property {
	out := make(map[davpath.Path][]props.Property)
	for q, ps := range s.m {
		if q == p || recursive && p.Contains(q) {
			out[q] = ps
			if remove {
				delete(s.m, q)
			}
		}
	}
	return out
}
