package osfs

import (
	"bytes"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/storage"
)

// The small-file cache keeps the content of small regular files that are read again and again
// (icons, thumbnails, configuration, a benchmark's 4 KiB file) in memory, as lighttpd's stat
// cache and nginx's open_file_cache keep their descriptors. A hit costs one statx(2) of the
// path instead of openat2, fstat, read and close (issue 16: four system calls of a small GET's
// seven).
//
// Why a hit never serves stale or foreign bytes:
//   - Every hit checks the path with statx(2) and serves the bytes only when the device, inode,
//     size, modification time, status-change time and type are those the bytes were read
//     under. Every way of changing a file's bytes changes one of them: write(2) and truncate(2)
//     set the status-change time (ctime), which no program can set back; a Put or a COPY
//     renames a new inode into place; a DELETE makes the path fail.
//   - Timestamps come from a coarse clock, so a write in the same clock tick as the read the
//     bytes came from could leave ctime as it was. Bytes are therefore only kept from a file
//     whose ctime is at least settle old when read (git's answer to its "racy" index entries),
//     and the ctime is read again after the bytes: a write after that sets a newer ctime.
//   - The statx of a hit follows the path as the kernel does. When a component is now a
//     symbolic link out of the root, the inode it reaches is another file's, so the check fails
//     and Open takes its usual way (openat2 with RESOLVE_BENEATH), which decides. Matching the
//     same device and inode means the very file Open read through that way before.
//   - Writes through a shared memory mapping may update the timestamps late; such a file is no
//     more fresh in this cache than in an HTTP cache keyed by its ETag.
//
// A file is kept from its second read on (one read says nothing of a hot file), up to
// cacheMaxFile bytes. There is one cache per process, shared by every FS (davd opens one per
// scope and per Nextcloud upload folder), so that the whole of it, bookkeeping included, stays
// under cacheMaxBytes however many there are.
const (
	cacheMaxFile   = 64 << 10
	cacheMaxBytes  = 4 << 20
	cacheEntryCost = 256 // what an entry's key and bookkeeping are charged
	cacheSettle    = 2 * time.Second
)

type fileCache struct {
	mu    sync.Mutex
	m     map[cacheKey]*cacheEntry
	bytes int64
}

// files is the process's cache.
var files fileCache

// cacheKey names a file: the FS (by a number no other FS of the process has) and its path.
type cacheKey struct {
	fs  uint64
	rel string
}

// fsIDs numbers the FSes of the process.
var fsIDs atomic.Uint64

// cacheOpts are an FS's own settings of the shared cache.
type cacheOpts struct {
	id     uint64
	settle time.Duration
	off    bool
}

type cacheEntry struct {
	st   stat
	data []byte // nil after the file's first read
	etag string // st.etag(), made once when data is kept
}

func (e *cacheEntry) cost() int64 { return cacheEntryCost + int64(len(e.data)) }

// sameFile reports whether a and b describe the same file with the same content.
func (a *stat) sameFile(b *stat) bool {
	return a.dev == b.dev && a.ino == b.ino && a.size == b.size && a.mtime == b.mtime &&
		a.ctime == b.ctime && a.mode == b.mode
}

// cachedOpen serves rel from the cache when its bytes are there and still the file's.
// It returns the file, its stat and its ETag.
func (f *FS) cachedOpen(rel string) (storage.File, stat, string, bool) {
	if f.cache.off {
		return nil, stat{}, "", false
	}
	c, key := &files, cacheKey{f.cache.id, rel}
	c.mu.Lock()
	e := c.m[key]
	c.mu.Unlock()
	if e == nil || e.data == nil {
		return nil, stat{}, "", false
	}
	sc := statCalls.Get().(*statCall)
	sc.rel = rel
	cerr := f.rootConn.Control(sc.fn)
	st, err := sc.st, sc.err
	*sc = statCall{fn: sc.fn}
	statCalls.Put(sc)
	if cerr != nil {
		return nil, stat{}, "", false
	}
	if err != nil || !st.sameFile(&e.st) {
		c.drop(key, e)
		return nil, stat{}, "", false
	}
	return newMemFile(e.data), e.st, e.etag, true
}

// statCall is one statAt of a path below the root, run through rootConn.Control. Its fn is
// bound once, when the pool makes it: a closure per call would cost a hit three allocations
// (the closure and the two results it writes), a tenth of a small GET's.
type statCall struct {
	rel string
	st  stat
	err error
	fn  func(root uintptr)
}

var statCalls = sync.Pool{New: func() any {
	sc := &statCall{}
	sc.fn = func(root uintptr) { sc.st, sc.err = statAt(int(root), sc.rel, 0) }
	return sc
}}

// fill is called by Open with the open descriptor of rel and its fstat. On a file's second
// read it reads the bytes, keeps them and returns a file over them (the caller closes fd);
// otherwise it notes the read and returns false, fd untouched and its offset still 0.
func (f *FS) fill(rel string, fd int, st stat) (storage.File, bool) {
	if f.cache.off || st.size == 0 || st.size > cacheMaxFile || !st.isReg() ||
		time.Now().UnixNano()-st.ctime < int64(f.cache.settle) {
		return nil, false
	}
	c, key := &files, cacheKey{f.cache.id, rel}
	c.mu.Lock()
	e := c.m[key]
	if e == nil || !e.st.sameFile(&st) {
		c.putLocked(key, &cacheEntry{st: st}, e)
		c.mu.Unlock()
		return nil, false
	}
	c.mu.Unlock()
	data := make([]byte, st.size)
	for n := 0; n < len(data); {
		m, err := unix.Pread(fd, data[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			return nil, false
		}
		n += m
	}
	after, err := statAt(fd, "", unix.AT_EMPTY_PATH)
	if err != nil || !after.sameFile(&st) {
		return nil, false
	}
	c.mu.Lock()
	if c.m[key] == e {
		c.putLocked(key, &cacheEntry{st: st, data: data, etag: st.etag()}, e)
	}
	c.mu.Unlock()
	return newMemFile(data), true
}

// putLocked sets key's entry to n (replacing old, which may be nil), then evicts entries other
// than n, in the map's random order, until the cache is within its bound.
func (c *fileCache) putLocked(key cacheKey, n, old *cacheEntry) {
	if c.m == nil {
		c.m = map[cacheKey]*cacheEntry{}
	}
	if old != nil {
		c.bytes -= old.cost()
	}
	c.m[key] = n
	c.bytes += n.cost()
	for c.bytes > cacheMaxBytes && len(c.m) > 1 {
		for k, e := range c.m {
			if e != n {
				delete(c.m, k)
				c.bytes -= e.cost()
				break
			}
		}
	}
}

// drop removes key's entry if it is still e.
func (c *fileCache) drop(key cacheKey, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] == e {
		delete(c.m, key)
		c.bytes -= e.cost()
	}
}

// memFile is a cached file's content, read by one request.
type memFile struct {
	bytes.Reader
	closed bool
}

// newMemFile returns a memFile over data, in one allocation.
func newMemFile(data []byte) *memFile {
	m := &memFile{}
	m.Reset(data)
	return m
}

func (m *memFile) Close() error {
	if m.closed {
		return os.ErrClosed
	}
	m.closed = true
	return nil
}
