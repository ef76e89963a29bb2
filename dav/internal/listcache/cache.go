// Package listcache keeps rendered PROPFIND Depth: 1 responses of collections, so that clients
// that list the same directory again and again (mounts, sync apps) are answered without a walk.
// It lives beside the PROPFIND code, not inside it: the engine asks Lookup once per request and
// gets either a Hit to send or a Recorder to feed each <D:response> it writes, which it
// finishes after the walk (Finish). Writes tell the cache what they may change
// (WriteStarted, WriteDone). What a rendering depends on beyond the Key, and when the engine
// does not ask at all, is the engine's business (dav/doc.go, "Listing cache").
package listcache

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/davd/davd/davpath"
)

// Cache is the listing cache of one dav.Handler. It is safe for concurrent use.
//
// It never serves stale data. A rendering of collection D is used only when all of these hold:
//   - the storage's ListVersion of D is the one it was rendered under (the storage vouches for
//     changes by any means, including outside the server and this handler's own writes);
//   - no write request of this handler that may change what D's listing shows (dead
//     properties, locks) is in flight or has ended since it was rendered: a write to P
//     concerns the listings of P, of P's parent and, for recursive writes, of everything
//     under P; such a write drops those renderings when it starts and when it ends, and a
//     rendering made while one ran is not kept;
//   - it is younger than MaxAge, or is being rendered anew and compared byte for byte by one
//     request (the others are served from it for a grace second meanwhile).
//
// The engine asks only when the rendering is a function of the Key alone: no lock held, an
// access policy that allows everything, no If header, no quota property (dav/doc.go).
//
// Memory: the whole cache holds at most cacheMaxBytes. A rendering up to cacheMaxEntry is kept
// plain, in 64 KiB chunks sent as one vector each; a bigger one, the next time the same state is
// listed, is kept coded (coded.go, about a fifth of the size) up to cacheMaxCoded. That is the
// only compression: a plain rendering is sent without being touched, a coded one costs an
// expansion per hit but keeps a 10,000-entry listing in about 1.5 MiB.
type Cache struct {
	mu    sync.Mutex
	dirs  map[davpath.Path]*cachedDir
	bytes int64
	max   int64 // total budget
	// seq counts write starts and ends; active holds the scopes of writes in flight; done
	// remembers the scopes of recently ended writes, to refuse renderings they overlapped.
	seq    uint64
	nextID uint64
	active map[uint64][]Scope
	done   [256]endedWrite
	// capturing counts renderings being collected: one at a time, so that a burst of
	// identical requests on a cold cache does not hold many copies of a big listing.
	capturing atomic.Int32
	now       func() time.Time
}

// Scope is what one write may change: the resource at Path, and everything below it when
// Recursive.
type Scope struct {
	Path      davpath.Path
	Recursive bool
}

// concerns reports whether a write with scope w may change the listing of collection d.
func (w Scope) concerns(d davpath.Path) bool {
	return w.Path == d || (!w.Path.IsRoot() && w.Path.Parent() == d) || (w.Recursive && w.Path.Contains(d))
}

type endedWrite struct {
	seq    uint64
	scopes []Scope
}

// cachedDir holds the renderings of one collection, by request shape, and the admission record.
type cachedDir struct {
	shapes map[string]*cachedListing
	// seen admits a rendering only when the same shape is rendered a second time at the same
	// version with no write in between: under a stream of writes nothing is copied in vain.
	seen map[string]uint64
	// oversize: shapes whose rendering at that version outgrew cacheMaxEntry (then collected
	// coded) or, coded, cacheMaxCoded (then not collected again).
	oversize map[string]oversize
}

type oversize struct {
	ver   uint64
	coded bool
}

type cachedListing struct {
	ver  uint64
	at   time.Time
	body chunks // the <D:response> elements, without prologue and epilogue
	// refreshing: one request is rendering this aged listing anew (see cacheRefreshGrace).
	refreshing bool
}

// cacheMaxAge bounds how long a rendering is reused even when nothing reported a change: defence
// in depth against changes no notification covers (see storage/osfs: a hard link made later from
// outside the tree, writes through a shared memory mapping).
const cacheMaxAge = 2 * time.Second

// cacheRefreshGrace is how long past cacheMaxAge an aged rendering (nothing reported a change)
// is still served to other requests while one request renders it anew.
const cacheRefreshGrace = time.Second

// Cache budget: the whole cache; one plain rendering (1.5 MiB holds the allprop rendering of a
// thousand files with dead properties); one coded rendering (about 25,000 files in allprop: see
// coded.go, bigger listings are kept coded, about 150 bytes an entry, so that the memory held
// grows slowly with the size of a listing); and the number of collections tracked.
const (
	cacheMaxBytes = 6 << 20
	cacheMaxEntry = 3 << 19
	cacheMaxCoded = 4 << 20
	cacheMaxDirs  = 1024
)

func New(now func() time.Time) *Cache {
	return &Cache{dirs: map[davpath.Path]*cachedDir{}, active: map[uint64][]Scope{}, max: cacheMaxBytes, now: now}
}

// WriteStarted registers a write with its scopes and drops the renderings it concerns;
// WriteDone ends it, dropping them again and remembering it.
func (c *Cache) WriteStarted(scopes []Scope) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.nextID++
	c.active[c.nextID] = scopes
	c.dropConcerned(scopes)
	return c.nextID
}

func (c *Cache) WriteDone(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	scopes := c.active[id]
	delete(c.active, id)
	c.seq++
	c.done[c.seq%uint64(len(c.done))] = endedWrite{seq: c.seq, scopes: scopes}
	c.dropConcerned(scopes)
}

// dropConcerned forgets the renderings and admission records of the collections scopes concern.
func (c *Cache) dropConcerned(scopes []Scope) {
	for _, w := range scopes {
		if !w.Recursive {
			c.dropDir(w.Path)
			if !w.Path.IsRoot() {
				c.dropDir(w.Path.Parent())
			}
			continue
		}
		for d := range c.dirs {
			if w.concerns(d) {
				c.dropDir(d)
			}
		}
	}
}

func (c *Cache) dropDir(d davpath.Path) {
	cd := c.dirs[d]
	if cd == nil {
		return
	}
	for _, e := range cd.shapes {
		c.bytes -= int64(e.body.mem)
	}
	delete(c.dirs, d)
}

// busy reports whether a write in flight concerns d; c.mu must be held.
func (c *Cache) busy(d davpath.Path) bool {
	for _, scopes := range c.active {
		for _, w := range scopes {
			if w.concerns(d) {
				return true
			}
		}
	}
	return false
}

// lookup is the cache's answer for one request.
type lookup struct {
	body chunks // hit: the rendering to send
	hit  bool
	// admit: collect this request's rendering and offer it to put; coded: collect it coded.
	admit bool
	coded bool
	// verify: an aged rendering (nothing reported a change) that this request renders anew and
	// compares, byte for byte, then hands to renew. No second copy is held meanwhile.
	verify *cachedListing
	// seq is the point from which a rendering made now must be checked against writes.
	seq uint64
}

// get looks up the rendering of collection d for shape at version ver.
func (c *Cache) get(d davpath.Path, shape string, ver uint64) (l lookup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l.seq = c.seq
	if c.busy(d) {
		return l
	}
	cd := c.dirs[d]
	if cd == nil {
		if len(c.dirs) >= cacheMaxDirs {
			for k := range c.dirs {
				c.dropDir(k)
				break
			}
		}
		cd = &cachedDir{shapes: map[string]*cachedListing{}, seen: map[string]uint64{}}
		c.dirs[d] = cd
	}
	if e := cd.shapes[shape]; e != nil {
		age := c.now().Sub(e.at)
		if e.ver == ver && age <= cacheMaxAge {
			l.body, l.hit = e.body, true
			return l
		}
		if e.ver == ver && age <= cacheMaxAge+cacheRefreshGrace {
			// Aged, nothing reported: one request renders it anew and compares while the
			// others are still answered from it, instead of all rendering at once.
			if !e.refreshing {
				e.refreshing = true
				l.verify = e
				return l
			}
			l.body, l.hit = e.body, true
			return l
		}
		// Outdated: free it now rather than alongside its replacement. One that merely aged
		// is admitted again at once.
		c.bytes -= int64(e.body.mem)
		delete(cd.shapes, shape)
		if e.ver == ver {
			l.admit = true
			return l
		}
	}
	if o, ok := cd.oversize[shape]; ok && o.ver == ver {
		l.admit, l.coded = !o.coded, !o.coded
		return l
	}
	if v, ok := cd.seen[shape]; ok && v == ver {
		l.admit = true
		return l
	}
	cd.seen[shape] = ver
	return l
}

// tooBig notes that the rendering of d in shape at version ver outgrew its limit: plain
// (cacheMaxEntry), the next one is collected coded (see coded.go); coded (cacheMaxCoded), none.
func (c *Cache) tooBig(d davpath.Path, shape string, ver uint64, coded bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cd := c.dirs[d]; cd != nil {
		if cd.oversize == nil {
			cd.oversize = map[string]oversize{}
		}
		cd.oversize[shape] = oversize{ver: ver, coded: coded}
	}
}

// overlapped reports whether a write that concerns d ran since seq (or may have: the record of
// ended writes does not reach back far enough). c.mu must be held.
func (c *Cache) overlapped(d davpath.Path, seq uint64) bool {
	if c.busy(d) || c.seq-seq >= uint64(len(c.done)) {
		return true
	}
	for s := seq + 1; s <= c.seq; s++ {
		if e := c.done[s%uint64(len(c.done))]; e.seq == s {
			for _, w := range e.scopes {
				if w.concerns(d) {
					return true
				}
			}
		}
	}
	return false
}

// renew ends the verification of e (see lookup.verify), made at version ver from seq on: a
// rendering found identical, with no write in between, is good for another cacheMaxAge; any
// other outcome (a difference, an unfinished rendering, a write) drops it.
func (c *Cache) renew(d davpath.Path, shape string, ver, seq uint64, e *cachedListing, same bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refreshing = false
	cd := c.dirs[d]
	if cd == nil || cd.shapes[shape] != e {
		return // dropped or replaced meanwhile
	}
	if !same || e.ver != ver || c.overlapped(d, seq) {
		c.bytes -= int64(e.body.mem)
		delete(cd.shapes, shape)
		return
	}
	e.at = c.now()
}

// put keeps a rendering of d made at version ver from seq on, of data listed at time at, unless a write that concerns d
// ran meanwhile (or may have: the record of ended writes does not reach back far enough).
func (c *Cache) put(d davpath.Path, shape string, ver, seq uint64, at time.Time, body chunks) {
	if (!body.coded && body.size > cacheMaxEntry) || body.mem > cacheMaxCoded {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.overlapped(d, seq) {
		return
	}
	cd := c.dirs[d]
	if cd == nil {
		return // dropped meanwhile
	}
	if old := cd.shapes[shape]; old != nil {
		c.bytes -= int64(old.body.mem)
		delete(cd.shapes, shape)
	}
	c.makeRoom(int64(body.mem))
	if c.bytes+int64(body.mem) > c.max {
		return
	}
	delete(cd.seen, shape)
	cd.shapes[shape] = &cachedListing{ver: ver, at: at, body: body}
	c.bytes += int64(body.mem)
}

// makeRoom frees renderings until n more bytes fit: aged ones first, then any (the map's order
// is as good as any other here). c.mu must be held.
func (c *Cache) makeRoom(n int64) {
	for _, agedOnly := range []bool{true, false} {
		for _, cd := range c.dirs {
			for shape, e := range cd.shapes {
				if c.bytes+n <= c.max {
					return
				}
				if agedOnly && c.now().Sub(e.at) <= cacheMaxAge {
					continue
				}
				c.bytes -= int64(e.body.mem)
				delete(cd.shapes, shape)
			}
		}
	}
}
