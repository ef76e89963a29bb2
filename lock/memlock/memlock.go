package memlock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
)

// Options configure a Manager. The zero value is usable.
type Options struct {
	// Limits bound the table and the granted timeouts (lock.DefaultLimits for zero fields).
	lock.Limits
	// Persist, when set, receives every change before it is visible (write-through), and New
	// loads the table from it.
	Persist lock.Persister
	// Now is the clock New uses to drop expired locks while loading (default time.Now). The
	// methods take their own now.
	Now func() time.Time
}

// Manager is the lock.Manager implementation. It is safe for concurrent use.
type Manager struct {
	lim     lock.Limits
	persist lock.Persister

	mu      sync.Mutex
	byToken map[string]*lock.Lock
	byRoot  map[davpath.Path][]*lock.Lock
	// roots is the sorted set of keys of byRoot, for the subtree query of recursive targets.
	roots        []davpath.Path
	perPrincipal map[string]int

	// writes holds the targets of the writes in progress (Confirm until release), by id.
	writes map[uint64][]lock.Target
	nextID uint64
	// wake, when not nil, is closed (and reset) at the next release: Create waits on it.
	wake chan struct{}
}

// Compile-time checks of the seam and its capabilities.
var (
	_ lock.Manager = (*Manager)(nil)
	_ lock.Counter = (*Manager)(nil)
)

// New returns a Manager, loading the locks of opt.Persist if set.
func New(opt Options) (*Manager, error) {
	m := &Manager{
		lim:          opt.Limits.WithDefaults(),
		persist:      opt.Persist,
		byToken:      make(map[string]*lock.Lock),
		byRoot:       make(map[davpath.Path][]*lock.Lock),
		perPrincipal: make(map[string]int),
		writes:       make(map[uint64][]lock.Target),
	}
	if m.persist == nil {
		return m, nil
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	locks, err := m.persist.Load()
	if err != nil {
		return nil, fmt.Errorf("memlock: load: %w", err)
	}
	t := now()
	for _, l := range locks {
		if l.Expired(t) {
			if err := m.persist.Delete(l.Token); err != nil {
				return nil, fmt.Errorf("memlock: drop expired lock: %w", err)
			}
			continue
		}
		if _, dup := m.byToken[l.Token]; dup || l.Token == "" || l.Root == "" {
			continue
		}
		m.insert(&l)
	}
	return m, nil
}

// NewToken returns a fresh lock token: "urn:uuid:" and a random (version 4) UUID, RFC 4918
// §6.5 and RFC 4122 §4.4.
func NewToken() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (it panics on a broken system).
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return "urn:uuid:" + string(b[:])
}

func expiry(now time.Time, timeout time.Duration) time.Time {
	if timeout == 0 {
		return time.Time{}
	}
	return now.Add(timeout)
}

// Create implements lock.Manager.
func (m *Manager) Create(ctx context.Context, now time.Time, l lock.Lock) (lock.Lock, error) {
	if l.Root == "" || (l.Depth != lock.DepthZero && l.Depth != lock.DepthInfinity) {
		return lock.Lock{}, fmt.Errorf("memlock: create: invalid lock (root %q, depth %d)", l.Root, l.Depth)
	}
	l.Token = NewToken()
	l.Owner = slices.Clone(l.Owner)
	l.Timeout = m.lim.Grant(l.Timeout)
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return lock.Lock{}, err
		}
		if roots := m.conflicts(now, &l); len(roots) > 0 {
			return lock.Lock{}, &lock.ConflictError{Roots: roots}
		}
		if !m.writeInScope(&l) {
			break
		}
		// A write confirmed before this LOCK is still running inside its scope: wait for it
		// (and any other) to be released, then check everything again.
		if m.wake == nil {
			m.wake = make(chan struct{})
		}
		wake := m.wake
		m.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
		}
		m.mu.Lock()
	}
	if len(m.byToken) >= m.lim.MaxLocks || m.perPrincipal[l.Principal] >= m.lim.MaxPerPrincipal {
		m.sweep(now)
		if len(m.byToken) >= m.lim.MaxLocks || m.perPrincipal[l.Principal] >= m.lim.MaxPerPrincipal {
			return lock.Lock{}, lock.ErrTooManyLocks
		}
	}
	// The expiry is computed after any wait, from the now the caller gave: a LOCK that waited
	// is granted its timeout from the time of the request, which errs on the short side.
	l.Expires = expiry(now, l.Timeout)
	if m.persist != nil {
		if err := m.persist.Put(l); err != nil {
			return lock.Lock{}, fmt.Errorf("memlock: persist lock: %w", err)
		}
	}
	m.insert(&l)
	return l, nil
}

// conflicts returns the roots of the active locks that l conflicts with (RFC 4918 §6.1, §9.10.5),
// removing expired locks it meets.
func (m *Manager) conflicts(now time.Time, l *lock.Lock) []davpath.Path {
	var roots []davpath.Path
	add := func(o *lock.Lock) {
		if o.Conflicts(l) && !slices.Contains(roots, o.Root) {
			roots = append(roots, o.Root)
		}
	}
	// Locks at the root and above it; those above conflict only with depth infinity, which
	// Conflicts decides.
	m.ancestors(now, l.Root, add)
	if l.Depth == lock.DepthInfinity {
		m.below(now, l.Root, add)
	}
	return roots
}

// ancestors calls f for each active lock rooted at p or at an ancestor of p.
func (m *Manager) ancestors(now time.Time, p davpath.Path, f func(*lock.Lock)) {
	for {
		if ls := m.byRoot[p]; len(ls) > 0 {
			m.each(now, p, f)
		}
		if p.IsRoot() {
			return
		}
		p = p.Parent()
	}
}

// below calls f for each active lock rooted strictly below p.
func (m *Manager) below(now time.Time, p davpath.Path, f func(*lock.Lock)) {
	var lo, hi int
	if p.IsRoot() {
		lo, hi = 0, len(m.roots)
	} else {
		prefix := string(p) + "/"
		lo, _ = slices.BinarySearch(m.roots, davpath.Path(prefix))
		hi = lo
		for hi < len(m.roots) && strings.HasPrefix(string(m.roots[hi]), prefix) {
			hi++
		}
	}
	// Copy the range: each may remove expired locks and so change m.roots.
	for _, r := range slices.Clone(m.roots[lo:hi]) {
		if r != p {
			m.each(now, r, f)
		}
	}
}

// each calls f for each active lock rooted at p, removing the expired ones.
func (m *Manager) each(now time.Time, p davpath.Path, f func(*lock.Lock)) {
	ls := m.byRoot[p]
	for i := 0; i < len(ls); i++ {
		if l := ls[i]; l.Expired(now) {
			m.expire(l)
			ls = m.byRoot[p]
			i--
			continue
		}
		f(ls[i])
	}
}

// writeInScope reports whether a write in progress touches the scope of l.
func (m *Manager) writeInScope(l *lock.Lock) bool {
	for _, ts := range m.writes {
		for _, t := range ts {
			if l.Affects(t) {
				return true
			}
		}
	}
	return false
}

// insert adds l to the indexes.
func (m *Manager) insert(l *lock.Lock) {
	m.byToken[l.Token] = l
	ls, ok := m.byRoot[l.Root]
	if !ok {
		i, _ := slices.BinarySearch(m.roots, l.Root)
		m.roots = slices.Insert(m.roots, i, l.Root)
	}
	m.byRoot[l.Root] = append(ls, l)
	m.perPrincipal[l.Principal]++
}

// remove deletes l from the indexes.
func (m *Manager) remove(l *lock.Lock) {
	delete(m.byToken, l.Token)
	ls := slices.DeleteFunc(m.byRoot[l.Root], func(o *lock.Lock) bool { return o == l })
	if len(ls) == 0 {
		delete(m.byRoot, l.Root)
		if i, ok := slices.BinarySearch(m.roots, l.Root); ok {
			m.roots = slices.Delete(m.roots, i, i+1)
		}
	} else {
		m.byRoot[l.Root] = ls
	}
	if m.perPrincipal[l.Principal]--; m.perPrincipal[l.Principal] <= 0 {
		delete(m.perPrincipal, l.Principal)
	}
}

// expire removes a lapsed lock. A failure to delete it from the Persister is ignored: it is
// expired there too, and New drops it on the next load.
func (m *Manager) expire(l *lock.Lock) {
	m.remove(l)
	if m.persist != nil {
		_ = m.persist.Delete(l.Token)
	}
}

// sweep removes every expired lock.
func (m *Manager) sweep(now time.Time) {
	for _, l := range m.byToken {
		if l.Expired(now) {
			m.expire(l)
		}
	}
}

// active returns the unexpired lock with token, removing it if it has expired.
func (m *Manager) active(now time.Time, token string) *lock.Lock {
	l := m.byToken[token]
	if l != nil && l.Expired(now) {
		m.expire(l)
		return nil
	}
	return l
}

// owned returns the active lock with token after the checks Refresh and Unlock share: it must
// exist and cover p (RFC 4918 §9.10.2, §9.11), and belong to principal.
func (m *Manager) owned(now time.Time, p davpath.Path, token, principal string) (*lock.Lock, error) {
	l := m.active(now, token)
	if l == nil || !l.Covers(p) {
		return nil, lock.ErrNoSuchLock
	}
	if l.Principal != principal {
		return nil, lock.ErrNotOwner
	}
	return l, nil
}

// Refresh implements lock.Manager.
func (m *Manager) Refresh(ctx context.Context, now time.Time, p davpath.Path, token, principal string, timeout time.Duration) (lock.Lock, error) {
	if err := ctx.Err(); err != nil {
		return lock.Lock{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.owned(now, p, token, principal)
	if err != nil {
		return lock.Lock{}, err
	}
	n := *l
	n.Timeout = m.lim.Grant(timeout)
	n.Expires = expiry(now, n.Timeout)
	if m.persist != nil {
		if err := m.persist.Put(n); err != nil {
			return lock.Lock{}, fmt.Errorf("memlock: persist refresh: %w", err)
		}
	}
	*l = n
	return n, nil
}

// Unlock implements lock.Manager.
func (m *Manager) Unlock(ctx context.Context, now time.Time, p davpath.Path, token, principal string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.owned(now, p, token, principal)
	if err != nil {
		return err
	}
	if m.persist != nil {
		if err := m.persist.Delete(token); err != nil {
			return fmt.Errorf("memlock: persist unlock: %w", err)
		}
	}
	m.remove(l)
	return nil
}

// Drop implements lock.Manager.
func (m *Manager) Drop(ctx context.Context, now time.Time, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var gone []*lock.Lock
	collect := func(l *lock.Lock) { gone = append(gone, l) }
	m.each(now, p, collect)
	m.below(now, p, collect)
	for _, l := range gone {
		if m.persist != nil {
			if err := m.persist.Delete(l.Token); err != nil {
				return fmt.Errorf("memlock: persist drop: %w", err)
			}
		}
		m.remove(l)
	}
	return nil
}

// Lookup implements lock.Manager.
func (m *Manager) Lookup(ctx context.Context, now time.Time, token string) (lock.Lock, bool, error) {
	if err := ctx.Err(); err != nil {
		return lock.Lock{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.active(now, token); l != nil {
		return *l, true, nil
	}
	return lock.Lock{}, false, nil
}

// Discover implements lock.Manager. The locks are returned in no particular order; their Owner
// slices are shared with the manager and must not be modified.
func (m *Manager) Discover(ctx context.Context, now time.Time, p davpath.Path) ([]lock.Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []lock.Lock
	if len(m.byToken) == 0 {
		return nil, nil
	}
	m.ancestors(now, p, func(l *lock.Lock) {
		if l.Covers(p) {
			out = append(out, *l)
		}
	})
	return out, nil
}

// Confirm implements lock.Manager. The returned release may be called more than once; calls
// after the first do nothing.
func (m *Manager) Confirm(ctx context.Context, now time.Time, s lock.Submitted, targets ...lock.Target) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.byToken) > 0 {
		var roots []davpath.Path
		var affecting []*lock.Lock
		for _, t := range targets {
			affecting = affecting[:0]
			collect := func(l *lock.Lock) {
				if l.Affects(t) {
					affecting = append(affecting, l)
				}
			}
			m.ancestors(now, t.Path, collect)
			if t.Recursive {
				m.below(now, t.Path, collect)
			}
			for _, l := range affecting {
				if !satisfied(l, affecting, s) && !slices.Contains(roots, l.Root) {
					roots = append(roots, l.Root)
				}
			}
		}
		if len(roots) > 0 {
			return nil, &lock.ConflictError{Roots: roots}
		}
	}
	m.nextID++
	id := m.nextID
	m.writes[id] = slices.Clone(targets)
	return func() { m.release(id) }, nil
}

// satisfied reports whether the lock l affecting a target is answered by s: its own token was
// submitted, or, for a shared lock, the token of another shared lock affecting the same target
// (RFC 4918 §6.1: a shared lock is held by a group of principals who each may write).
func satisfied(l *lock.Lock, affecting []*lock.Lock, s lock.Submitted) bool {
	if s.Has(l) {
		return true
	}
	if !l.Shared {
		return false
	}
	for _, o := range affecting {
		if o.Shared && o != l && s.Has(o) {
			return true
		}
	}
	return false
}

// release ends the write in progress id and wakes the LOCK requests waiting for it.
func (m *Manager) release(id uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.writes[id]; !ok {
		return
	}
	delete(m.writes, id)
	if m.wake != nil {
		close(m.wake)
		m.wake = nil
	}
}

// Len implements lock.Counter: the number of locks in the table, expired ones not yet removed
// included.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byToken)
}

// LenContext implements lock.Counter: Len, which costs no round trip to memoise.
func (m *Manager) LenContext(context.Context) int { return m.Len() }
