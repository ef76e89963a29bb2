package listcache

import (
	"bytes"
	"sync"
	"time"

	"github.com/davd/davd/dav/internal/multistatus"
	"github.com/davd/davd/davpath"
)

// MaxAge is how long a rendering is reused when nothing reported a change (cacheMaxAge).
const MaxAge = cacheMaxAge

// Key names one rendering: the collection, the request's shape (its kind and property names,
// everything of the request that changes the rendering) and the storage's ListVersion of the
// collection before the walk.
type Key struct {
	Dir     davpath.Path
	Shape   string
	Version uint64
}

// Lookup answers one Depth: 1 PROPFIND of k.Dir: a Hit to send as the whole body, or else a
// Recorder (nil when this rendering is not wanted) that the walk feeds and finishes. Recorder's
// methods may be called on nil, so the engine feeds whatever it got.
func (c *Cache) Lookup(k Key) (*Hit, *Recorder) {
	l := c.get(k.Dir, k.Shape, k.Version)
	if l.hit {
		return &Hit{body: l.body}, nil
	}
	r := &Recorder{c: c, key: k, seq: l.seq, at: c.now()}
	switch {
	case l.verify != nil:
		r.verifying, r.verify, r.check, r.coded = true, l.verify, verifier{list: l.verify.body.list}, l.verify.body.coded
	case l.admit && c.capturing.CompareAndSwap(0, 1):
		// One capture at a time, so that a burst of identical requests on a cold cache does
		// not hold many copies of a big listing.
		r.capturing, r.slot, r.coded, r.capture.coded = true, true, l.coded, l.coded
	default:
		return nil, nil
	}
	return nil, r
}

// Hit is a kept rendering: the <D:response> elements of a listing, without the multistatus
// prologue and epilogue.
type Hit struct{ body chunks }

// Send writes the whole 207 body to m, with a Content-Length, and closes it. A plain rendering
// goes out in one vectored write when the response writer takes one (rwcap.VectorWriter),
// uncopied; a coded one is expanded through a pooled buffer as it is written.
func (h *Hit) Send(m *multistatus.Writer) error {
	m.SetLength(int64(h.body.size))
	if !h.body.coded {
		return m.WriteAll(h.body.list)
	}
	bp := decodePool.Get().(*[]byte)
	for _, c := range h.body.list {
		*bp = decodeTo(m.Write, *bp, h.body.dict, c)
	}
	decodePool.Put(bp)
	return m.Close()
}

// decodePool recycles the buffers coded renderings are expanded into.
var decodePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Recorder follows one rendering as the walk writes it: it collects it for the cache (capture),
// or compares it with an aged rendering that it then renews or drops (verify). Nothing is held
// twice: a verification compares as it goes and keeps no copy.
type Recorder struct {
	c   *Cache
	key Key
	seq uint64    // the cache's write sequence at Lookup: writes after it spoil the rendering
	at  time.Time // when the data rendered was listed (the kept rendering's age starts here)

	capturing bool
	slot      bool // holds the cache's one capture slot
	capture   chunks

	verifying bool
	verify    *cachedListing
	check     verifier

	oversize bool // the rendering outgrew its limit (cacheMaxEntry plain, cacheMaxCoded coded)
	coded    bool // capture or check are coded, with coder
	coder    coder
	codeBuf  []byte // scratch: the coding of one entry
}

// Add records one <D:response> element as written. b is not retained.
func (r *Recorder) Add(b []byte) {
	if r == nil || !r.capturing && !r.verifying {
		return
	}
	if r.coded {
		r.codeBuf = r.coder.encode(r.codeBuf[:0], b)
	}
	switch {
	case r.verifying && r.coded:
		r.check.feed(r.codeBuf)
	case r.verifying:
		r.check.feed(b)
	case r.coded && r.capture.mem+r.coder.mem+len(r.codeBuf) > cacheMaxCoded,
		!r.coded && r.capture.size+len(b) > cacheMaxEntry:
		// Too big to keep: stop collecting now, and let the next rendering of this state be
		// collected coded (or, coded already, not at all).
		r.capturing, r.capture, r.oversize = false, chunks{}, true
	case r.coded:
		r.capture.appendCoded(r.codeBuf, len(b))
	default:
		r.capture.append(b)
	}
}

// Abort gives up the rendering: the walk wrote an entry that is not part of the listing (a
// failure after the 207 started). An aged rendering being verified is dropped at Finish.
func (r *Recorder) Abort() {
	if r == nil {
		return
	}
	r.capturing, r.capture, r.verifying = false, chunks{}, false
}

// Finish ends the rendering. ver and ok are the storage's ListVersion of the collection after
// the walk: a rendering is kept (or an aged one renewed) only when it was complete, the version
// is still the one it was looked up with, and no write that concerns the collection overlapped
// it.
func (r *Recorder) Finish(ver uint64, ok bool) {
	if r == nil {
		return
	}
	k := r.key
	unchanged := ok && ver == k.Version
	if r.verify != nil {
		same := r.verifying && r.check.same() && (!r.coded || r.coder.sameDict(r.verify.body.dict))
		r.c.renew(k.Dir, k.Shape, k.Version, r.seq, r.verify, same && unchanged)
	}
	if r.oversize {
		r.c.tooBig(k.Dir, k.Shape, k.Version, r.coded)
	}
	if r.capturing && unchanged {
		if r.coded {
			r.capture.dict, r.capture.mem = r.coder.dict, r.capture.mem+r.coder.mem
		}
		r.c.put(k.Dir, k.Shape, k.Version, r.seq, r.at, r.capture)
	}
	if r.slot {
		r.c.capturing.Store(0)
		r.slot = false
	}
	r.capturing, r.verifying, r.capture = false, false, chunks{}
}

// chunks collects a rendering in fixed-size pieces: no reallocation while it grows, so a big
// listing never briefly needs twice its size.
type chunks struct {
	list [][]byte // pieces to write in order: views into the chunks
	buf  []byte   // the chunk being filled
	size int      // bytes the rendering stands for
	mem  int      // bytes it holds (the chunks' capacity, and the dictionary's when coded)
	// coded: the pieces are coded (coded.go) with dictionary dict, whole entries each.
	coded bool
	dict  []string
}

const chunkSize = 64 << 10

// append adds rendered bytes.
func (c *chunks) append(b []byte) {
	c.size += len(b)
	c.copyIn(b)
}

// appendCoded adds enc, the coding of size bytes of rendering.
func (c *chunks) appendCoded(enc []byte, size int) {
	c.size += size
	c.copyIn(enc)
}

// copyIn appends b to the current chunk and to the list, merging with the previous piece when it
// is the chunk's tail: a plain rendering is sent as one vector per chunk.
func (c *chunks) copyIn(b []byte) {
	if len(b) == 0 {
		return
	}
	if cap(c.buf)-len(c.buf) < len(b) {
		c.buf = make([]byte, 0, max(chunkSize, len(b)))
		c.mem += cap(c.buf)
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

// verifier compares a rendering, fed piece by piece, with a kept one (coded ones are fed coded).
type verifier struct {
	list [][]byte
	i    int // piece of list being compared
	off  int // bytes of list[i] already matched
	bad  bool
}

func (v *verifier) feed(b []byte) {
	for len(b) > 0 && !v.bad {
		if v.i >= len(v.list) {
			v.bad = true
			return
		}
		cur := v.list[v.i][v.off:]
		n := min(len(cur), len(b))
		if !bytes.Equal(cur[:n], b[:n]) {
			v.bad = true
			return
		}
		b, v.off = b[n:], v.off+n
		if v.off == len(v.list[v.i]) {
			v.i, v.off = v.i+1, 0
		}
	}
}

// same reports whether everything fed so far is exactly the kept rendering.
func (v *verifier) same() bool { return !v.bad && v.i == len(v.list) && v.off == 0 }
