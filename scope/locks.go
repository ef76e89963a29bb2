package scope

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
)

var errRecoverScoped = errors.New("scope: Recover runs on the unscoped store")

// Locks returns m confined to base. Locks are created in m with roots in the served tree, so
// they conflict with those of every other scope over the same manager.
func Locks(m lock.Manager, base davpath.Path) lock.Manager {
	if base.IsRoot() || m == nil {
		return m
	}
	return &locks{m: m, s: Mapper{Base: base}}
}

type locks struct {
	m lock.Manager
	s Mapper
}

// Compile-time interface guards.
var (
	_ lock.Manager   = (*locks)(nil)
	_ lock.Unwrapper = (*locks)(nil)
)

// Unwrap implements lock.Unwrapper: path-free capabilities (lock.Counter) are those of the
// shared manager underneath.
func (l *locks) Unwrap() lock.Manager { return l.m }

// out maps a lock to the principal's view; ok is false when the lock is outside the scope.
func (l *locks) out(x lock.Lock) (lock.Lock, bool) {
	root, above, ok := l.s.Out(x.Root)
	if !ok || above && x.Depth != lock.DepthInfinity {
		// A depth-0 lock on an ancestor covers nothing inside the scope.
		return lock.Lock{}, false
	}
	x.Root = root
	return x, true
}

// outErr maps the roots of a ConflictError to the principal's view.
func (l *locks) outErr(err error) error {
	var ce *lock.ConflictError
	if !errors.As(err, &ce) {
		return err
	}
	roots := make([]davpath.Path, 0, len(ce.Roots))
	for _, r := range ce.Roots {
		if p, _, ok := l.s.Out(r); ok && !slices.Contains(roots, p) {
			roots = append(roots, p)
		}
	}
	return &lock.ConflictError{Roots: roots}
}

func (l *locks) Create(ctx context.Context, now time.Time, x lock.Lock) (lock.Lock, error) {
	x.Root = l.s.In(x.Root)
	got, err := l.m.Create(ctx, now, x)
	if err != nil {
		return lock.Lock{}, l.outErr(err)
	}
	got.Root = x.Root.Rebase(l.s.Base, davpath.Root)
	return got, nil
}

func (l *locks) Refresh(ctx context.Context, now time.Time, p davpath.Path, token, principal string, timeout time.Duration) (lock.Lock, error) {
	got, err := l.m.Refresh(ctx, now, l.s.In(p), token, principal, timeout)
	if err != nil {
		return lock.Lock{}, l.outErr(err)
	}
	got, _ = l.out(got) // it covers p, which is inside the scope
	return got, nil
}

func (l *locks) Unlock(ctx context.Context, now time.Time, p davpath.Path, token, principal string) error {
	return l.outErr(l.m.Unlock(ctx, now, l.s.In(p), token, principal))
}

// Lookup hides locks outside the scope: their tokens name nothing the principal can see.
func (l *locks) Lookup(ctx context.Context, now time.Time, token string) (lock.Lock, bool, error) {
	got, ok, err := l.m.Lookup(ctx, now, token)
	if err != nil || !ok {
		return lock.Lock{}, false, err
	}
	got, ok = l.out(got)
	return got, ok, nil
}

func (l *locks) Discover(ctx context.Context, now time.Time, p davpath.Path) ([]lock.Lock, error) {
	ls, err := l.m.Discover(ctx, now, l.s.In(p))
	if err != nil {
		return nil, err
	}
	out := ls[:0]
	for _, x := range ls {
		if y, ok := l.out(x); ok {
			out = append(out, y)
		}
	}
	return out, nil
}

func (l *locks) Confirm(ctx context.Context, now time.Time, s lock.Submitted, targets ...lock.Target) (func(), error) {
	in := make([]lock.Target, len(targets))
	for i, t := range targets {
		in[i] = lock.Target{Path: l.s.In(t.Path), Recursive: t.Recursive}
	}
	release, err := l.m.Confirm(ctx, now, s, in...)
	return release, l.outErr(err)
}

func (l *locks) Drop(ctx context.Context, now time.Time, p davpath.Path) error {
	return l.m.Drop(ctx, now, l.s.In(p))
}
