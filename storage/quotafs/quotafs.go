// Package quotafs enforces RFC 4331 quotas over any storage.Backend.
//
// A Ledger keeps one account per tree that has a limit (the whole served tree, a user's scope):
// the bytes of the files in it, learned once by a walk and then kept up to date by every write
// that goes through a wrapper (FS), so that neither quota-used-bytes nor a write's check walks
// the tree. Each wrapper sits over the backend of one sub-tree (base, in the served tree) and
// charges every account whose tree holds the path written, so a write by a user whose scope is
// the whole tree into alice's directory counts against alice's quota as well.
//
// What counts: the length of every file, nothing for collections, nothing for what a symbolic
// link leads to (it is counted where it lies). An upload area (Ledger.Area: the Nextcloud
// chunks of a user) counts against the accounts of its owner's scope while it exists.
//
// Checks are made before anything is written: a PUT whose length is announced is refused before
// a byte is read; one of unknown length reserves as it streams and fails at the byte that would
// pass the limit, which leaves the old content (the backend's Put guarantee). Bytes of writes in
// flight are reserved, so that two uploads cannot together pass a limit that each fits alone. A
// MKCOL is refused when an account is full. A COPY of a tree that does not fit as a whole is
// refused to the backend's one-call copy, and the engine then copies member by member, each
// checked: what does not fit is a 507 member of the 207.
//
// Changes made outside davd (another program writing into the tree) are not seen by the ledger
// until its next walk: Run walks every account again at an interval (and soon after a failed
// tree operation whose effect it could not count), so the figures drift at most until then.
//
// The figures are a Book's: New keeps them in memory; in cluster mode NewShared is given one
// that keeps them in etcd (package etcdquota), so every node checks against the same bytes.
package quotafs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// Ledger holds the accounts of every tree with a quota.
type Ledger struct {
	root storage.Backend // the served tree, walked to learn what an account holds
	book Book            // the figures

	mu    sync.Mutex
	accts map[davpath.Path]*account
	areas []area
	dirty chan struct{}
}

// account is one tree with a quota.
type account struct {
	tree  davpath.Path
	limit int64
	// ready is closed when the figures are known (the first walk ended, here or, with a
	// shared Book, on another node); until then writes into the tree wait.
	ready chan struct{}
}

// Account names one account to a Book: its tree and its limit in bytes.
type Account struct {
	Tree  davpath.Path
	Limit int64
}

// Book keeps the figures of the accounts: the bytes of each tree as of its last walk plus
// every change since (used), and the bytes of writes in flight (reserved). New's Book keeps
// them in this process's memory; a cluster's (package etcdquota) keeps them in etcd, so that
// every node checks against the same figures.
type Book interface {
	// Reserve takes n more bytes (n > 0) in every account of as, or none when one of them
	// would pass its limit (an error wrapping storage.ErrQuotaExceeded).
	Reserve(as []Account, n int64) error
	// Release gives back n reserved bytes.
	Release(as []Account, n int64)
	// Commit records a change of d bytes in every account of as.
	Commit(as []Account, d int64)
	// Figures returns a's used and reserved bytes.
	Figures(a Account) (used, reserved int64, err error)
	// Known reports whether a has figures (from a walk, here or elsewhere).
	Known(a Account) (bool, error)
	// BeginWalk starts a walk of a's tree: end sets the figure to the walk's total plus what
	// was committed meanwhile (ok false: the walk failed, the figure only takes the changes).
	// walk is false when the walk is not this caller's to make (another node is at it).
	BeginWalk(a Account) (end func(total int64, ok bool), walk bool, err error)
	// Forget drops what is known of tree t: its quota was removed (a reload), and a quota set
	// on it again later starts with a walk.
	Forget(t davpath.Path)
}

// area is an upload area charged to the accounts of its owner's scope.
type area struct {
	owner davpath.Path
	fs    storage.Backend
}

// New returns a ledger over the served tree root, with no account yet, keeping its figures in
// memory.
func New(root storage.Backend) *Ledger { return NewShared(root, newMemBook()) }

// NewShared returns a ledger over root whose figures are book's (a cluster's, shared by every
// node).
func NewShared(root storage.Backend, book Book) *Ledger {
	return &Ledger{root: root, book: book, accts: map[davpath.Path]*account{}, dirty: make(chan struct{}, 1)}
}

// acct is a's name for the Book.
func (l *Ledger) acct(a *account) Account {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Account{Tree: a.tree, Limit: a.limit}
}

// accts is as's names for the Book.
func (l *Ledger) names(as []*account) []Account {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Account, len(as))
	for i, a := range as {
		out[i] = Account{Tree: a.tree, Limit: a.limit}
	}
	return out
}

// SetLimits sets the accounts: limits maps each tree (in the served tree) to its quota in bytes.
// Accounts that stay keep their figures; new ones are walked in the background, and writes into
// them wait for that walk. It is safe to call while requests are served (a reload).
func (l *Ledger) SetLimits(limits map[davpath.Path]int64) {
	l.mu.Lock()
	var fresh []*account
	for t := range l.accts {
		if _, ok := limits[t]; !ok {
			delete(l.accts, t)
			l.book.Forget(t)
		}
	}
	for t, n := range limits {
		if a, ok := l.accts[t]; ok {
			a.limit = n
			continue
		}
		a := &account{tree: t, limit: n, ready: make(chan struct{})}
		l.accts[t] = a
		fresh = append(fresh, a)
	}
	l.mu.Unlock()
	for _, a := range fresh {
		go func() {
			// A failed first walk is retried by Run; until one succeeds the account counts what
			// it saw, so that the tree does not stay unwritable. With a shared Book the figures
			// may be known already, or another node may be making them: this one waits for
			// them then (a while at most; its own walk follows if they do not come).
			defer close(a.ready)
			for range 300 {
				if known, err := l.book.Known(l.acct(a)); err == nil && known {
					return
				}
				if l.walk(context.Background(), a) {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
}

// Run walks every account again each interval, and soon after Dirty, until ctx ends: the
// figures then include changes made outside davd.
func (l *Ledger) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.dirty:
		}
		l.mu.Lock()
		accts := make([]*account, 0, len(l.accts))
		for _, a := range l.accts {
			accts = append(accts, a)
		}
		l.mu.Unlock()
		for _, a := range accts {
			<-a.ready
			l.walk(ctx, a)
		}
	}
}

// Dirty asks Run for a walk soon: something changed that the ledger could not count (an
// upload area swept on disk, a tree operation that failed half way).
func (l *Ledger) Dirty() {
	select {
	case l.dirty <- struct{}{}:
	default:
	}
}

// walk learns what a's tree holds and sets its figure. Changes committed during the walk are
// added to what it found: a change in a part already walked is then counted once, one in a part
// not yet walked twice until the next walk — the figure errs on the side of refusing. It
// reports whether it walked (false: the Book's walk was another node's, or the Book failed).
func (l *Ledger) walk(ctx context.Context, a *account) bool {
	end, mine, err := l.book.BeginWalk(l.acct(a))
	if err != nil || !mine {
		return false
	}
	l.mu.Lock()
	areas := make([]storage.Backend, 0, len(l.areas))
	for _, ar := range l.areas {
		if a.tree.Contains(ar.owner) {
			areas = append(areas, ar.fs)
		}
	}
	l.mu.Unlock()
	total, err := treeSize(ctx, l.root, a.tree)
	if errors.Is(err, fs.ErrNotExist) {
		total, err = 0, nil
	}
	for _, b := range areas {
		if err != nil {
			break
		}
		var n int64
		n, err = treeSize(ctx, b, davpath.Root)
		total += n
	}
	end(total, err == nil)
	return true
}

// of returns the accounts whose tree holds q, after their first walk.
func (l *Ledger) of(ctx context.Context, q davpath.Path) ([]*account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	var out []*account
	for t, a := range l.accts {
		if t.Contains(q) {
			out = append(out, a)
		}
	}
	l.mu.Unlock()
	for _, a := range out {
		select {
		case <-a.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// reserve takes n more bytes (n > 0) in every account of as, or none when one of them would pass
// its limit.
func (l *Ledger) reserve(as []*account, n int64) error {
	if len(as) == 0 {
		return nil
	}
	return l.book.Reserve(l.names(as), n)
}

// release returns n reserved bytes.
func (l *Ledger) release(as []*account, n int64) {
	if n == 0 || len(as) == 0 {
		return
	}
	l.book.Release(l.names(as), n)
}

// commit records a change of d bytes in every account of as.
func (l *Ledger) commit(as []*account, d int64) {
	if d == 0 || len(as) == 0 {
		return
	}
	l.book.Commit(l.names(as), d)
}

// full reports an account of as with no byte left.
func (l *Ledger) full(as []*account) error {
	for _, a := range l.names(as) {
		used, reserved, err := l.book.Figures(a)
		if err != nil {
			return err
		}
		if used+reserved >= a.Limit {
			return fmt.Errorf("%w: %s: its quota of %d bytes is used up", storage.ErrQuotaExceeded, a.Tree, a.Limit)
		}
	}
	return nil
}

// memBook is New's Book: the figures in this process's memory.
type memBook struct {
	mu   sync.Mutex
	figs map[davpath.Path]*figures
}

// figures are one account's: walking and delta collect the changes committed while a walk
// runs, added to its result.
type figures struct {
	used, reserved int64
	known          bool
	walking        bool
	delta          int64
}

func newMemBook() *memBook { return &memBook{figs: map[davpath.Path]*figures{}} }

// of is t's figures, made on first use; b.mu is held.
func (b *memBook) of(t davpath.Path) *figures {
	f := b.figs[t]
	if f == nil {
		f = &figures{}
		b.figs[t] = f
	}
	return f
}

func (b *memBook) Reserve(as []Account, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range as {
		if f := b.of(a.Tree); f.used+f.reserved+n > a.Limit {
			return fmt.Errorf("%w: %s: %d bytes more would pass its quota of %d (%d used)", storage.ErrQuotaExceeded, a.Tree, n, a.Limit, f.used)
		}
	}
	for _, a := range as {
		b.of(a.Tree).reserved += n
	}
	return nil
}

func (b *memBook) Release(as []Account, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range as {
		b.of(a.Tree).reserved -= n
	}
}

func (b *memBook) Commit(as []Account, d int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range as {
		f := b.of(a.Tree)
		f.used += d
		if f.walking {
			f.delta += d
		}
	}
}

func (b *memBook) Figures(a Account) (int64, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.of(a.Tree)
	return f.used, f.reserved, nil
}

// Known is false until this process's first walk: the figures are this process's alone.
func (b *memBook) Known(a Account) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.of(a.Tree).known, nil
}

func (b *memBook) Forget(t davpath.Path) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.figs, t)
}

func (b *memBook) BeginWalk(a Account) (func(int64, bool), bool, error) {
	b.mu.Lock()
	f := b.of(a.Tree)
	f.walking, f.delta = true, 0
	b.mu.Unlock()
	return func(total int64, ok bool) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if ok {
			f.used = total + f.delta
		} else {
			f.used += f.delta
		}
		f.walking, f.delta, f.known = false, 0, true
	}, true, nil
}

// Wrap returns the quota-checking view of inner, the backend of the sub-tree base of the served
// tree (davpath.Root for the whole of it).
func (l *Ledger) Wrap(inner storage.Backend, base davpath.Path) *FS {
	return &FS{inner: inner, l: l, base: base}
}

// Area returns the quota-checking view of an upload area whose bytes count against the
// accounts of owner (a scope in the served tree), and makes the accounts' walks count it (once,
// however often it is wrapped).
func (l *Ledger) Area(inner storage.Backend, owner davpath.Path) *FS {
	l.mu.Lock()
	if !slices.Contains(l.areas, area{owner: owner, fs: inner}) {
		l.areas = append(l.areas, area{owner: owner, fs: inner})
	}
	l.mu.Unlock()
	return &FS{inner: inner, l: l, base: owner, area: true}
}

// FS is a storage.Backend that checks and counts every write against the ledger's accounts.
// It offers every optional interface of package storage, and falls back as the engine expects
// when inner lacks one.
type FS struct {
	inner storage.Backend
	l     *Ledger
	base  davpath.Path
	area  bool
}

var (
	_ storage.Backend       = (*FS)(nil)
	_ storage.Renamer       = (*FS)(nil)
	_ storage.Copier        = (*FS)(nil)
	_ storage.TreeCopier    = (*FS)(nil)
	_ storage.TreeRemover   = (*FS)(nil)
	_ storage.Quota         = (*FS)(nil)
	_ storage.MtimeSetter   = (*FS)(nil)
	_ storage.ListVersioner = (*FS)(nil)
)

// accounts are the accounts a write at p (in inner's view) is charged to.
func (f *FS) accounts(ctx context.Context, p davpath.Path) ([]*account, error) {
	if f.area {
		return f.l.of(ctx, f.base)
	}
	q := p
	if !f.base.IsRoot() {
		q = p.Rebase(davpath.Root, f.base)
	}
	return f.l.of(ctx, q)
}

// fileSize is the length of the file at p, 0 when nothing or a collection is there.
func (f *FS) fileSize(ctx context.Context, p davpath.Path) int64 {
	if info, err := f.inner.Stat(ctx, p); err == nil && !info.IsDir {
		return info.Size
	}
	return 0
}

// treeSize is the bytes of the files at and under p in b; links are not followed.
func treeSize(ctx context.Context, b storage.Backend, p davpath.Path) (int64, error) {
	info, err := b.Stat(ctx, p)
	if err != nil {
		return 0, err
	}
	if !info.IsDir {
		return info.Size, nil
	}
	var total int64
	var walk func(dir davpath.Path) error
	walk = func(dir davpath.Path) error {
		var dirs []davpath.Path
		for e, err := range b.List(ctx, dir) {
			if err != nil {
				return err
			}
			switch {
			case e.Link:
			case e.IsDir:
				dirs = append(dirs, dir.Join(e.Name))
			default:
				total += e.Size
			}
		}
		for _, d := range dirs {
			if err := walk(d); err != nil {
				return err
			}
		}
		return nil
	}
	err = walk(p)
	return total, err
}

// Stat implements storage.Backend.
func (f *FS) Stat(ctx context.Context, p davpath.Path) (storage.Info, error) {
	return f.inner.Stat(ctx, p)
}

// List implements storage.Backend.
func (f *FS) List(ctx context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	return f.inner.List(ctx, p)
}

// Open implements storage.Backend.
func (f *FS) Open(ctx context.Context, p davpath.Path) (storage.File, storage.Info, error) {
	return f.inner.Open(ctx, p)
}

// Put implements storage.Backend: a body of announced length is checked before it is read; one
// of unknown length reserves as it streams.
func (f *FS) Put(ctx context.Context, p davpath.Path, r io.Reader, opt storage.PutOptions) (bool, storage.Info, error) {
	as, err := f.accounts(ctx, p)
	if err != nil || len(as) == 0 {
		if err != nil {
			return false, storage.Info{}, err
		}
		return f.inner.Put(ctx, p, r, opt)
	}
	old := f.fileSize(ctx, p)
	credit, _ := ctx.Value(creditKey{}).(int64)
	m := &meter{r: r, l: f.l, as: as, free: old + credit}
	if opt.Size >= 0 {
		if err := m.need(opt.Size); err != nil {
			return false, storage.Info{}, err
		}
	}
	defer func() { f.l.release(as, m.res) }()
	created, info, err := f.inner.Put(ctx, p, m, opt)
	if err == nil {
		f.l.commit(as, info.Size-old)
	}
	return created, info, err
}

type creditKey struct{}

// WithCredit returns ctx under which a Put may write n bytes more than its accounts have left:
// bytes already counted that are freed as soon as it ends — the chunks a Nextcloud upload is
// assembled from, so that a file needs room once, not twice, to be assembled.
func WithCredit(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, creditKey{}, n)
}

// meter reserves the bytes of a body as they stream: free is what the replaced content frees,
// res what is reserved beyond it.
type meter struct {
	r    io.Reader
	l    *Ledger
	as   []*account
	free int64
	res  int64
	n    int64
}

// reserveStep is how much a body of unknown length reserves at a time.
const reserveStep = 1 << 20

// need makes room for a body of n bytes.
func (m *meter) need(n int64) error {
	short := n - m.free - m.res
	if short <= 0 {
		return nil
	}
	// A step ahead, so that a stream reserves once a MiB; exactly what is short when the step
	// does not fit.
	if m.l.reserve(m.as, max(short, reserveStep)) == nil {
		m.res += max(short, reserveStep)
		return nil
	}
	if err := m.l.reserve(m.as, short); err != nil {
		return err
	}
	m.res += short
	return nil
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if n > 0 {
		m.n += int64(n)
		if qerr := m.need(m.n); qerr != nil {
			return 0, qerr
		}
	}
	return n, err
}

// Mkcol implements storage.Backend: refused when an account is full.
func (f *FS) Mkcol(ctx context.Context, p davpath.Path) error {
	as, err := f.accounts(ctx, p)
	if err != nil {
		return err
	}
	if err := f.l.full(as); err != nil {
		return err
	}
	return f.inner.Mkcol(ctx, p)
}

// Remove implements storage.Backend.
func (f *FS) Remove(ctx context.Context, p davpath.Path) error {
	as, err := f.accounts(ctx, p)
	if err != nil {
		return err
	}
	size := f.fileSize(ctx, p)
	if err := f.inner.Remove(ctx, p); err != nil {
		return err
	}
	f.l.commit(as, -size)
	return nil
}

// RemoveAll implements storage.TreeRemover; without it in inner, the engine walks the tree.
func (f *FS) RemoveAll(ctx context.Context, p davpath.Path) error {
	tr, ok := f.inner.(storage.TreeRemover)
	if !ok {
		return errors.New("quotafs: the backend has no tree removal")
	}
	as, err := f.accounts(ctx, p)
	if err != nil {
		return err
	}
	if len(as) == 0 {
		return tr.RemoveAll(ctx, p)
	}
	size, err := treeSize(ctx, f.inner, p)
	if err != nil {
		return err
	}
	if err := tr.RemoveAll(ctx, p); err != nil {
		// Some of it may be gone: the engine removes the rest member by member (each counted),
		// and the next walk sets the figure right.
		f.l.Dirty()
		return err
	}
	f.l.commit(as, -size)
	return nil
}

// Rename implements storage.Renamer; without it in inner, the engine copies and deletes.
func (f *FS) Rename(ctx context.Context, src, dst davpath.Path) error {
	rn, ok := f.inner.(storage.Renamer)
	if !ok {
		return storage.ErrCrossDevice
	}
	from, err := f.accounts(ctx, src)
	if err != nil {
		return err
	}
	to, err := f.accounts(ctx, dst)
	if err != nil {
		return err
	}
	old := f.fileSize(ctx, dst)
	gain, lose := minus(to, from), minus(from, to)
	if len(gain) == 0 && len(lose) == 0 {
		if err := rn.Rename(ctx, src, dst); err != nil {
			return err
		}
		f.l.commit(to, -old)
		return nil
	}
	size, err := treeSize(ctx, f.inner, src)
	if err != nil {
		return err
	}
	if err := f.l.reserve(gain, size); err != nil {
		return err
	}
	defer f.l.release(gain, size)
	if err := rn.Rename(ctx, src, dst); err != nil {
		return err
	}
	f.l.commit(to, -old)
	f.l.commit(gain, size)
	f.l.commit(lose, -size)
	return nil
}

// minus is the accounts of a that are not in b.
func minus(a, b []*account) []*account {
	var out []*account
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

// CopyFile implements storage.Copier, checked like a Put of the source's length.
func (f *FS) CopyFile(ctx context.Context, src, dst davpath.Path) error {
	as, err := f.accounts(ctx, dst)
	if err != nil {
		return err
	}
	cp, ok := f.inner.(storage.Copier)
	if len(as) == 0 && ok {
		return cp.CopyFile(ctx, src, dst)
	}
	if !ok {
		r, info, err := f.inner.Open(ctx, src)
		if err != nil {
			return err
		}
		defer r.Close()
		_, _, err = f.Put(ctx, dst, r, storage.PutOptions{Size: info.Size})
		return err
	}
	info, err := f.inner.Stat(ctx, src)
	if err != nil {
		return err
	}
	old := f.fileSize(ctx, dst)
	m := &meter{l: f.l, as: as, free: old}
	if err := m.need(info.Size); err != nil {
		return err
	}
	defer f.l.release(as, m.res)
	if err := cp.CopyFile(ctx, src, dst); err != nil {
		return err
	}
	f.l.commit(as, f.fileSize(ctx, dst)-old)
	return nil
}

// CopyTree implements storage.TreeCopier. A tree that does not fit as a whole is refused, and the
// engine copies member by member, each checked.
func (f *FS) CopyTree(ctx context.Context, src, dst davpath.Path) error {
	tc, ok := f.inner.(storage.TreeCopier)
	if !ok {
		return errors.New("quotafs: the backend has no tree copy")
	}
	as, err := f.accounts(ctx, dst)
	if err != nil {
		return err
	}
	if len(as) == 0 {
		return tc.CopyTree(ctx, src, dst)
	}
	size, err := treeSize(ctx, f.inner, src)
	if err != nil {
		return err
	}
	if err := f.l.reserve(as, size); err != nil {
		return err
	}
	defer f.l.release(as, size)
	if err := tc.CopyTree(ctx, src, dst); err != nil {
		// What was copied is counted, since the engine removes it member by member next.
		if n, werr := treeSize(ctx, f.inner, dst); werr == nil {
			f.l.commit(as, n)
		} else {
			f.l.Dirty()
		}
		return err
	}
	f.l.commit(as, size)
	return nil
}

// Quota implements storage.Quota: the tightest account over p, bounded by the disk's own
// figure when inner has one.
func (f *FS) Quota(ctx context.Context, p davpath.Path) (available, used int64, err error) {
	iq, hasInner := f.inner.(storage.Quota)
	as, err := f.accounts(ctx, p)
	if err != nil {
		return 0, 0, err
	}
	if len(as) == 0 {
		if !hasInner {
			return 0, 0, errors.New("quotafs: no quota over this path")
		}
		return iq.Quota(ctx, p)
	}
	available = -1
	for _, a := range f.l.names(as) {
		u, reserved, err := f.l.book.Figures(a)
		if err != nil {
			return 0, 0, err
		}
		if left := max(a.Limit-u-reserved, 0); available < 0 || left < available {
			available, used = left, u
		}
	}
	if hasInner {
		if disk, _, err := iq.Quota(ctx, p); err == nil && disk < available {
			available = disk
		}
	}
	return available, max(used, 0), nil
}

// SetModTime implements storage.MtimeSetter.
func (f *FS) SetModTime(ctx context.Context, p davpath.Path, t time.Time) error {
	ms, ok := f.inner.(storage.MtimeSetter)
	if !ok {
		return fmt.Errorf("quotafs: the backend cannot set times: %w", errors.ErrUnsupported)
	}
	return ms.SetModTime(ctx, p, t)
}

// ListVersion implements storage.ListVersioner.
func (f *FS) ListVersion(ctx context.Context, p davpath.Path) (uint64, bool) {
	if lv, ok := f.inner.(storage.ListVersioner); ok {
		return lv.ListVersion(ctx, p)
	}
	return 0, false
}
