// Package lock defines the write-lock seam of davd (RFC 4918 §6, §7, §9.10, §9.11): the Lock
// value, the Manager interface, and the pure scope rules every implementation shares. Nothing here
// knows HTTP; times are passed in (now) so expiry is testable without sleeping.
package lock

import (
	"context"
	"errors"
	"time"

	"github.com/davd/davd/davpath"
)

// Depth of a lock: 0 or infinity (RFC 4918 §9.10.3).
type Depth int8

// Lock depths.
const (
	DepthZero     Depth = 0
	DepthInfinity Depth = -1
)

// Lock is one active write lock.
type Lock struct {
	// Token is the lock token, a "urn:uuid:" URI, assigned by the Manager on Create.
	Token string
	// Root is the lock root: the resource the LOCK request was addressed to.
	Root davpath.Path
	// Depth is DepthZero or DepthInfinity.
	Depth Depth
	// Shared is true for a shared lock, false for an exclusive one.
	Shared bool
	// Owner is the DAV:owner element's content as raw, namespace-self-contained XML, kept
	// verbatim and returned in lockdiscovery.
	Owner []byte
	// Principal is the authenticated user who created the lock ("" when anonymous). Only the
	// same principal may refresh, unlock or use the token.
	Principal string
	// Timeout is the granted timeout; 0 means infinite.
	Timeout time.Duration
	// Expires is when the lock lapses; the zero time means never.
	Expires time.Time
}

// Covers reports whether l applies to the resource p itself: p is the lock root, or lies below
// a depth-infinity lock root (RFC 4918 §6.1, §7).
func (l *Lock) Covers(p davpath.Path) bool {
	if l.Root == p {
		return true
	}
	return l.Depth == DepthInfinity && l.Root.Contains(p)
}

// Affects reports whether a write to t touches a resource that l covers. A recursive target
// (DELETE or MOVE of a collection, COPY onto one) also touches every lock inside it.
func (l *Lock) Affects(t Target) bool {
	return l.Covers(t.Path) || (t.Recursive && t.Path.Contains(l.Root))
}

// Conflicts reports whether a new lock n cannot coexist with l (RFC 4918 §6.1, §9.10.5): their
// scopes overlap and at least one of them is exclusive.
func (l *Lock) Conflicts(n *Lock) bool {
	if l.Shared && n.Shared {
		return false
	}
	return l.Covers(n.Root) || n.Covers(l.Root)
}

// Expired reports whether l has lapsed at now.
func (l *Lock) Expired(now time.Time) bool {
	return !l.Expires.IsZero() && !now.Before(l.Expires)
}

// Remaining returns the time left at now (0 for an infinite lock).
func (l *Lock) Remaining(now time.Time) time.Duration {
	if l.Expires.IsZero() {
		return 0
	}
	d := l.Expires.Sub(now)
	if d < time.Second {
		d = time.Second
	}
	return d
}

// Target is one resource a write request modifies.
type Target struct {
	Path davpath.Path
	// Recursive is set when the whole subtree under Path is modified (DELETE, MOVE source,
	// overwritten COPY/MOVE destination).
	Recursive bool
}

// Submitted is what the request presented: the lock tokens that appear in its If header and the
// authenticated principal.
type Submitted struct {
	Tokens    []string
	Principal string
}

// Has reports whether the token of l was submitted by its own principal.
func (s Submitted) Has(l *Lock) bool {
	if l.Principal != s.Principal {
		return false
	}
	for _, t := range s.Tokens {
		if t == l.Token {
			return true
		}
	}
	return false
}

// Manager grants and checks write locks. Implementations are safe for concurrent use.
//
// Errors: *ConflictError (423 Locked, wrapping ErrLocked), ErrNoSuchLock (409/412 as the method
// says), ErrNotOwner (403), ErrTooManyLocks (503). Anything else is a 500.
type Manager interface {
	// Create grants l (Token and Expires are filled in by the manager from l.Timeout) unless it
	// conflicts with an active lock or with a write in progress (Confirm) inside its scope; it
	// waits for such writes to finish rather than failing.
	Create(ctx context.Context, now time.Time, l Lock) (Lock, error)
	// Refresh restarts the timeout of the lock with token, which must cover p and belong to
	// principal (RFC 4918 §9.10.2).
	Refresh(ctx context.Context, now time.Time, p davpath.Path, token, principal string, timeout time.Duration) (Lock, error)
	// Unlock removes the lock with token, which must cover p (RFC 4918 §9.11: the Request-URI
	// must be within the lock's scope) and belong to principal.
	Unlock(ctx context.Context, now time.Time, p davpath.Path, token, principal string) error
	// Lookup returns the active lock with token.
	Lookup(ctx context.Context, now time.Time, token string) (Lock, bool, error)
	// Discover returns the active locks that cover p (lockdiscovery, RFC 4918 §15.8).
	Discover(ctx context.Context, now time.Time, p davpath.Path) ([]Lock, error)
	// Confirm checks that every active lock affecting one of targets was submitted (a shared
	// lock is also satisfied when another shared lock affecting the same target was), and holds
	// the targets against new locks until release is called: the lock check and the write it
	// guards are one critical section. release must be called exactly once.
	Confirm(ctx context.Context, now time.Time, s Submitted, targets ...Target) (release func(), err error)
	// Drop removes every lock rooted at p or below it, once those resources are gone (DELETE,
	// the source of a MOVE): a lock belongs to its resource and is not moved (RFC 4918 §7,
	// §9.9.4), so it must not wait for a future resource at the same URL. It is called while
	// the request still holds its Confirm.
	Drop(ctx context.Context, now time.Time, p davpath.Path) error
}

// Limits bound what a Manager grants. Every implementation (lock/memlock, the etcd manager)
// takes them, so davd's [limits] keys (the toml tags) mean the same whichever holds the locks.
// Zero fields take the defaults (DefaultLimits).
type Limits struct {
	// MaxLocks bounds the number of active locks; Create beyond it fails with ErrTooManyLocks.
	MaxLocks int `toml:"max_locks"`
	// MaxPerPrincipal bounds the active locks of one principal, the anonymous one included.
	MaxPerPrincipal int `toml:"max_locks_per_user"`
	// MaxTimeout caps granted timeouts, and is what a request for an infinite timeout (Timeout
	// 0) is granted: RFC 4918 §10.7 lets the server choose, and a lock nobody refreshes must
	// not outlive its client forever. A negative MaxTimeout removes the cap, so infinite locks
	// are granted as asked. This is the only cap: the engine passes the requested timeout on.
	MaxTimeout time.Duration `toml:"max_lock_timeout"`
}

// DefaultLimits are the limits zero fields take.
var DefaultLimits = Limits{
	MaxLocks:        10000,
	MaxPerPrincipal: 1000,
	MaxTimeout:      time.Hour,
}

// WithDefaults returns l with its zero fields (and non-positive counts) set to DefaultLimits'.
func (l Limits) WithDefaults() Limits {
	if l.MaxLocks <= 0 {
		l.MaxLocks = DefaultLimits.MaxLocks
	}
	if l.MaxPerPrincipal <= 0 {
		l.MaxPerPrincipal = DefaultLimits.MaxPerPrincipal
	}
	if l.MaxTimeout == 0 {
		l.MaxTimeout = DefaultLimits.MaxTimeout
	}
	return l
}

// Grant returns the timeout to grant for a requested one (0: infinite) under l's cap.
func (l Limits) Grant(requested time.Duration) time.Duration {
	if l.MaxTimeout < 0 {
		return max(requested, 0)
	}
	if requested <= 0 || requested > l.MaxTimeout {
		return l.MaxTimeout
	}
	return requested
}

// What a Manager may offer beyond the interface is declared below, in this file: Counter, found
// through Unwrapper chains, and Persister, the write-through store a Manager may be given.

// Counter is implemented by managers that can tell cheaply how many locks they hold, expired ones
// not yet removed included. When the count is 0 the engine skips what only matters when a lock
// exists: the lockdiscovery lookup of each resource a PROPFIND lists, and the Stat a PUT makes
// to find which locks could cover it. A manager without it is asked every time; that is correct,
// only slower.
//
// LenContext is the count asked during a request: a manager whose count is a round trip to a
// shared store (lock/etcdlock) may answer it from what the request already read
// (storage.WithMemo), or bound the read by the request's deadline. Len is LenContext outside
// any request, kept for callers that have none (metrics).
type Counter interface {
	Len() int
	LenContext(ctx context.Context) int
}

// Unwrapper is implemented by a Manager that wraps another (package scope's view of a sub-tree).
// Capabilities that take no path, Counter so far, are looked up down the chain (Len), so a
// wrapper need not forward them. A capability that takes a path is never looked up this way: it
// would bypass the wrapper's mapping, and the wrapper must forward it itself.
type Unwrapper interface {
	Unwrap() Manager
}

// maxChain bounds the walk down an Unwrap chain.
const maxChain = 16

// Len returns the number of locks m holds, looking through wrappers for a Counter: a wrapper
// that shows a part of a shared table reports the whole table's count, which is 0 only when its
// own part is empty too. ok is false when no manager in the chain counts.
func Len(m Manager) (n int, ok bool) {
	c, ok := counter(m)
	if !ok {
		return 0, false
	}
	return c.Len(), true
}

// LenContext is Len asked during the request of ctx (Counter.LenContext).
func LenContext(ctx context.Context, m Manager) (n int, ok bool) {
	c, ok := counter(m)
	if !ok {
		return 0, false
	}
	return c.LenContext(ctx), true
}

// counter finds the Counter down m's Unwrap chain.
func counter(m Manager) (Counter, bool) {
	for range maxChain {
		if m == nil {
			return nil, false
		}
		if c, ok := m.(Counter); ok {
			return c, true
		}
		u, ok := m.(Unwrapper)
		if !ok {
			return nil, false
		}
		m = u.Unwrap()
	}
	return nil, false
}

// Errors of a Manager.
var (
	ErrLocked       = errors.New("lock: locked")
	ErrNoSuchLock   = errors.New("lock: no such lock")
	ErrNotOwner     = errors.New("lock: lock belongs to another principal")
	ErrTooManyLocks = errors.New("lock: too many locks")
)

// ConflictError is returned by Create and Confirm; Roots are the roots of the conflicting
// locks (for the lock-token-submitted / no-conflicting-lock condition elements, RFC 4918 §16).
type ConflictError struct {
	Roots []davpath.Path
}

func (e *ConflictError) Error() string { return "lock: locked" }

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *ConflictError) Unwrap() error { return ErrLocked }

// Persister keeps a lock table across restarts: an in-memory Manager (lock/memlock) writes every
// change through it, and a persistent store (store/bolt) implements it. It lives in the seam so
// that the store depends only on the seam, not on the manager it serves.
//
// The Manager calls its methods with its own mutex held, so the table and its persisted copy
// never disagree on what was granted; the price is that a slow Persister (an fsync per LOCK)
// delays every other lock operation meanwhile. Confirm writes only when it meets an expired
// lock.
type Persister interface {
	// Load returns every lock stored, expired ones included (the Manager drops and deletes
	// those).
	Load() ([]Lock, error)
	// Put stores l under l.Token, replacing any previous version.
	Put(l Lock) error
	// Delete removes the lock with token; a missing token is not an error.
	Delete(token string) error
}
