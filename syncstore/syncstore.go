// Package syncstore is the seam behind RFC 6578 sync tokens: a Store keeps snapshots of a
// collection's members (relative path, collection or not, and a fingerprint of what a client
// would see change), each named by an opaque id that the dav engine wraps into a sync-token
// URI. A REPORT compares the current listing with the snapshot its token names, so changes made
// by any means — through davd, or on disk by other programs — are found by construction, and a
// snapshot kept in a persistent Store survives restarts.
//
// Stores keep a bounded number of snapshots per Key; a forgotten snapshot is ErrUnknown, and
// the engine answers 403 valid-sync-token, which makes the client start over with a full sync
// (RFC 6578 §3.2 allows it). Nothing here knows HTTP.
package syncstore

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"iter"
	"slices"
	"strings"
	"sync"

	"crypto/rand"
	"encoding/hex"

	"github.com/davd/davd/davpath"
)

// Entry is one member of a snapshot.
type Entry struct {
	// Path is the member's path relative to the snapshot's collection, segments joined by "/",
	// without a leading or trailing slash.
	Path string
	// Dir reports a collection.
	Dir bool
	// Tag fingerprints what a client sees of the member (ETag, size, modification time, dead
	// properties): a different Tag means the member changed.
	Tag uint64
}

// Key says whose snapshot of which collection at which sync level: a token is only good for the
// Key it was issued under.
type Key struct {
	// Root is the synchronised collection.
	Root davpath.Path
	// Principal is the user the snapshot was taken for: access rules may hide members from one
	// user and not another, so a token never crosses users.
	Principal string
	// Infinite is true for sync-level infinite, false for sync-level 1.
	Infinite bool
}

// ErrUnknown is returned by Load for an id that was never issued, was issued under another Key,
// or has been forgotten.
var ErrUnknown = errors.New("syncstore: unknown or expired snapshot")

// Store keeps snapshots.
type Store interface {
	// Save stores the entries yielded by entries, in that order, as a new snapshot of key and
	// returns its id. When the newest snapshot of key holds the same entries, Save may return
	// that snapshot's id instead, so that an unchanged collection keeps its token. Older
	// snapshots of key beyond the store's bound are forgotten.
	Save(ctx context.Context, key Key, entries iter.Seq[Entry]) (id string, err error)
	// Load yields the entries of snapshot id of key in the order they were saved, or ErrUnknown.
	Load(ctx context.Context, key Key, id string) iter.Seq2[Entry, error]
}

// Compare orders member paths as a depth-first walk with siblings sorted by name visits them: a
// collection comes right before its members, and "a/z" before "a-b" (a segment-wise order, not
// a byte-wise one). Snapshots are saved in this order, so a REPORT can merge the current walk
// with a snapshot in one pass.
func Compare(a, b string) int {
	for {
		ia, ib := strings.IndexByte(a, '/'), strings.IndexByte(b, '/')
		sa, sb := a, b
		if ia >= 0 {
			sa = a[:ia]
		}
		if ib >= 0 {
			sb = b[:ib]
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
		switch {
		case ia < 0 && ib < 0:
			return 0
		case ia < 0:
			return -1
		case ib < 0:
			return 1
		}
		a, b = a[ia+1:], b[ib+1:]
	}
}

// Digest summarises a sequence of entries, for Save's reuse of an unchanged snapshot. Stores
// feed it each entry in order.
type Digest struct{ h uint64 }

// NewDigest returns an empty Digest.
func NewDigest() Digest { return Digest{h: 14695981039346656037} }

// Add mixes e into d.
func (d *Digest) Add(e Entry) {
	f := fnv.New64a()
	var b [9]byte
	binary.BigEndian.PutUint64(b[:8], d.h)
	if e.Dir {
		b[8] = 1
	}
	f.Write(b[:])
	binary.BigEndian.PutUint64(b[:8], e.Tag)
	f.Write(b[:8])
	f.Write([]byte(e.Path))
	d.h = f.Sum64()
}

// Sum returns the digest.
func (d Digest) Sum() uint64 { return d.h }

// NewID returns a fresh random snapshot id, spelt as a version 4 UUID (RFC 9562), so that the
// engine can make a urn:uuid: token of it.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Default bounds of a Memory store.
const (
	DefaultPerKey     = 8
	DefaultMaxEntries = 4 << 20
)

// Memory is a Store in memory, for tests and for deployments that accept a full resync of
// every client after a restart. It is safe for concurrent use.
type Memory struct {
	perKey, maxEntries int
	mu                 sync.Mutex
	snaps              map[Key][]*memSnap // oldest first
	total              int
	seq                uint64
}

type memSnap struct {
	id      string
	digest  uint64
	entries []Entry
	seq     uint64 // age across keys, for eviction of the oldest when maxEntries is reached
}

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory keeping at most perKey snapshots per Key and maxEntries entries in
// all (zero values take DefaultPerKey and DefaultMaxEntries). Past maxEntries the oldest
// snapshots, of any key, are forgotten first.
func NewMemory(perKey, maxEntries int) *Memory {
	if perKey <= 0 {
		perKey = DefaultPerKey
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Memory{perKey: perKey, maxEntries: maxEntries, snaps: map[Key][]*memSnap{}}
}

// Save implements Store.
func (m *Memory) Save(ctx context.Context, key Key, entries iter.Seq[Entry]) (string, error) {
	d := NewDigest()
	var es []Entry
	for e := range entries {
		d.Add(e)
		es = append(es, e)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	list := m.snaps[key]
	if n := len(list); n > 0 && list[n-1].digest == d.Sum() && len(list[n-1].entries) == len(es) {
		m.seq++
		list[n-1].seq = m.seq
		return list[n-1].id, nil
	}
	m.seq++
	s := &memSnap{id: NewID(), digest: d.Sum(), entries: slices.Clip(es), seq: m.seq}
	list = append(list, s)
	m.total += len(es)
	for len(list) > m.perKey {
		m.total -= len(list[0].entries)
		list = list[1:]
	}
	m.snaps[key] = list
	// The whole store is bounded too: the snapshot used least recently goes first, but never
	// the one just saved.
	for m.total > m.maxEntries {
		var oldK Key
		var old *memSnap
		for k, l := range m.snaps {
			if len(l) > 0 && l[0] != s && (old == nil || l[0].seq < old.seq) {
				oldK, old = k, l[0]
			}
		}
		if old == nil {
			break
		}
		m.total -= len(old.entries)
		if m.snaps[oldK] = m.snaps[oldK][1:]; len(m.snaps[oldK]) == 0 {
			delete(m.snaps, oldK)
		}
	}
	return s.id, nil
}

// Load implements Store.
func (m *Memory) Load(ctx context.Context, key Key, id string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		m.mu.Lock()
		var es []Entry
		found := false
		for _, s := range m.snaps[key] {
			if s.id == id {
				m.seq++
				s.seq = m.seq
				es, found = s.entries, true
			}
		}
		m.mu.Unlock()
		if !found {
			yield(Entry{}, ErrUnknown)
			return
		}
		// The entries of a snapshot are never modified after Save, so they are read unlocked.
		for _, e := range es {
			if err := ctx.Err(); err != nil {
				yield(Entry{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}
