package memprops

import (
	"context"
	"slices"
	"sync"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
)

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
	lim props.Limits
	mu  sync.RWMutex
	m   map[davpath.Path][]props.Property
}

var _ props.Store = (*Store)(nil)

// New returns an empty Store with the given limits.
func New(lim props.Limits) *Store {
	return &Store{lim: lim.WithDefaults(), m: make(map[davpath.Path][]props.Property)}
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
	ps, err := props.Apply(s.m[p], ops, s.lim)
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
