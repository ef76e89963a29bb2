// Package etcdlock is the lock.Manager of cluster mode: the lock table lives in etcd, so that
// every davd node grants, checks and removes the same locks.
//
// Each lock is one key, <prefix>l/<root>\x00<token>, whose value is the JSON of the lock, on
// an etcd lease a little longer than its timeout: expiry follows the lock's Expires and the
// caller's now (as in memlock), and the lease only collects what nobody removed. A Create
// reads the table at a revision and writes in one transaction conditioned on no lock key
// having changed since: two nodes granting conflicting locks at once cannot both succeed, and
// the loser checks again. Confirm checks the submitted tokens against the table and, like
// memlock, holds its targets on this node until release, so that a Create on the same node
// waits for the writes it would have prevented.
//
// A Create on one node does not wait for a write another node has confirmed and not
// finished; instead, Confirm leaves a fence in the request's context (cluster.Fence): the
// storage and the property store commit the write only if no lock able to affect it was
// granted since, so a write confirmed before a lock lapsed and another was granted fails with
// 423 rather than landing under someone else's lock, however long its node was paused.
package etcdlock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/storage"
)

var (
	_ lock.Manager = (*Manager)(nil)
	_ lock.Counter = (*Manager)(nil)
)

const (
	retries = 16
	// leaseMargin is added to a lock's timeout for its lease: the lease must not collect a lock
	// before its Expires has passed on any node's clock.
	leaseMargin = time.Minute
)

// Manager is the etcd lock.Manager. It is safe for concurrent use, by any number of nodes.
type Manager struct {
	cli     *clientv3.Client
	pre     string // <prefix>l/
	lim     lock.Limits
	timeout time.Duration

	mu     sync.Mutex
	writes map[uint64][]lock.Target // this node's writes in progress
	nextID uint64
	wake   chan struct{}
}

// New returns the Manager of the locks under prefix (such as "/davd/").
func New(cli *clientv3.Client, prefix string, lim lock.Limits) *Manager {
	return &Manager{cli: cli, pre: cluster.LockPrefix(prefix), lim: lim.WithDefaults(), timeout: 5 * time.Second, writes: map[uint64][]lock.Target{}}
}

// stored is a lock as read from etcd.
type stored struct {
	l   lock.Lock
	key string
	mod int64
}

func (m *Manager) key(l *lock.Lock) string { return m.pre + string(l.Root) + "\x00" + l.Token }

func (m *Manager) unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("etcdlock: %w: %v", storage.ErrUnavailable, err)
}

// table reads every lock at one revision; expired ones are returned apart.
func (m *Manager) table(ctx context.Context, now time.Time) (active, expired []stored, rev int64, err error) {
	cctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	resp, err := m.cli.Get(cctx, m.pre, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, 0, m.unavailable(ctx, err)
	}
	for _, kv := range resp.Kvs {
		var s stored
		l, err := decode(kv.Value)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("etcdlock: %s: %w", kv.Key, err)
		}
		s.l = l
		s.key, s.mod = string(kv.Key), kv.ModRevision
		if s.l.Expired(now) {
			expired = append(expired, s)
		} else {
			active = append(active, s)
		}
	}
	return active, expired, resp.Header.Revision, nil
}

// lease grants the lease of a lock with timeout d (0: none, an infinite lock).
func (m *Manager) lease(ctx context.Context, d time.Duration) (clientv3.LeaseID, error) {
	if d <= 0 {
		return clientv3.NoLease, nil
	}
	cctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	g, err := m.cli.Grant(cctx, int64((d+leaseMargin)/time.Second)+1)
	if err != nil {
		return 0, m.unavailable(ctx, err)
	}
	return g.ID, nil
}

func (m *Manager) revoke(ctx context.Context, id clientv3.LeaseID) {
	if id == clientv3.NoLease {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout)
	defer cancel()
	m.cli.Revoke(cctx, id) // best effort: an unrevoked lease expires by itself
}

// leaseOf is the lease a stored lock's key is attached to.
func (m *Manager) leaseOf(ctx context.Context, key string) clientv3.LeaseID {
	cctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	resp, err := m.cli.Get(cctx, key)
	if err != nil || len(resp.Kvs) == 0 {
		return clientv3.NoLease
	}
	return clientv3.LeaseID(resp.Kvs[0].Lease)
}

// record is a lock's value in etcd: the lock.Lock fields, plus its root as bytes. A lock root
// may hold bytes that are not UTF-8 (davpath allows every name a Unix file system does), which
// encoding/json would replace with U+FFFD in a string; RootBytes is base64 and exact. Root is
// still written, for nodes of the previous version during a rolling upgrade, and is what a
// record they wrote carries alone.
type record struct {
	lock.Lock
	RootBytes []byte `json:",omitempty"`
}

func encode(l lock.Lock) string {
	b, _ := json.Marshal(record{Lock: l, RootBytes: []byte(l.Root)}) // cannot fail: strings, numbers, bytes and a time
	return string(b)
}

func decode(b []byte) (lock.Lock, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return lock.Lock{}, err
	}
	if r.RootBytes != nil {
		r.Root = davpath.Path(r.RootBytes)
	}
	return r.Lock, nil
}

// writeInScope reports whether a write in progress on this node touches the scope of l;
// m.mu must be held.
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

// waitWrites waits until no write in progress on this node touches l's scope.
func (m *Manager) waitWrites(ctx context.Context, l *lock.Lock) error {
	m.mu.Lock()
	for m.writeInScope(l) { // bounded by the writes' own deadlines and by ctx
		if m.wake == nil {
			m.wake = make(chan struct{})
		}
		wake := m.wake
		m.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
		m.mu.Lock()
	}
	m.mu.Unlock()
	return nil
}

// Create implements lock.Manager.
func (m *Manager) Create(ctx context.Context, now time.Time, l lock.Lock) (lock.Lock, error) {
	defer cluster.Forget(ctx) // a count read before the change no longer stands
	if l.Root == "" || (l.Depth != lock.DepthZero && l.Depth != lock.DepthInfinity) {
		return lock.Lock{}, fmt.Errorf("etcdlock: create: invalid lock (root %q, depth %d)", l.Root, l.Depth)
	}
	l.Token = newToken()
	l.Owner = slices.Clone(l.Owner)
	l.Timeout = m.lim.Grant(l.Timeout)
	for range retries {
		if err := ctx.Err(); err != nil {
			return lock.Lock{}, err
		}
		active, expired, rev, err := m.table(ctx, now)
		if err != nil {
			return lock.Lock{}, err
		}
		var roots []davpath.Path
		total, mine := 0, 0
		for _, s := range active {
			if s.l.Conflicts(&l) && !slices.Contains(roots, s.l.Root) {
				roots = append(roots, s.l.Root)
			}
			total++
			if s.l.Principal == l.Principal {
				mine++
			}
		}
		if len(roots) > 0 {
			return lock.Lock{}, &lock.ConflictError{Roots: roots}
		}
		if total >= m.lim.MaxLocks || mine >= m.lim.MaxPerPrincipal {
			return lock.Lock{}, lock.ErrTooManyLocks
		}
		if err := m.waitWrites(ctx, &l); err != nil {
			return lock.Lock{}, err
		}
		l.Expires = time.Time{}
		if l.Timeout > 0 {
			l.Expires = now.Add(l.Timeout)
		}
		id, err := m.lease(ctx, l.Timeout)
		if err != nil {
			return lock.Lock{}, err
		}
		ops := []clientv3.Op{clientv3.OpPut(m.key(&l), encode(l), clientv3.WithLease(id))}
		for _, s := range expired {
			ops = append(ops, clientv3.OpDelete(s.key))
		}
		cctx, cancel := context.WithTimeout(ctx, m.timeout)
		resp, err := m.cli.Txn(cctx).If(clientv3.Compare(clientv3.ModRevision(m.pre), "<", rev+1).WithPrefix()).Then(ops...).Commit()
		cancel()
		if err != nil {
			m.revoke(ctx, id)
			return lock.Lock{}, m.unavailable(ctx, err)
		}
		if resp.Succeeded {
			return l, nil
		}
		m.revoke(ctx, id) // the table changed since it was read: check again
	}
	return lock.Lock{}, fmt.Errorf("etcdlock: %w: %d concurrent lock changes in a row", storage.ErrUnavailable, retries)
}

// owned finds the active lock with token after the checks Refresh and Unlock share.
func (m *Manager) owned(ctx context.Context, now time.Time, p davpath.Path, token, principal string) (stored, error) {
	active, _, _, err := m.table(ctx, now)
	if err != nil {
		return stored{}, err
	}
	for _, s := range active {
		if s.l.Token == token {
			if !s.l.Covers(p) {
				return stored{}, lock.ErrNoSuchLock
			}
			if s.l.Principal != principal {
				return stored{}, lock.ErrNotOwner
			}
			return s, nil
		}
	}
	return stored{}, lock.ErrNoSuchLock
}

// Refresh implements lock.Manager: the lock gets a new lease and Expires.
func (m *Manager) Refresh(ctx context.Context, now time.Time, p davpath.Path, token, principal string, timeout time.Duration) (lock.Lock, error) {
	defer cluster.Forget(ctx) // a count read before the change no longer stands
	for range retries {
		if err := ctx.Err(); err != nil {
			return lock.Lock{}, err
		}
		s, err := m.owned(ctx, now, p, token, principal)
		if err != nil {
			return lock.Lock{}, err
		}
		old := m.leaseOf(ctx, s.key)
		n := s.l
		n.Timeout = m.lim.Grant(timeout)
		n.Expires = time.Time{}
		if n.Timeout > 0 {
			n.Expires = now.Add(n.Timeout)
		}
		id, err := m.lease(ctx, n.Timeout)
		if err != nil {
			return lock.Lock{}, err
		}
		cctx, cancel := context.WithTimeout(ctx, m.timeout)
		resp, err := m.cli.Txn(cctx).If(clientv3.Compare(clientv3.ModRevision(s.key), "=", s.mod)).
			Then(clientv3.OpPut(s.key, encode(n), clientv3.WithLease(id))).Commit()
		cancel()
		if err != nil {
			m.revoke(ctx, id)
			return lock.Lock{}, m.unavailable(ctx, err)
		}
		if resp.Succeeded {
			m.revoke(ctx, old)
			return n, nil
		}
		m.revoke(ctx, id)
	}
	return lock.Lock{}, fmt.Errorf("etcdlock: %w: %d concurrent lock changes in a row", storage.ErrUnavailable, retries)
}

// Unlock implements lock.Manager.
func (m *Manager) Unlock(ctx context.Context, now time.Time, p davpath.Path, token, principal string) error {
	defer cluster.Forget(ctx) // a count read before the change no longer stands
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := m.owned(ctx, now, p, token, principal)
	if err != nil {
		return err
	}
	old := m.leaseOf(ctx, s.key)
	cctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if _, err := m.cli.Delete(cctx, s.key); err != nil {
		return m.unavailable(ctx, err)
	}
	m.revoke(ctx, old)
	return nil
}

// Drop implements lock.Manager: the locks rooted at p or below it are deleted.
func (m *Manager) Drop(ctx context.Context, now time.Time, p davpath.Path) error {
	defer cluster.Forget(ctx) // a count read before the change no longer stands
	if err := ctx.Err(); err != nil {
		return err
	}
	prefixes := []string{m.pre + string(p) + "\x00", m.pre + string(p) + "/"}
	if p.IsRoot() {
		prefixes = []string{m.pre}
	}
	var ops []clientv3.Op
	for _, pr := range prefixes {
		ops = append(ops, clientv3.OpDelete(pr, clientv3.WithPrefix()))
	}
	cctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if _, err := m.cli.Txn(cctx).Then(ops...).Commit(); err != nil {
		return m.unavailable(ctx, err)
	}
	return nil
}

// Lookup implements lock.Manager.
func (m *Manager) Lookup(ctx context.Context, now time.Time, token string) (lock.Lock, bool, error) {
	if err := ctx.Err(); err != nil {
		return lock.Lock{}, false, err
	}
	active, _, _, err := m.table(ctx, now)
	if err != nil {
		return lock.Lock{}, false, err
	}
	for _, s := range active {
		if s.l.Token == token {
			return s.l, true, nil
		}
	}
	return lock.Lock{}, false, nil
}

// Discover implements lock.Manager.
func (m *Manager) Discover(ctx context.Context, now time.Time, p davpath.Path) ([]lock.Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	active, _, _, err := m.table(ctx, now)
	if err != nil {
		return nil, err
	}
	var out []lock.Lock
	for _, s := range active {
		if s.l.Covers(p) {
			out = append(out, s.l)
		}
	}
	return out, nil
}

// Confirm implements lock.Manager.
func (m *Manager) Confirm(ctx context.Context, now time.Time, sub lock.Submitted, targets ...lock.Target) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rev int64
	if s, ok := cluster.SnapshotOf(ctx); ok && s.LockPrefix == m.pre && s.Locks == 0 {
		// The request's first read found no lock key at all (cluster.Snapshot): nothing to
		// check, and the fence stands for that read's revision. Any lock the commit could meet
		// was written after it, so the fence fails on it and Renew reads the table.
		rev = s.Rev
	} else {
		active, _, r, err := m.table(ctx, now)
		if err != nil {
			return nil, err
		}
		if err := conflicts(active, sub, targets); err != nil {
			return nil, err
		}
		rev = r
	}
	lock.SetFence(ctx, &fence{m: m, rev: rev, now: now, at: time.Now(), sub: sub, targets: slices.Clone(targets)})
	m.mu.Lock()
	m.nextID++
	id := m.nextID
	m.writes[id] = slices.Clone(targets)
	m.mu.Unlock()
	return func() { m.release(id) }, nil
}

// conflicts is the *lock.ConflictError of the active locks that affect one of targets and
// that sub does not answer, or nil.
func conflicts(active []stored, sub lock.Submitted, targets []lock.Target) error {
	var roots []davpath.Path
	for _, t := range targets {
		var affecting []*lock.Lock
		for i := range active {
			if active[i].l.Affects(t) {
				affecting = append(affecting, &active[i].l)
			}
		}
		for _, l := range affecting {
			if !satisfied(l, affecting, sub) && !slices.Contains(roots, l.Root) {
				roots = append(roots, l.Root)
			}
		}
	}
	if len(roots) > 0 {
		return &lock.ConflictError{Roots: roots}
	}
	return nil
}

// fence is the cluster.Fence of a confirmed write: the lock keys that could affect its
// targets are those rooted at a target or one of its ancestors, and, for a recursive target,
// those inside it; none of them may have been written after rev. A lock that lapsed and was
// removed does not fail the fence (the write is then no longer under it, and nothing else
// is); one granted or refreshed since does, and Renew then confirms the write again.
type fence struct {
	m       *Manager
	rev     int64
	now     time.Time // the request's now at Confirm, and the moment it was taken
	at      time.Time
	sub     lock.Submitted
	targets []lock.Target
}

var _ cluster.Fence = (*fence)(nil)

// Conds implements cluster.Fence.
func (f *fence) Conds() []clientv3.Cmp {
	var prefixes []string
	add := func(p string) {
		if !slices.Contains(prefixes, p) {
			prefixes = append(prefixes, p)
		}
	}
	for _, t := range f.targets {
		for a := t.Path; ; a = a.Parent() { // bounded by the depth of the path
			add(f.m.pre + string(a) + "\x00")
			if a.IsRoot() {
				break
			}
		}
		if t.Recursive {
			if t.Path.IsRoot() {
				add(f.m.pre)
			} else {
				add(f.m.pre + string(t.Path) + "/")
			}
		}
	}
	cs := make([]clientv3.Cmp, len(prefixes))
	for i, p := range prefixes {
		cs[i] = clientv3.Compare(clientv3.ModRevision(p), "<", f.rev+1).WithPrefix()
	}
	return cs
}

// Renew implements cluster.Fence: the table is read again, at the request's clock advanced by
// the time spent since Confirm (a node that was paused sees the locks that lapsed meanwhile
// as lapsed, and the ones granted meanwhile as active).
func (f *fence) Renew(ctx context.Context) error {
	now := f.now.Add(time.Since(f.at))
	active, _, rev, err := f.m.table(ctx, now)
	if err != nil {
		return err
	}
	if err := conflicts(active, f.sub, f.targets); err != nil {
		return err
	}
	f.rev = rev
	return nil
}

// satisfied: as in memlock, a lock is answered by its own token, or, for a shared lock, by the
// token of another shared lock affecting the same target (RFC 4918 §6.1).
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

// Len implements lock.Counter: LenContext without a request.
func (m *Manager) Len() int { return m.LenContext(context.Background()) }

// LenContext implements lock.Counter: the number of lock keys in etcd now, expired ones not
// yet removed included. It is one count-only read (a round trip, no lock is transferred), not
// a count kept from this node's last read of the table: a lock granted through another node
// must show in this node's next lockdiscovery. In a request whose memo (storage.WithMemo)
// holds a count of this table made by the request's first read (the storage counts it in the
// transaction that resolves the target), that count is the answer, with no round trip: the
// read came after the request began, so a lock granted before, through any node, is in it.
// A count read here is left in the memo in turn. When etcd does not answer, LenContext
// reports one lock, so that the engine takes the path that checks.
func (m *Manager) LenContext(ctx context.Context) int {
	if s, ok := cluster.SnapshotOf(ctx); ok && s.LockPrefix == m.pre {
		return int(s.Locks)
	}
	cctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	resp, err := m.cli.Get(cctx, m.pre, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 1
	}
	cluster.Remember(ctx, cluster.Snapshot{Rev: resp.Header.Revision, LockPrefix: m.pre, Locks: resp.Count})
	return int(resp.Count)
}

// newToken returns a new lock token, a "urn:uuid:" URI of a random (version 4) UUID (RFC 4918
// section 6.5 asks for tokens unique across all resources for all time).
func newToken() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
