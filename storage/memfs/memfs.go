// Package memfs is an in-memory storage.Backend with the same semantics as the local-disk
// backend (storage/osfs). It is the reference implementation that engine unit tests and examples
// run against: fast, deterministic, and free of the file system's quirks.
//
// Contents are immutable byte slices, replaced whole on every write, so an open File keeps
// reading the content it was opened on while a Put replaces it. Every write gives the resource a
// new ETag from a counter. An FS is safe for concurrent use.
package memfs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// Compile-time guards: FS implements the Backend and every optional fast path.
var (
	_ storage.Backend     = (*FS)(nil)
	_ storage.Renamer     = (*FS)(nil)
	_ storage.Copier      = (*FS)(nil)
	_ storage.TreeRemover = (*FS)(nil)
	_ storage.Quota       = (*FS)(nil)
	_ storage.MtimeSetter = (*FS)(nil)
)

// DefaultCapacity is the capacity of a new FS: large enough to never be reached by accident.
const DefaultCapacity int64 = 1 << 50

// listBatch is how often List checks its context.
const listBatch = 256

type node struct {
	dir      bool
	children map[string]*node // collections only
	data     []byte           // never modified once set; replaced whole
	mtime    time.Time
	created  time.Time
	etag     string
}

// FS is an in-memory storage.Backend.
type FS struct {
	mu       sync.RWMutex
	root     *node
	gen      uint64 // last ETag number handed out
	used     int64  // sum of the sizes of all contents
	capacity int64
}

// New returns an empty FS whose root collection exists.
func New() *FS {
	f := &FS{capacity: DefaultCapacity}
	now := now()
	f.root = &node{dir: true, children: map[string]*node{}, mtime: now, created: now}
	f.root.etag = f.nextETag()
	return f
}

// SetCapacity sets the total number of bytes the FS may hold. Quota reports capacity minus the
// bytes used as available, and a write that would exceed it fails with
// storage.ErrInsufficientStorage.
func (f *FS) SetCapacity(n int64) {
	f.mu.Lock()
	f.capacity = n
	f.mu.Unlock()
}

func now() time.Time { return time.Now().Round(0) }

// nextETag returns a new strong entity tag; f.mu must be held for writing (or f is not shared yet).
func (f *FS) nextETag() string {
	f.gen++
	return `"m` + strconv.FormatUint(f.gen, 16) + `"`
}

func (n *node) info(name string) storage.Info {
	return storage.Info{
		Name:    name,
		Size:    int64(len(n.data)),
		ModTime: n.mtime,
		Created: n.created,
		IsDir:   n.dir,
		ETag:    n.etag,
	}
}

// lookup finds p; f.mu must be held. A missing member, or a non-collection in the middle of the
// path, is fs.ErrNotExist.
func (f *FS) lookup(p davpath.Path) (*node, error) {
	n := f.root
	for _, seg := range p.Segments() {
		if !n.dir {
			return nil, fs.ErrNotExist
		}
		c, ok := n.children[seg]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = c
	}
	return n, nil
}

// parent finds the collection that holds p; f.mu must be held. A missing parent, or one that is
// not a collection, is storage.ErrParentMissing.
func (f *FS) parent(p davpath.Path) (*node, error) {
	d, err := f.lookup(p.Parent())
	if err != nil || !d.dir {
		return nil, storage.ErrParentMissing
	}
	return d, nil
}

// touch records a change of d's membership, as a directory's mtime does on disk.
func (f *FS) touch(d *node) {
	d.mtime = now()
	d.etag = f.nextETag()
}

func fail(op string, p davpath.Path, err error) error {
	return fmt.Errorf("memfs: %s %s: %w", op, p, err)
}

// Stat describes the resource at p.
func (f *FS) Stat(ctx context.Context, p davpath.Path) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fail("stat", p, err)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, err := f.lookup(p)
	if err != nil {
		return storage.Info{}, fail("stat", p, err)
	}
	return n.info(p.Base()), nil
}

// List yields the members of the collection p, in name order. It takes a snapshot under the lock and yields
// without it, so the caller may call back into the FS.
func (f *FS) List(ctx context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(storage.Info{}, fail("list", p, err))
			return
		}
		f.mu.RLock()
		n, err := f.lookup(p)
		if err == nil && !n.dir {
			err = storage.ErrNotDir
		}
		if err != nil {
			f.mu.RUnlock()
			yield(storage.Info{}, fail("list", p, err))
			return
		}
		infos := make([]storage.Info, 0, len(n.children))
		for name, c := range n.children {
			infos = append(infos, c.info(name))
		}
		f.mu.RUnlock()
		// In name order: the same tree lists the same way every time, as a directory does.
		slices.SortFunc(infos, func(a, b storage.Info) int { return strings.Compare(a.Name, b.Name) })
		for i, in := range infos {
			if i%listBatch == listBatch-1 {
				if err := ctx.Err(); err != nil {
					yield(storage.Info{}, fail("list", p, err))
					return
				}
			}
			if !yield(in, nil) {
				return
			}
		}
	}
}

// file is an open content: a reader over an immutable slice.
type file struct{ *bytes.Reader }

func (file) Close() error { return nil }

// Open opens the non-collection resource p for reading.
func (f *FS) Open(ctx context.Context, p davpath.Path) (storage.File, storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.Info{}, fail("open", p, err)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, err := f.lookup(p)
	if err != nil {
		return nil, storage.Info{}, fail("open", p, err)
	}
	if n.dir {
		return nil, storage.Info{}, fail("open", p, storage.ErrIsDir)
	}
	return file{bytes.NewReader(n.data)}, n.info(p.Base()), nil
}

// checkTarget verifies that p can receive content; f.mu must be held. It returns the parent and
// the current node (nil when p is new).
func (f *FS) checkTarget(p davpath.Path) (parent, old *node, err error) {
	if p.IsRoot() {
		return nil, nil, storage.ErrIsDir
	}
	parent, err = f.parent(p)
	if err != nil {
		return nil, nil, err
	}
	old = parent.children[p.Base()]
	if old != nil && old.dir {
		return nil, nil, storage.ErrIsDir
	}
	return parent, old, nil
}

// place puts content data at p, replacing old; f.mu must be held for writing.
func (f *FS) place(p davpath.Path, parent, old *node, data []byte, mtime time.Time) (*node, error) {
	grow := int64(len(data))
	if old != nil {
		grow -= int64(len(old.data))
	}
	if grow > 0 && f.used+grow > f.capacity {
		return nil, storage.ErrInsufficientStorage
	}
	t := now()
	if mtime.IsZero() {
		mtime = t
	}
	// Created is the time of this write even when old content is replaced, as on disk, where
	// a Put renames a new inode into place and birth times cannot be set.
	n := &node{data: data, mtime: mtime.Round(0), created: t, etag: f.nextETag()}
	if old == nil {
		f.touch(parent)
	}
	parent.children[p.Base()] = n
	f.used += grow
	return n, nil
}

// Put atomically creates or replaces the content at p. The body is read in full before the tree
// is touched, so readers see the old content until the new one is complete.
func (f *FS) Put(ctx context.Context, p davpath.Path, r io.Reader, opt storage.PutOptions) (bool, storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	f.mu.RLock()
	_, _, err := f.checkTarget(p)
	f.mu.RUnlock()
	if err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	data, err := readBody(ctx, r, opt.Size)
	if err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	parent, old, err := f.checkTarget(p)
	if err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	n, err := f.place(p, parent, old, data, opt.ModTime)
	if err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	return old == nil, n.info(p.Base()), nil
}

// readBody reads r whole, checking ctx between reads; when size is known it reads at most one
// byte more than announced and fails with storage.ErrShortBody on a different length.
func readBody(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if size >= 0 {
		r = io.LimitReader(r, size+1)
		buf.Grow(int(min(size, 64<<20)))
	}
	chunk := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading body: %w", err)
		}
	}
	if size >= 0 && int64(buf.Len()) != size {
		return nil, fmt.Errorf("%w: announced %d bytes, got %d or more", storage.ErrShortBody, size, buf.Len())
	}
	return buf.Bytes(), nil
}

// Mkcol creates the collection p.
func (f *FS) Mkcol(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("mkcol", p, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.IsRoot() {
		return fail("mkcol", p, fs.ErrExist)
	}
	parent, err := f.parent(p)
	if err != nil {
		return fail("mkcol", p, err)
	}
	if _, ok := parent.children[p.Base()]; ok {
		return fail("mkcol", p, fs.ErrExist)
	}
	t := now()
	parent.children[p.Base()] = &node{dir: true, children: map[string]*node{}, mtime: t, created: t, etag: f.nextETag()}
	f.touch(parent)
	return nil
}

// Remove removes the non-collection or empty collection p.
func (f *FS) Remove(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("remove", p, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.IsRoot() {
		return fail("remove", p, fs.ErrPermission)
	}
	n, err := f.lookup(p)
	if err != nil {
		return fail("remove", p, err)
	}
	if n.dir && len(n.children) > 0 {
		return fail("remove", p, storage.ErrNotEmpty)
	}
	f.detach(p)
	return nil
}

// detach unlinks the existing p from its parent and releases its bytes; f.mu must be held.
func (f *FS) detach(p davpath.Path) {
	parent, _ := f.lookup(p.Parent())
	n := parent.children[p.Base()]
	f.used -= n.size()
	delete(parent.children, p.Base())
	f.touch(parent)
}

// size returns the bytes held by n and everything below it.
func (n *node) size() int64 {
	s := int64(len(n.data))
	for _, c := range n.children {
		s += c.size()
	}
	return s
}

// Rename moves src to dst, replacing a non-collection or an empty collection at dst. The moved
// resource keeps its ETag, as an inode keeps its number on disk.
func (f *FS) Rename(ctx context.Context, src, dst davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("rename", src, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup(src)
	if err != nil {
		return fail("rename", src, err)
	}
	if src == dst {
		return nil
	}
	if src.IsRoot() || dst.IsRoot() || src.Contains(dst) || dst.Contains(src) {
		return fail("rename", src, fs.ErrPermission)
	}
	parent, err := f.parent(dst)
	if err != nil {
		return fail("rename", dst, err)
	}
	if old, ok := parent.children[dst.Base()]; ok {
		if old.dir && len(old.children) > 0 {
			return fail("rename", dst, storage.ErrNotEmpty)
		}
		f.detach(dst)
	}
	sparent, _ := f.lookup(src.Parent())
	delete(sparent.children, src.Base())
	f.touch(sparent)
	parent.children[dst.Base()] = n
	f.touch(parent)
	return nil
}

// CopyFile copies the non-collection src to dst, atomically like Put. The copy shares the
// immutable content and gets a new ETag and modification time.
func (f *FS) CopyFile(ctx context.Context, src, dst davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("copy", src, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup(src)
	if err != nil {
		return fail("copy", src, err)
	}
	if n.dir {
		return fail("copy", src, storage.ErrIsDir)
	}
	parent, old, err := f.checkTarget(dst)
	if err != nil {
		return fail("copy", dst, err)
	}
	if old == n {
		return nil
	}
	if _, err := f.place(dst, parent, old, n.data, time.Time{}); err != nil {
		return fail("copy", dst, err)
	}
	return nil
}

// RemoveAll removes p and everything below it.
func (f *FS) RemoveAll(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("removeall", p, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.IsRoot() {
		return fail("removeall", p, fs.ErrPermission)
	}
	if _, err := f.lookup(p); err != nil {
		return fail("removeall", p, err)
	}
	f.detach(p)
	return nil
}

// Quota reports the capacity left and the bytes held by the whole FS.
func (f *FS) Quota(ctx context.Context, p davpath.Path) (available, used int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, fail("quota", p, err)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if _, err := f.lookup(p); err != nil {
		return 0, 0, fail("quota", p, err)
	}
	return max(f.capacity-f.used, 0), f.used, nil
}

// SetModTime sets the modification time of p, which gets a new ETag.
func (f *FS) SetModTime(ctx context.Context, p davpath.Path, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return fail("setmodtime", p, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup(p)
	if err != nil {
		return fail("setmodtime", p, err)
	}
	n.mtime = t.Round(0)
	n.etag = f.nextETag()
	return nil
}
