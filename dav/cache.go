package dav

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// listingCache keeps rendered PROPFIND Depth: 1 responses of collections, so that clients that
// list the same directory again and again (mounts, sync apps) are answered without a walk.
//
// It never serves stale data. An entry is used only when all of these still hold:
//   - the storage's ListVersion of the collection is the one the entry was rendered under (the
//     storage vouches for changes by any means, including outside the server);
//   - no write request of this handler has started or finished since (writes bump gen, and no
//     write is in flight), so dead properties and locks are as they were;
//   - the lock manager holds no lock at all (lockdiscovery timeouts count down), the access
//     policy allows everything (listings do not differ by principal), and no quota property
//     was asked for (quota changes with writes anywhere).
type listingCache struct {
	mu sync.Mutex
	m  map[string]*cachedListing
	// misses admits a listing only when it is rendered a second time in the same state: under
	// a stream of writes (every one invalidates) renderings are never copied in vain.
	misses map[string]missRecord
	bytes  int64
	max    int64 // total budget
	// gen counts the starts and ends of write requests; writing counts those in flight.
	gen     atomic.Uint64
	writing atomic.Int64
	// capturing counts renderings being collected for the cache: one at a time, so that a burst
	// of identical requests on a cold cache does not hold many copies of a big listing.
	capturing atomic.Int32
}

type missRecord struct{ ver, gen uint64 }

type cachedListing struct {
	ver  uint64
	gen  uint64
	at   time.Time
	body chunks // the <D:response> elements, without prologue and epilogue
}

// chunks collects a rendering in fixed-size pieces: no reallocation while it grows, so a big
// listing never briefly needs twice its size. The supportedlock value, a third of an allprop
// entry, is kept as a reference to one shared copy.
type chunks struct {
	list [][]byte // pieces to write in order: views into buf chunks, or the shared constant
	buf  []byte   // the chunk being filled
	size int      // bytes the rendering stands for
}

const chunkSize = 64 << 10

var supportedLockBytes = []byte(supportedLock)

func (c *chunks) append(b []byte) {
	c.size += len(b)
	for len(b) > 0 {
		i := bytes.Index(b, supportedLockBytes)
		if i < 0 {
			c.copyIn(b)
			return
		}
		c.copyIn(b[:i])
		c.list = append(c.list, supportedLockBytes)
		b = b[i+len(supportedLockBytes):]
	}
}

// copyIn appends b to the current chunk and to the list, merging with the previous piece when it
// is the chunk's tail.
func (c *chunks) copyIn(b []byte) {
	if len(b) == 0 {
		return
	}
	if cap(c.buf)-len(c.buf) < len(b) {
		c.buf = make([]byte, 0, max(chunkSize, len(b)))
	}
	start := len(c.buf)
	c.buf = append(c.buf, b...)
	piece := c.buf[start:len(c.buf):len(c.buf)]
	if n := len(c.list); n > 0 && start > 0 {
		prev := c.list[n-1]
		if len(prev) > 0 && &prev[:cap(prev)][cap(prev)-1] == &c.buf[start-1] {
			c.list[n-1] = c.buf[start-len(prev) : len(c.buf) : len(c.buf)]
			return
		}
	}
	c.list = append(c.list, piece)
}

// cacheMaxAge bounds how long a rendering is reused even when nothing reported a change: defence
// in depth against changes no notification covers (see storage/osfs: a hard link made later from
// outside the tree, writes through a shared memory mapping).
const cacheMaxAge = 2 * time.Second

// Cache budget: the whole cache and one listing.
const (
	cacheMaxBytes = 8 << 20
	cacheMaxEntry = 8 << 20
	// cacheMaxMisses bounds the admission records.
	cacheMaxMisses = 4096
)

func newListingCache() *listingCache {
	return &listingCache{m: map[string]*cachedListing{}, misses: map[string]missRecord{}, max: cacheMaxBytes}
}

// beginCapture reserves the right to collect one rendering; endCapture releases it.
func (c *listingCache) beginCapture() bool { return c.capturing.CompareAndSwap(0, 1) }
func (c *listingCache) endCapture()        { c.capturing.Store(0) }

// writeStarted and writeDone bracket every request that may change anything.
func (c *listingCache) writeStarted() { c.writing.Add(1); c.gen.Add(1) }
func (c *listingCache) writeDone()    { c.gen.Add(1); c.writing.Add(-1) }

// quiet returns the current generation and whether no write is in flight.
func (c *listingCache) quiet() (uint64, bool) {
	g := c.gen.Load()
	return g, c.writing.Load() == 0
}

// get returns the cached rendering of key at version ver, or whether a new rendering should be
// collected (admit) because the same state was already rendered once before.
func (c *listingCache) get(key string, ver uint64) (body chunks, ok, admit bool) {
	g, quiet := c.quiet()
	if !quiet {
		return chunks{}, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e == nil {
		rec := missRecord{ver, g}
		if c.misses[key] == rec {
			return chunks{}, false, true
		}
		if len(c.misses) >= cacheMaxMisses {
			clear(c.misses)
		}
		c.misses[key] = rec
		return chunks{}, false, false
	}
	if e.ver != ver || e.gen != g || time.Since(e.at) > cacheMaxAge {
		// Outdated: free it now rather than alongside its replacement. Only an entry that
		// merely aged is admitted again at once; after a change, admission starts over.
		c.bytes -= int64(e.body.size)
		delete(c.m, key)
		aged := e.ver == ver && e.gen == g
		if !aged {
			c.misses[key] = missRecord{ver, g}
		}
		return chunks{}, false, aged
	}
	return e.body, true, false
}

func (c *listingCache) put(key string, ver, gen uint64, body chunks) {
	if body.size > cacheMaxEntry {
		return
	}
	if g, ok := c.quiet(); !ok || g != gen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[key]; old != nil {
		c.bytes -= int64(old.body.size)
		delete(c.m, key)
	}
	for k, e := range c.m {
		if c.bytes+int64(body.size) <= c.max {
			break
		}
		c.bytes -= int64(e.body.size)
		delete(c.m, k)
	}
	delete(c.misses, key)
	c.m[key] = &cachedListing{ver: ver, gen: gen, at: time.Now(), body: body}
	c.bytes += int64(body.size)
}

// cacheKey identifies a listing: the collection and the shape of the request.
func (pf *propfind) cacheKey(p davpath.Path) string {
	var b strings.Builder
	b.WriteString(string(p))
	b.WriteByte(0)
	b.WriteByte(byte('0' + pf.kind))
	for _, n := range pf.names {
		b.WriteByte(0)
		b.WriteString(n.Space)
		b.WriteByte(' ')
		b.WriteString(n.Local)
	}
	return b.String()
}

// cacheable reports whether this Depth: 1 PROPFIND of p may use the listing cache, and the
// storage's version of p to use it with.
func (pf *propfind) cacheable(p davpath.Path, hasIf bool) (uint64, bool) {
	h := pf.h
	if hasIf || !h.allowAll || (h.locks != nil && !pf.noLocks) {
		return 0, false
	}
	for _, n := range pf.names {
		if n.Space == nsDAV && strings.HasPrefix(n.Local, "quota") {
			return 0, false
		}
	}
	lv, ok := h.fs.(storage.ListVersioner)
	if !ok {
		return 0, false
	}
	return lv.ListVersion(pf.ctx, p)
}
