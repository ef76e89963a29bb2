// Package clusterfs is the storage.Backend of cluster mode: the namespace lives in etcd, the
// contents in an S3 bucket, so that any number of davd nodes serve the same tree.
//
// # Layout
//
// Every resource has an entry in etcd at <prefix>n/<parent id>/<name>, whose value (JSON)
// holds its own id, whether it is a collection, its size, ETag, times and, for a non-empty
// content, the name of its S3 object ("b/<random id>"). The root is the collection with id
// "r" (its entry, for its times, is <prefix>root). A collection's members are therefore one
// key range, listed in name order by etcd itself, and a rename of a collection is one key
// deleted and one written whatever the size of the tree: its members hang from its id, which
// the rename keeps.
//
// # Atomicity
//
// Every change is one etcd transaction whose conditions are the revisions read while the
// path was resolved: every ancestor entry unchanged (so the path still leads where it led),
// the target unchanged or still absent, and for an empty collection no member created since.
// A transaction whose conditions fail is retried from a fresh resolution (a bounded number of
// times); one that succeeds is the whole change, seen by every node at once.
//
// # Contents
//
// An S3 object is written once and never overwritten: a PUT uploads a new object, then swaps
// it into the entry in one transaction, which also records that an entry refers to it
// (<prefix>o/<object>): a PUT is one S3 upload and one etcd transaction, after one read that
// resolves the path. Readers of the old content keep reading it: the replaced object is not
// deleted at once but handed to the collector (<prefix>g/<object>, with the time, in the same
// transaction) and deleted after a grace period. An object that no entry refers to and the
// collector does not hold (its node died between the upload and the commit, or lost etcd) is
// deleted by the sweep once older than the grace period; a mark the sweep sets before it
// deletes (<prefix>x/<object>) makes a late commit of that object fail instead of pointing at
// a missing object.
//
// # Failures
//
// An etcd or S3 call that fails for a reason other than the request's own cancellation is
// storage.ErrUnavailable (503 with Retry-After): nothing was changed, or what was uploaded is
// garbage the collector removes.
package clusterfs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// Compile-time guards: FS implements the Backend and these fast paths.
var (
	_ storage.Backend     = (*FS)(nil)
	_ storage.Renamer     = (*FS)(nil)
	_ storage.Copier      = (*FS)(nil)
	_ storage.TreeRemover = (*FS)(nil)
	_ storage.MtimeSetter = (*FS)(nil)

	_ storage.ListVersioner = (*FS)(nil)
)

const (
	rootID = "r"
	// retries bounds the attempts of one change whose transaction lost a race.
	retries = 16
	// listPage is how many members one etcd range read of a listing returns.
	listPage = 1000
	// txnOps bounds the operations of one transaction (etcd's --max-txn-ops is 128).
	txnOps = 100
	// partSize is the S3 multipart part size for uploads of unknown length.
	partSize = 16 << 20
)

// Options tune an FS.
type Options struct {
	// Grace is how long a replaced or uncommitted S3 object is kept before the collector
	// deletes it: longer than any read of an old version or any upload. Default 15 minutes.
	Grace time.Duration
	// Now is the clock of the collector (tests); default time.Now.
	Now func() time.Time
}

// FS is the cluster storage.Backend. It is safe for concurrent use, by any number of nodes.
type FS struct {
	c     *cluster.Conn
	n     string // <prefix>n/
	g     string // <prefix>g/
	j     string // <prefix>j/
	o     string // <prefix>o/: the objects entries refer to
	x     string // <prefix>x/: the objects the sweep is deleting
	root  string // <prefix>root, or <prefix>root.NAME for a Tree
	rid   string // the root entry's id: rootID, or rootID.NAME for a Tree
	locks string // the lock table's prefix (cluster.LockPrefix), counted for the memo
	grace time.Duration
	now   func() time.Time
	base  davpath.Path // the root of this view of the tree (Sub)
	dirs  *dirCache    // shared by every view
	reads *reads       // shared by every view
}

// dirCache remembers the refs of the collections met on the way to resolved paths, keyed by
// their path in the whole tree, so that resolving a path is one round trip instead of one per
// segment. A cached ref is never trusted alone: resolve reads the target in a transaction
// whose compares are the cached ancestors' revisions, and falls back to the walk when any of
// them changed, so what it returns is what a walk at that revision would have found.
type dirCache struct {
	mu sync.Mutex
	m  map[davpath.Path]ref
}

// dirCacheMax bounds the cache; when full it is emptied (it refills as paths are resolved).
const dirCacheMax = 10000

func (c *dirCache) put(p davpath.Path, r ref) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= dirCacheMax {
		clear(c.m)
	}
	c.m[p] = r
}

// forget drops p: a change this node made to it, so the next resolve need not find out.
func (c *dirCache) forget(ps ...davpath.Path) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		delete(c.m, p)
	}
}

// ancestors returns the cached refs of the collections on the way to p (p's parent last),
// all or nothing.
func (c *dirCache) ancestors(segs []string) ([]ref, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ref, 0, len(segs))
	cur := davpath.Root
	for _, seg := range segs {
		cur = cur.Join(seg)
		r, ok := c.m[cur]
		if !ok {
			return nil, false
		}
		out = append(out, r)
	}
	return out, true
}

// Sub returns the view of f whose root is the collection base (a user's scope): every path
// given to it is taken below base. The collector is f's, shared by every view.
func (f *FS) Sub(base davpath.Path) *FS {
	g := *f
	g.base = f.abs(base)
	return &g
}

// abs is the path of the whole tree that p names in this view.
func (f *FS) abs(p davpath.Path) davpath.Path {
	if f.base == "" || f.base.IsRoot() {
		return p
	}
	if p.IsRoot() {
		return f.base
	}
	return f.base + p
}

// New returns the FS of the cluster c, creating the root's entry when it does not exist yet.
func New(ctx context.Context, c *cluster.Conn, o Options) (*FS, error) {
	if o.Grace <= 0 {
		o.Grace = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f := &FS{base: davpath.Root, dirs: &dirCache{m: map[davpath.Path]ref{}}, reads: &reads{m: map[davpath.Path]*pathReads{}}, c: c, n: c.Prefix + "n/", g: c.Prefix + "g/", j: c.Prefix + "j/", o: c.Prefix + "o/", x: c.Prefix + "x/", root: c.Prefix + "root", rid: rootID, locks: cluster.LockPrefix(c.Prefix), grace: o.Grace, now: o.Now}
	return f, f.makeRoot(ctx)
}

// makeRoot creates f's root entry unless it exists.
func (f *FS) makeRoot(ctx context.Context) error {
	t := now()
	e := entry{ID: f.rid, Dir: true, ETag: newETag(), MTime: t, Created: t}
	cctx, cancel := f.call(ctx)
	defer cancel()
	_, err := f.c.Etcd.Txn(cctx).If(clientv3.Compare(clientv3.CreateRevision(f.root), "=", 0)).Then(clientv3.OpPut(f.root, e.encode())).Commit()
	if err != nil {
		return fmt.Errorf("clusterfs: creating the root: %w", f.unavailable(ctx, err))
	}
	return nil
}

// Tree returns a second namespace of the cluster, named name, apart from the served tree: its
// own root (<prefix>root.NAME, whose id no entry of another tree can have, since theirs are
// random), entries, cache and listing version, sharing the objects, the collector and the
// journal with f, so every guarantee of the FS holds in it and nothing in it is ever seen
// through f. davd keeps the Nextcloud chunked uploads there: any node can take any chunk.
func (f *FS) Tree(ctx context.Context, name string) (*FS, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("clusterfs: bad tree name %q", name)
	}
	g := *f
	g.base = davpath.Root
	g.dirs = &dirCache{m: map[davpath.Path]ref{}}
	g.reads = &reads{m: map[davpath.Path]*pathReads{}} // keyed by path, like dirs: per tree
	g.root = f.c.Prefix + "root." + name
	g.rid = rootID + "." + name
	return &g, g.makeRoot(ctx)
}

// entry is the value of a resource's key.
type entry struct {
	ID      string    `json:"id"`
	Dir     bool      `json:"dir,omitempty"`
	Size    int64     `json:"size,omitempty"`
	ETag    string    `json:"etag"`
	MTime   time.Time `json:"mtime"`
	Created time.Time `json:"created"`
	Blob    string    `json:"blob,omitempty"`
}

func (e entry) encode() string {
	b, _ := json.Marshal(e) // cannot fail: strings, numbers and times
	return string(b)
}

func (e entry) info(name string) storage.Info {
	return storage.Info{Name: name, Size: e.Size, ModTime: e.MTime, Created: e.Created, IsDir: e.Dir, ETag: e.ETag}
}

// ref is a resolved resource: its key, entry and the revision the entry was last written at
// (0: absent).
type ref struct {
	key string
	e   entry
	mod int64
}

func (r ref) exists() bool { return r.mod != 0 }

// unchanged is the transaction condition that r is as it was read.
func (r ref) unchanged() clientv3.Cmp {
	if r.key == "" {
		return clientv3.Compare(clientv3.CreateRevision("\x00"), "=", 0) // the root: always true
	}
	if r.mod == 0 {
		return clientv3.Compare(clientv3.CreateRevision(r.key), "=", 0)
	}
	return clientv3.Compare(clientv3.ModRevision(r.key), "=", r.mod)
}

func now() time.Time { return time.Now().Round(0).UTC() }

func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newETag() string { return `"c` + randomID() + `"` }

func fail(op string, p davpath.Path, err error) error {
	return fmt.Errorf("clusterfs: %s %s: %w", op, p, err)
}

// call bounds one call to etcd or S3.
func (f *FS) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.c.Timeout)
}

// unavailable turns a failed call into the request's own cancellation, or ErrUnavailable.
func (f *FS) unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %v", storage.ErrUnavailable, err)
}

func (f *FS) childKey(parentID, name string) string { return f.n + parentID + "/" + name }

func (f *FS) membersPrefix(id string) string { return f.n + id + "/" }

// resolved is a path resolved at one revision: the chain of its ancestors (the root first)
// and the resource itself.
type resolved struct {
	rev   int64
	chain []ref // chain[0] is the root; the last is the resource (absent: mod 0)
}

func (r *resolved) target() ref { return r.chain[len(r.chain)-1] }

// ancestors are the conditions that every ancestor of the target is as it was read.
func (r *resolved) ancestors() []clientv3.Cmp {
	var cs []clientv3.Cmp
	if len(r.chain) < 2 {
		return nil // the root
	}
	for _, a := range r.chain[1 : len(r.chain)-1] {
		cs = append(cs, a.unchanged())
	}
	return cs
}

// resolve walks p from the root at one revision (rev 0: the current one). The target may be
// absent (its ref has mod 0 and the key it would have); a missing or non-collection ancestor is
// storage.ErrParentMissing (fs.ErrNotExist when more than the parent is missing).
func (f *FS) resolve(ctx context.Context, p davpath.Path, rev int64) (*resolved, error) {
	if rev == 0 {
		if r, ok, err := f.resolveCached(ctx, p); err != nil || ok {
			return r, err
		}
	}
	cctx, cancel := f.call(ctx)
	defer cancel()
	opts := func() []clientv3.OpOption {
		if rev > 0 {
			return []clientv3.OpOption{clientv3.WithRev(rev)}
		}
		return nil
	}
	var rootKvs []*mvccpb.KeyValue
	if rev == 0 && cluster.WantSnapshot(ctx) {
		// The request's first read: the lock table is counted in the same round trip, for the
		// memo (see snapshot).
		resp, err := f.c.Etcd.Txn(cctx).Then(clientv3.OpGet(f.root), f.countLocks()).Commit()
		if err != nil {
			return nil, f.unavailable(ctx, err)
		}
		rev = resp.Header.Revision
		rootKvs = resp.Responses[0].GetResponseRange().GetKvs()
		f.snapshot(ctx, rev, resp.Responses[1].GetResponseRange())
	} else {
		resp, err := f.c.Etcd.Get(cctx, f.root, opts()...)
		if err != nil {
			return nil, f.unavailable(ctx, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		rootKvs = resp.Kvs
	}
	r := &resolved{rev: rev}
	r.chain = append(r.chain, f.rootRef(rootKvs))
	segs := f.abs(p).Segments()
	for i, seg := range segs {
		cur := r.chain[len(r.chain)-1]
		if !cur.exists() && cur.key != "" || !cur.e.Dir {
			if i == len(segs)-1 {
				return r, storage.ErrParentMissing
			}
			return r, fs.ErrNotExist
		}
		key := f.childKey(cur.e.ID, seg)
		resp, err := f.c.Etcd.Get(cctx, key, clientv3.WithRev(rev))
		if err != nil {
			return nil, f.unavailable(ctx, err)
		}
		next, err := readRef(key, resp.Kvs)
		if err != nil {
			return nil, err
		}
		if next.exists() && next.e.Dir {
			f.dirs.put(pathOf(segs[:i+1]), next)
		}
		r.chain = append(r.chain, next)
	}
	return r, nil
}

// pathOf is the path of segments from the root.
func pathOf(segs []string) davpath.Path {
	p := davpath.Root
	for _, s := range segs {
		p = p.Join(s)
	}
	return p
}

// rootRef is the root's ref from the read of its key (its times; an absent or unreadable key
// still gives the root).
func (f *FS) rootRef(kvs []*mvccpb.KeyValue) ref {
	root := ref{e: entry{ID: f.rid, Dir: true}}
	if len(kvs) == 1 {
		json.Unmarshal(kvs[0].Value, &root.e)
		root.e.ID, root.e.Dir = f.rid, true
	}
	return root
}

// readRef is the ref of key from the result of reading it.
func readRef(key string, kvs []*mvccpb.KeyValue) (ref, error) {
	r := ref{key: key}
	if len(kvs) == 1 {
		if err := json.Unmarshal(kvs[0].Value, &r.e); err != nil {
			return ref{}, fmt.Errorf("clusterfs: entry %s: %w", key, err)
		}
		r.mod = kvs[0].ModRevision
	}
	return r, nil
}

// resolveCached resolves p in one transaction when the collections on its way are cached: it
// reads the target on the condition that every cached ancestor is unchanged. ok is false when
// they are not all cached or one changed (the walk then resolves p). The root's entry is not
// read: p is not the root, and of the root only its id (and that it is a collection) is used
// as an ancestor.
//
// The first read of a request with a memo (a PROPFIND, see cluster.Snapshot) also counts the
// lock table, and is shared: requests for the same path that arrive while such a read is in
// flight wait for it to end and share the next one (see reads). Every request is answered by a
// read that began after it arrived, which is all that linearizability asks of a read, so a
// change acknowledged before the request began, through any node, is in its answer.
func (f *FS) resolveCached(ctx context.Context, p davpath.Path) (*resolved, bool, error) {
	if !cluster.WantSnapshot(ctx) {
		c := f.readCached(ctx, p, false)
		return c.r, c.ok, c.err
	}
	c, err := f.reads.do(ctx, f.abs(p), func(rctx context.Context) cachedRead { return f.readCached(rctx, p, true) })
	if err != nil {
		return nil, false, err
	}
	if c.err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, c.err
	}
	if !c.ok {
		return nil, false, nil
	}
	cluster.Remember(ctx, c.snap)
	// Each request gets its own copy: callers may extend the chain.
	return &resolved{rev: c.r.rev, chain: slices.Clone(c.r.chain)}, true, nil
}

// cachedRead is the outcome of readCached.
type cachedRead struct {
	r    *resolved
	snap cluster.Snapshot // with count: the revision and the lock count of the read
	ok   bool
	err  error
}

// readCached is the transaction of resolveCached; with count, it also counts the lock table.
func (f *FS) readCached(ctx context.Context, p davpath.Path, count bool) cachedRead {
	segs := f.abs(p).Segments()
	if len(segs) == 0 {
		return cachedRead{}
	}
	anc, ok := f.dirs.ancestors(segs[:len(segs)-1])
	if !ok {
		return cachedRead{}
	}
	parent := f.rid
	if len(anc) > 0 {
		parent = anc[len(anc)-1].e.ID
	}
	key := f.childKey(parent, segs[len(segs)-1])
	cmps := make([]clientv3.Cmp, len(anc))
	for i, a := range anc {
		cmps[i] = a.unchanged()
	}
	ops := make([]clientv3.Op, 1, 2)
	ops[0] = clientv3.OpGet(key)
	if count {
		ops = append(ops, f.countLocks())
	}
	cctx, cancel := f.call(ctx)
	defer cancel()
	resp, err := f.c.Etcd.Txn(cctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return cachedRead{err: f.unavailable(ctx, err)}
	}
	if !resp.Succeeded {
		paths := make([]davpath.Path, len(anc))
		for i := range anc {
			paths[i] = pathOf(segs[:i+1])
		}
		f.dirs.forget(paths...)
		return cachedRead{}
	}
	c := cachedRead{r: &resolved{rev: resp.Header.Revision}, ok: true}
	if count {
		c.snap = cluster.Snapshot{Rev: resp.Header.Revision, LockPrefix: f.locks, Locks: resp.Responses[1].GetResponseRange().GetCount()}
	}
	root := f.rootRef(nil)
	t, err := readRef(key, resp.Responses[0].GetResponseRange().GetKvs())
	if err != nil {
		return cachedRead{err: err}
	}
	c.r.chain = append(append(append(make([]ref, 0, len(anc)+2), root), anc...), t)
	if t.exists() && t.e.Dir {
		f.dirs.put(f.abs(p), t)
	}
	return c
}

// reads shares the first reads of requests (resolveCached) among the requests for one path
// that arrive together: at most one such read per path is in flight, and the requests that
// arrive meanwhile wait for it to end and then share one more, begun after all of them arrived.
// Under a burst of PROPFINDs of one collection (a cached listing polled by many clients),
// several are answered by one etcd round trip; a request alone waits for nobody.
type reads struct {
	mu sync.Mutex
	m  map[davpath.Path]*pathReads
}

// pathReads are the shared reads of one path: cur is in flight, next has not begun.
type pathReads struct {
	cur, next *sharedRead
}

// sharedRead is one read and the requests waiting for its outcome.
type sharedRead struct {
	done chan struct{}
	c    cachedRead
}

// do returns the outcome of a read of key that begins after do was called: one already
// pending (not yet begun), a new one when none is in flight, or, when one is, a new one begun
// when it ends. read runs detached from ctx's cancellation (other requests may share it);
// the error is ctx's, when it ends before the outcome is known.
func (g *reads) do(ctx context.Context, key davpath.Path, read func(context.Context) cachedRead) (cachedRead, error) {
	g.mu.Lock()
	pr := g.m[key]
	if pr == nil {
		pr = &pathReads{}
		g.m[key] = pr
	}
	if s := pr.next; s != nil {
		g.mu.Unlock()
		select {
		case <-s.done:
			return s.c, nil
		case <-ctx.Done():
			return cachedRead{}, ctx.Err()
		}
	}
	s := &sharedRead{done: make(chan struct{})}
	if prev := pr.cur; prev != nil {
		pr.next = s
		g.mu.Unlock()
		<-prev.done // bounded by prev's call timeout; the requests that joined s wait on it
		g.mu.Lock()
		pr.cur, pr.next = s, nil
	} else {
		pr.cur = s
	}
	g.mu.Unlock()
	s.c = read(context.WithoutCancel(ctx))
	g.mu.Lock()
	if pr.cur == s {
		pr.cur = nil
		if pr.next == nil {
			delete(g.m, key)
		}
	}
	g.mu.Unlock()
	close(s.done)
	return s.c, nil
}

// countLocks is the count-only read of the lock table (lock/etcdlock's keys) that the first
// read of a request with a memo adds to its transaction.
func (f *FS) countLocks() clientv3.Op {
	return clientv3.OpGet(f.locks, clientv3.WithPrefix(), clientv3.WithCountOnly())
}

// snapshot leaves in ctx's memo the revision of the request's first read and the lock count
// that read returned (cluster.Snapshot): ListVersion and the lock manager's count then answer
// from it, so a cached PROPFIND costs one etcd read instead of three.
func (f *FS) snapshot(ctx context.Context, rev int64, locks *etcdserverpb.RangeResponse) {
	cluster.Remember(ctx, cluster.Snapshot{Rev: rev, LockPrefix: f.locks, Locks: locks.GetCount()})
}

// lookup resolves p, which must exist.
func (f *FS) lookup(ctx context.Context, p davpath.Path) (*resolved, error) {
	r, err := f.resolve(ctx, p, 0)
	if err != nil {
		if errors.Is(err, storage.ErrParentMissing) {
			err = fs.ErrNotExist
		}
		return nil, err
	}
	if !r.target().exists() && !f.abs(p).IsRoot() {
		return nil, fs.ErrNotExist
	}
	return r, nil
}

// commit runs the transaction of a write; ok is false when its conditions failed. A write
// confirmed by the etcd lock manager commits under its fence (cluster.Fence): if a lock that
// could affect it was granted since, it fails with the conflict instead of landing.
func (f *FS) commit(ctx context.Context, conds []clientv3.Cmp, ops ...clientv3.Op) (bool, error) {
	return f.c.Commit(ctx, conds, ops...)
}

// txn runs one transaction that no lock guards (the cleanup of a tree already detached, the
// collector); ok is false when its conditions failed.
func (f *FS) txn(ctx context.Context, conds []clientv3.Cmp, ops ...clientv3.Op) (bool, error) {
	defer cluster.Forget(ctx) // what the request read before the write no longer stands
	cctx, cancel := f.call(ctx)
	defer cancel()
	resp, err := f.c.Etcd.Txn(cctx).If(conds...).Then(ops...).Commit()
	if err != nil {
		return false, f.unavailable(ctx, err)
	}
	return resp.Succeeded, nil
}

// garbage are the operations that hand S3 object blob, no longer referred to (a replaced or
// removed content), to the collector.
func (f *FS) garbage(blob string) []clientv3.Op {
	return []clientv3.Op{clientv3.OpPut(f.g+blob, strconv.FormatInt(f.now().Unix(), 10)), clientv3.OpDelete(f.o + blob)}
}

// Stat describes the resource at p.
func (f *FS) Stat(ctx context.Context, p davpath.Path) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fail("stat", p, err)
	}
	r, err := f.lookup(ctx, p)
	if err != nil {
		return storage.Info{}, fail("stat", p, err)
	}
	return r.target().e.info(p.Base()), nil
}

// List yields the members of the collection p in name order, read at one revision, a page
// at a time.
func (f *FS) List(ctx context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(storage.Info{}, fail("list", p, err))
			return
		}
		r, err := f.lookup(ctx, p)
		if err == nil && !r.target().e.Dir {
			err = storage.ErrNotDir
		}
		if err != nil {
			yield(storage.Info{}, fail("list", p, err))
			return
		}
		prefix := f.membersPrefix(r.target().e.ID)
		end := clientv3.GetPrefixRangeEnd(prefix)
		from := prefix
		for {
			cctx, cancel := f.call(ctx)
			resp, err := f.c.Etcd.Get(cctx, from, clientv3.WithRange(end), clientv3.WithRev(r.rev), clientv3.WithLimit(listPage))
			cancel()
			if err != nil {
				yield(storage.Info{}, fail("list", p, f.unavailable(ctx, err)))
				return
			}
			for _, kv := range resp.Kvs {
				var e entry
				if err := json.Unmarshal(kv.Value, &e); err != nil {
					yield(storage.Info{}, fail("list", p, fmt.Errorf("entry %s: %w", kv.Key, err)))
					return
				}
				if !yield(e.info(string(kv.Key[len(prefix):])), nil) {
					return
				}
			}
			if !resp.More || len(resp.Kvs) == 0 {
				return
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}
}

// emptyFile is the content of a resource of size 0 (no S3 object).
type emptyFile struct{ *bytes.Reader }

func (emptyFile) Close() error { return nil }

// headSize bounds the first read of an object, made by Open.
const headSize = 32 << 10

// Open opens the non-collection resource p. The S3 object's first bytes are read at once (the
// GET of the whole object, streamed): a store that is down is found out while the engine can
// still answer 503, not after the 200 and its headers are sent, and a small content is then
// served from that one read. A seek elsewhere reads by ranges.
func (f *FS) Open(ctx context.Context, p davpath.Path) (storage.File, storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.Info{}, fail("open", p, err)
	}
	r, err := f.lookup(ctx, p)
	if err != nil {
		return nil, storage.Info{}, fail("open", p, err)
	}
	e := r.target().e
	if e.Dir {
		return nil, storage.Info{}, fail("open", p, storage.ErrIsDir)
	}
	info := e.info(p.Base())
	if e.Blob == "" {
		return emptyFile{bytes.NewReader(nil)}, info, nil
	}
	obj, err := f.c.S3.GetObject(ctx, f.c.Bucket, e.Blob, minio.GetObjectOptions{})
	if err != nil {
		return nil, storage.Info{}, fail("open", p, f.unavailable(ctx, err))
	}
	o := &object{obj: obj, ctx: ctx, f: f, size: e.Size, head: make([]byte, min(e.Size, headSize))}
	n, err := io.ReadFull(obj, o.head)
	if err != nil && !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		obj.Close()
		return nil, storage.Info{}, fail("open", p, f.unavailable(ctx, err))
	}
	o.head, o.under = o.head[:n], int64(n)
	return o, info, nil
}

// object is an open S3 content: its first bytes (head, read by Open), then the object read
// from where the reader is. Its read errors that are not the request's cancellation are
// storage.ErrUnavailable.
type object struct {
	obj   *minio.Object
	ctx   context.Context
	f     *FS
	size  int64
	head  []byte
	pos   int64 // the reader's offset
	under int64 // obj's offset
}

func (o *object) Read(p []byte) (int, error) {
	if o.pos < int64(len(o.head)) {
		n := copy(p, o.head[o.pos:])
		o.pos += int64(n)
		return n, nil
	}
	if o.pos >= o.size {
		return 0, io.EOF
	}
	if o.under != o.pos {
		if _, err := o.obj.Seek(o.pos, io.SeekStart); err != nil {
			return 0, o.f.unavailable(o.ctx, err)
		}
		o.under = o.pos
	}
	n, err := o.obj.Read(p)
	o.pos += int64(n)
	o.under += int64(n)
	if err != nil && err != io.EOF {
		err = o.f.unavailable(o.ctx, err)
	}
	return n, err
}

func (o *object) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += o.pos
	case io.SeekEnd:
		off += o.size
	}
	if off < 0 {
		return 0, fmt.Errorf("clusterfs: seek to %d: negative offset", off)
	}
	o.pos = off
	return off, nil
}

func (o *object) Close() error { return o.obj.Close() }

// target resolves p as the target of a write of content: its parent must be a collection
// and p, when it exists, not one.
func (f *FS) target(ctx context.Context, p davpath.Path) (*resolved, error) {
	if p.IsRoot() {
		return nil, storage.ErrIsDir
	}
	r, err := f.resolve(ctx, p, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = storage.ErrParentMissing
		}
		return nil, err
	}
	if t := r.target(); t.exists() && t.e.Dir {
		return nil, storage.ErrIsDir
	}
	return r, nil
}

// bodyReader remembers the first error of the request body, which the S3 client may wrap.
type bodyReader struct {
	r   io.Reader
	n   int64
	eof bool
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// upload writes r to a new S3 object, which nothing refers to until a commit does (an object
// a node uploaded and never committed is the sweep's: see Sweep). It returns the object's
// name ("" for an empty content) and its size.
func (f *FS) upload(ctx context.Context, r io.Reader, size int64) (string, int64, error) {
	if size == 0 {
		var one [1]byte
		if n, _ := io.ReadFull(r, one[:]); n > 0 {
			return "", 0, fmt.Errorf("%w: announced 0 bytes, got more", storage.ErrShortBody)
		}
		return "", 0, nil
	}
	blob := "b/" + randomID()
	body := &bodyReader{r: r}
	var in io.Reader = body
	if size > 0 {
		in = io.LimitReader(body, size)
	}
	info, err := f.c.S3.PutObject(ctx, f.c.Bucket, blob, in, size, minio.PutObjectOptions{PartSize: partSize, DisableContentSha256: true})
	switch {
	case body.err != nil:
		err = body.err // the client's error, not the store's
	case ctx.Err() != nil:
		err = ctx.Err()
	case err != nil && size > 0 && body.eof && body.n < size:
		err = fmt.Errorf("%w: announced %d bytes, got %d", storage.ErrShortBody, size, body.n)
	case err != nil:
		err = f.unavailable(ctx, err)
	case size > 0:
		var one [1]byte
		if n, _ := io.ReadFull(r, one[:]); n > 0 {
			err = fmt.Errorf("%w: announced %d bytes, got more", storage.ErrShortBody, size)
		}
	}
	if err != nil {
		f.c.S3.RemoveObject(context.WithoutCancel(ctx), f.c.Bucket, blob, minio.RemoveObjectOptions{})
		return "", 0, err
	}
	return blob, info.Size, nil
}

// place commits a new content (blob, size, uploaded at the monotonic time up) at p,
// replacing what is there, in one transaction; the first attempt uses r, the retries a fresh
// resolution. The transaction records that an entry refers to blob (<prefix>o/<blob>) on the
// condition that the sweep has not begun deleting it (<prefix>x/<blob>); and no commit is
// attempted more than half the grace period after the upload, so that the sweep, which
// takes only objects older than the grace period, never races a commit it could lose.
func (f *FS) place(ctx context.Context, p davpath.Path, r *resolved, blob string, size int64, mtime, up time.Time, extra ...clientv3.Cmp) (bool, storage.Info, error) {
	t := now()
	if mtime.IsZero() {
		mtime = t
	}
	for range retries {
		if blob != "" && time.Since(up) > f.grace/2 {
			return false, storage.Info{}, fmt.Errorf("%w: the commit came %v after the upload, beyond half the grace period (%v)", storage.ErrUnavailable, time.Since(up).Round(time.Millisecond), f.grace)
		}
		old := r.target()
		e := entry{ID: randomID(), Size: size, ETag: newETag(), MTime: mtime.Round(0).UTC(), Created: t, Blob: blob}
		if old.exists() {
			e.ID = old.e.ID
		}
		conds := append(r.ancestors(), old.unchanged())
		conds = append(conds, extra...)
		ops := []clientv3.Op{clientv3.OpPut(old.key, e.encode())}
		if blob != "" {
			conds = append(conds, clientv3.Compare(clientv3.CreateRevision(f.x+blob), "=", 0))
			ops = append(ops, clientv3.OpPut(f.o+blob, ""))
		}
		if old.exists() && old.e.Blob != "" {
			ops = append(ops, f.garbage(old.e.Blob)...)
		}
		ok, err := f.commit(ctx, conds, ops...)
		if err != nil {
			return false, storage.Info{}, err
		}
		if ok {
			return !old.exists(), e.info(p.Base()), nil
		}
		if blob != "" {
			if gone, err := f.missing(ctx, f.x+blob); err != nil {
				return false, storage.Info{}, err
			} else if !gone {
				return false, storage.Info{}, fmt.Errorf("%w: the upload was swept before its commit", storage.ErrUnavailable)
			}
		}
		if r, err = f.target(ctx, p); err != nil {
			return false, storage.Info{}, err
		}
	}
	return false, storage.Info{}, fmt.Errorf("%w: %d concurrent changes in a row", storage.ErrUnavailable, retries)
}

// discard deletes the object of a content whose commit certainly did not happen; after an
// ErrUnavailable the commit may have landed unseen, so the object is left to the sweep,
// which deletes it only if no entry refers to it.
func (f *FS) discard(ctx context.Context, blob string, err error) {
	if blob == "" || errors.Is(err, storage.ErrUnavailable) {
		return
	}
	cctx, cancel := f.call(context.WithoutCancel(ctx))
	defer cancel()
	f.c.S3.RemoveObject(cctx, f.c.Bucket, blob, minio.RemoveObjectOptions{})
}

// missing reports whether key does not exist.
func (f *FS) missing(ctx context.Context, key string) (bool, error) {
	cctx, cancel := f.call(ctx)
	defer cancel()
	resp, err := f.c.Etcd.Get(cctx, key, clientv3.WithCountOnly())
	if err != nil {
		return false, f.unavailable(ctx, err)
	}
	return resp.Count == 0, nil
}

// Put atomically creates or replaces the content at p: the body goes to a new S3 object, and
// one transaction makes it p's content. Readers see the old content until then.
func (f *FS) Put(ctx context.Context, p davpath.Path, body io.Reader, opt storage.PutOptions) (bool, storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	// The target is resolved before the body is read, so that a missing parent is a 409 before
	// the upload; the commit is conditioned on what this read found, and a change meanwhile
	// only costs a fresh resolution.
	r, err := f.target(ctx, p)
	if err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	blob, size, err := f.upload(ctx, body, opt.Size)
	if err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	up := time.Now()
	if err := ctx.Err(); err != nil {
		f.discard(ctx, blob, err)
		return false, storage.Info{}, fail("put", p, err)
	}
	created, info, err := f.place(ctx, p, r, blob, size, opt.ModTime, up)
	if err != nil {
		f.discard(ctx, blob, err)
		return false, storage.Info{}, fail("put", p, err)
	}
	return created, info, nil
}

// Mkcol creates the collection p.
func (f *FS) Mkcol(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("mkcol", p, err)
	}
	if p.IsRoot() {
		return fail("mkcol", p, fs.ErrExist)
	}
	for range retries {
		r, err := f.resolve(ctx, p, 0)
		if errors.Is(err, fs.ErrNotExist) {
			err = storage.ErrParentMissing
		}
		if err != nil {
			return fail("mkcol", p, err)
		}
		t := r.target()
		if t.exists() {
			return fail("mkcol", p, fs.ErrExist)
		}
		tm := now()
		e := entry{ID: randomID(), Dir: true, ETag: newETag(), MTime: tm, Created: tm}
		ok, err := f.commit(ctx, append(r.ancestors(), t.unchanged()), clientv3.OpPut(t.key, e.encode()))
		if err != nil {
			return fail("mkcol", p, err)
		}
		if ok {
			return nil
		}
	}
	return fail("mkcol", p, fmt.Errorf("%w: %d concurrent changes in a row", storage.ErrUnavailable, retries))
}

// empty is the condition that collection id has no member.
func (f *FS) empty(id string) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(f.membersPrefix(id)), "=", 0).WithPrefix()
}

// hasMembers reports whether collection id has members now.
func (f *FS) hasMembers(ctx context.Context, id string) (bool, error) {
	cctx, cancel := f.call(ctx)
	defer cancel()
	resp, err := f.c.Etcd.Get(cctx, f.membersPrefix(id), clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithLimit(1))
	if err != nil {
		return false, f.unavailable(ctx, err)
	}
	return resp.Count > 0, nil
}

// Remove removes the non-collection or empty collection p.
func (f *FS) Remove(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("remove", p, err)
	}
	if p.IsRoot() {
		return fail("remove", p, fs.ErrPermission)
	}
	for range retries {
		r, err := f.lookup(ctx, p)
		if err != nil {
			return fail("remove", p, err)
		}
		t := r.target()
		conds := append(r.ancestors(), t.unchanged())
		ops := []clientv3.Op{clientv3.OpDelete(t.key)}
		if t.e.Dir {
			conds = append(conds, f.empty(t.e.ID))
		} else if t.e.Blob != "" {
			ops = append(ops, f.garbage(t.e.Blob)...)
		}
		ok, err := f.commit(ctx, conds, ops...)
		if err != nil {
			return fail("remove", p, err)
		}
		if ok {
			f.dirs.forget(f.abs(p))
			return nil
		}
		if t.e.Dir {
			if full, err := f.hasMembers(ctx, t.e.ID); err != nil {
				return fail("remove", p, err)
			} else if full {
				return fail("remove", p, storage.ErrNotEmpty)
			}
		}
	}
	return fail("remove", p, fmt.Errorf("%w: %d concurrent changes in a row", storage.ErrUnavailable, retries))
}

// Rename moves src to dst in one transaction, replacing a non-collection or an empty
// collection at dst. The moved resource keeps its id (a collection keeps its members) and
// its ETag.
func (f *FS) Rename(ctx context.Context, src, dst davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("rename", src, err)
	}
	for range retries {
		s, err := f.lookup(ctx, src)
		if err != nil {
			return fail("rename", src, err)
		}
		if src == dst {
			return nil
		}
		if src.IsRoot() || dst.IsRoot() || src.Contains(dst) || dst.Contains(src) {
			return fail("rename", src, fs.ErrPermission)
		}
		d, err := f.resolve(ctx, dst, s.rev)
		if errors.Is(err, fs.ErrNotExist) {
			err = storage.ErrParentMissing
		}
		if err != nil {
			return fail("rename", dst, err)
		}
		st, dt := s.target(), d.target()
		conds := append(s.ancestors(), st.unchanged())
		conds = append(conds, d.ancestors()...)
		conds = append(conds, dt.unchanged())
		ops := []clientv3.Op{clientv3.OpDelete(st.key), clientv3.OpPut(dt.key, st.e.encode())}
		if dt.exists() {
			if dt.e.Dir {
				conds = append(conds, f.empty(dt.e.ID))
			} else if dt.e.Blob != "" {
				ops = append(ops, f.garbage(dt.e.Blob)...)
			}
		}
		ok, err := f.commit(ctx, conds, ops...)
		if err != nil {
			return fail("rename", src, err)
		}
		if ok {
			f.dirs.forget(f.abs(src), f.abs(dst))
			return nil
		}
		if dt.exists() && dt.e.Dir {
			if full, err := f.hasMembers(ctx, dt.e.ID); err != nil {
				return fail("rename", dst, err)
			} else if full {
				return fail("rename", dst, storage.ErrNotEmpty)
			}
		}
	}
	return fail("rename", src, fmt.Errorf("%w: %d concurrent changes in a row", storage.ErrUnavailable, retries))
}

// CopyFile copies the non-collection src to dst: S3 copies the object on its side, then one
// transaction makes it dst's content. The copy gets a new ETag and modification time.
func (f *FS) CopyFile(ctx context.Context, src, dst davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("copy", src, err)
	}
	s, err := f.lookup(ctx, src)
	if err != nil {
		return fail("copy", src, err)
	}
	se := s.target().e
	if se.Dir {
		return fail("copy", src, storage.ErrIsDir)
	}
	if src == dst {
		return nil
	}
	d, err := f.target(ctx, dst)
	if err != nil {
		return fail("copy", dst, err)
	}
	blob := ""
	if se.Blob != "" {
		blob = "b/" + randomID()
		_, err = f.c.S3.CopyObject(ctx, minio.CopyDestOptions{Bucket: f.c.Bucket, Object: blob}, minio.CopySrcOptions{Bucket: f.c.Bucket, Object: se.Blob})
		if err != nil {
			f.discard(ctx, blob, nil)
			return fail("copy", src, f.unavailable(ctx, err))
		}
	}
	if _, _, err := f.place(ctx, dst, d, blob, se.Size, time.Time{}, time.Now()); err != nil {
		f.discard(ctx, blob, err)
		return fail("copy", dst, err)
	}
	return nil
}

// RemoveAll removes p and everything below it. A collection is detached in one transaction
// (from then on nothing below it can be reached) that also records it in the journal
// (<prefix>j/<id>); its members are then deleted in batches, and the journal entry last. A
// node that dies in between leaves the journal entry, which the collector finishes.
func (f *FS) RemoveAll(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("removeall", p, err)
	}
	if p.IsRoot() {
		return fail("removeall", p, fs.ErrPermission)
	}
	for range retries {
		r, err := f.lookup(ctx, p)
		if err != nil {
			return fail("removeall", p, err)
		}
		t := r.target()
		ops := []clientv3.Op{clientv3.OpDelete(t.key)}
		if t.e.Dir {
			ops = append(ops, clientv3.OpPut(f.j+t.e.ID, strconv.FormatInt(f.now().Unix(), 10)))
		} else if t.e.Blob != "" {
			ops = append(ops, f.garbage(t.e.Blob)...)
		}
		ok, err := f.commit(ctx, append(r.ancestors(), t.unchanged()), ops...)
		if err != nil {
			return fail("removeall", p, err)
		}
		if !ok {
			continue
		}
		f.dirs.forget(f.abs(p))
		if t.e.Dir {
			// The tree is gone for every client; its keys are cleaned up even if this
			// request is cancelled now.
			if err := f.purge(context.WithoutCancel(ctx), t.e.ID); err != nil {
				return fail("removeall", p, err)
			}
		}
		return nil
	}
	return fail("removeall", p, fmt.Errorf("%w: %d concurrent changes in a row", storage.ErrUnavailable, retries))
}

// purge deletes every member of the detached collection id, depth first, then its journal
// entry. It is idempotent: a second purge of the same tree finds less or nothing to do.
func (f *FS) purge(ctx context.Context, id string) error {
	prefix := f.membersPrefix(id)
	for { // bounded: every round deletes the page it read, until none is left
		cctx, cancel := f.call(ctx)
		resp, err := f.c.Etcd.Get(cctx, prefix, clientv3.WithPrefix(), clientv3.WithLimit(txnOps/2))
		cancel()
		if err != nil {
			return f.unavailable(ctx, err)
		}
		if len(resp.Kvs) == 0 {
			break
		}
		var ops []clientv3.Op
		for _, kv := range resp.Kvs {
			var e entry
			if err := json.Unmarshal(kv.Value, &e); err != nil {
				return fmt.Errorf("entry %s: %w", kv.Key, err)
			}
			if e.Dir {
				if err := f.purge(ctx, e.ID); err != nil {
					return err
				}
			} else if e.Blob != "" {
				ops = append(ops, f.garbage(e.Blob)...)
			}
			ops = append(ops, clientv3.OpDelete(string(kv.Key)))
		}
		if _, err := f.txn(ctx, nil, ops...); err != nil {
			return err
		}
	}
	cctx, cancel := f.call(ctx)
	defer cancel()
	if _, err := f.c.Etcd.Delete(cctx, f.j+id); err != nil {
		return f.unavailable(ctx, err)
	}
	return nil
}

// SetModTime sets the modification time of p, which gets a new ETag.
func (f *FS) SetModTime(ctx context.Context, p davpath.Path, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return fail("setmodtime", p, err)
	}
	for range retries {
		r, err := f.lookup(ctx, p)
		if err != nil {
			return fail("setmodtime", p, err)
		}
		tg := r.target()
		e := tg.e
		e.MTime, e.ETag = t.Round(0).UTC(), newETag()
		key := tg.key
		if f.abs(p).IsRoot() {
			key = f.root
			tg = ref{key: f.root, mod: 0}
			cctx, cancel := f.call(ctx)
			resp, err := f.c.Etcd.Get(cctx, f.root)
			cancel()
			if err != nil {
				return fail("setmodtime", p, f.unavailable(ctx, err))
			}
			if len(resp.Kvs) == 1 {
				tg.mod = resp.Kvs[0].ModRevision
			}
		}
		ok, err := f.commit(ctx, append(r.ancestors(), tg.unchanged()), clientv3.OpPut(key, e.encode()))
		if err != nil {
			return fail("setmodtime", p, err)
		}
		if ok {
			f.dirs.forget(f.abs(p))
			return nil
		}
	}
	return fail("setmodtime", p, fmt.Errorf("%w: %d concurrent changes in a row", storage.ErrUnavailable, retries))
}

// Collect runs one round of the collector: S3 objects recorded as garbage longer ago than the
// grace period are deleted, and tree removals that a node left unfinished are finished. Any
// node may run it, several at once: each deletion is claimed in a transaction first.
func (f *FS) Collect(ctx context.Context) (deleted int, err error) {
	cutoff := f.now().Add(-f.grace).Unix()
	cctx, cancel := f.call(ctx)
	resp, err := f.c.Etcd.Get(cctx, f.g, clientv3.WithPrefix(), clientv3.WithLimit(10000))
	cancel()
	if err != nil {
		return 0, f.unavailable(ctx, err)
	}
	for _, kv := range resp.Kvs {
		if at, _ := strconv.ParseInt(string(kv.Value), 10, 64); at > cutoff {
			continue
		}
		ok, err := f.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)}, clientv3.OpDelete(string(kv.Key)))
		if err != nil {
			return deleted, err
		}
		if !ok {
			continue // committed or collected by someone else meanwhile
		}
		blob := strings.TrimPrefix(string(kv.Key), f.g)
		if err := f.c.S3.RemoveObject(ctx, f.c.Bucket, blob, minio.RemoveObjectOptions{}); err != nil {
			return deleted, f.unavailable(ctx, err)
		}
		deleted++
	}
	cctx, cancel = f.call(ctx)
	jr, err := f.c.Etcd.Get(cctx, f.j, clientv3.WithPrefix(), clientv3.WithLimit(1000))
	cancel()
	if err != nil {
		return deleted, f.unavailable(ctx, err)
	}
	for _, kv := range jr.Kvs {
		if at, _ := strconv.ParseInt(string(kv.Value), 10, 64); at > f.now().Add(-time.Minute).Unix() {
			continue // probably still being purged by the node that removed it
		}
		if err := f.purge(ctx, strings.TrimPrefix(string(kv.Key), f.j)); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// sweepBatch is how many objects one etcd read checks for references.
const sweepBatch = 50

// Sweep deletes the S3 objects and unfinished multipart uploads older than the grace period
// that no entry refers to and the collector does not hold: uploads whose node died or lost
// etcd before the commit, or whose deletion by the collector failed half-way. Before an
// object is deleted, a transaction conditioned on it still being unreferenced marks it
// (<prefix>x/<object>), and a commit is conditioned on that mark being absent, so an object
// is deleted only if no commit of it can land. It lists the whole bucket: run it far less
// often than Collect (Run sweeps once per grace period).
func (f *FS) Sweep(ctx context.Context) (deleted int, err error) {
	cutoff := f.now().Add(-f.grace)
	stamp := strconv.FormatInt(f.now().Unix(), 10)
	// claim marks blob unless an entry refers to it or the collector holds it.
	claim := func(blob string) (bool, error) {
		return f.txn(ctx, []clientv3.Cmp{
			clientv3.Compare(clientv3.CreateRevision(f.o+blob), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(f.g+blob), "=", 0),
		}, clientv3.OpPut(f.x+blob, stamp))
	}
	// unreferenced filters blobs down to those with neither record, in one read.
	unreferenced := func(blobs []string) ([]string, error) {
		ops := make([]clientv3.Op, 0, 2*len(blobs))
		for _, b := range blobs {
			ops = append(ops, clientv3.OpGet(f.o+b, clientv3.WithCountOnly()), clientv3.OpGet(f.g+b, clientv3.WithCountOnly()))
		}
		cctx, cancel := f.call(ctx)
		defer cancel()
		resp, err := f.c.Etcd.Txn(cctx).Then(ops...).Commit()
		if err != nil {
			return nil, f.unavailable(ctx, err)
		}
		var out []string
		for i, b := range blobs {
			if resp.Responses[2*i].GetResponseRange().GetCount() == 0 && resp.Responses[2*i+1].GetResponseRange().GetCount() == 0 {
				out = append(out, b)
			}
		}
		return out, nil
	}
	sweep := func(blobs []string, remove func(string) error) error {
		orphans, err := unreferenced(blobs)
		if err != nil {
			return err
		}
		for _, b := range orphans {
			ok, err := claim(b)
			if err != nil {
				return err
			}
			if !ok {
				continue // committed meanwhile
			}
			if err := remove(b); err != nil {
				return f.unavailable(ctx, err)
			}
			deleted++
		}
		return nil
	}
	removeObject := func(b string) error {
		return f.c.S3.RemoveObject(ctx, f.c.Bucket, b, minio.RemoveObjectOptions{})
	}
	var batch []string
	for obj := range f.c.S3.ListObjects(ctx, f.c.Bucket, minio.ListObjectsOptions{Prefix: "b/", Recursive: true}) {
		if obj.Err != nil {
			return deleted, f.unavailable(ctx, obj.Err)
		}
		if !obj.LastModified.Before(cutoff) {
			continue
		}
		if batch = append(batch, obj.Key); len(batch) == sweepBatch {
			if err := sweep(batch, removeObject); err != nil {
				return deleted, err
			}
			batch = batch[:0]
		}
	}
	if err := sweep(batch, removeObject); err != nil {
		return deleted, err
	}
	batch = batch[:0]
	abort := func(b string) error { return f.c.S3.RemoveIncompleteUpload(ctx, f.c.Bucket, b) }
	for u := range f.c.S3.ListIncompleteUploads(ctx, f.c.Bucket, "b/", true) {
		if u.Err != nil {
			return deleted, f.unavailable(ctx, u.Err)
		}
		if !u.Initiated.Before(cutoff) {
			continue
		}
		if batch = append(batch, u.Key); len(batch) == sweepBatch {
			if err := sweep(batch, abort); err != nil {
				return deleted, err
			}
			batch = batch[:0]
		}
	}
	if err := sweep(batch, abort); err != nil {
		return deleted, err
	}
	// A mark outlives any commit that could still test it (commits come within half the
	// grace period of their upload, and only objects older than the grace period are marked).
	cctx, cancel := f.call(ctx)
	resp, err := f.c.Etcd.Get(cctx, f.x, clientv3.WithPrefix(), clientv3.WithLimit(10000))
	cancel()
	if err != nil {
		return deleted, f.unavailable(ctx, err)
	}
	for _, kv := range resp.Kvs {
		if at, _ := strconv.ParseInt(string(kv.Value), 10, 64); at > cutoff.Unix() {
			continue
		}
		if _, err := f.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)}, clientv3.OpDelete(string(kv.Key))); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// Run runs the collector every interval, and the sweep once per grace period, until ctx is
// done, reporting errors to logf.
func (f *FS) Run(ctx context.Context, interval time.Duration, logf func(err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := f.Collect(ctx); err != nil && ctx.Err() == nil {
				logf(err)
			}
			if time.Since(lastSweep) >= f.grace {
				lastSweep = time.Now()
				if _, err := f.Sweep(ctx); err != nil && ctx.Err() == nil {
					logf(err)
				}
			}
		}
	}
}

// ListVersion implements storage.ListVersioner with etcd's revision, which every change to
// the cluster's keys advances: entries, dead properties, locks and the collector's records
// alike. It is one linearizable read (a round trip, nothing transferred), so a listing that
// any node changed is never answered from a rendering kept before the change, on any node:
// what the engine's listing cache promises on one machine holds across the cluster. The
// price of its coarseness is that any write anywhere in the tree retires every kept
// rendering; a cache per collection fed by an etcd watch would keep the others.
//
// In a request with a memo (storage.WithMemo) whose first read is already made, the revision
// is that read's, with no round trip: the read came after the request began, so a change
// acknowledged before is in it, and a rendering kept at that revision holds the change too.
// Otherwise it reads the revision, and leaves it in the memo.
func (f *FS) ListVersion(ctx context.Context, p davpath.Path) (uint64, bool) {
	if s, ok := cluster.SnapshotOf(ctx); ok {
		return uint64(s.Rev), true
	}
	cctx, cancel := f.call(ctx)
	defer cancel()
	resp, err := f.c.Etcd.Get(cctx, f.root, clientv3.WithCountOnly())
	if err != nil {
		return 0, false
	}
	cluster.Remember(ctx, cluster.Snapshot{Rev: resp.Header.Revision})
	return uint64(resp.Header.Revision), true
}
