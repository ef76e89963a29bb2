package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/davd/davd/syncstore"
)

// bucketSync holds the sync-token snapshots (syncstore.Store): one sub-bucket per Key, holding
// keyIndex (the kept snapshots, oldest first) and one sub-bucket per snapshot id whose keys are
// big-endian sequence numbers, so entries come back in the order saved.
//
// bucketSyncMeta bounds the whole store: its sub-bucket "lru" maps a sequence number (order of
// saving, or of reuse by an unchanged Save) to the snapshot's entry count, key and id; "ids"
// maps an id back to its sequence number; "total" is the entries of all snapshots "lru" lists.
// Snapshots saved before the bound existed are not listed: they leave with their key's rotation.
var (
	bucketSync     = []byte("sync")
	keyIndex       = []byte("\x00index")
	bucketSyncMeta = []byte("syncmeta")
	bucketLRU      = []byte("lru")
	bucketIDs      = []byte("ids")
	keyTotal       = []byte("total")
)

// syncBatch is how many entries one write or read transaction handles: a snapshot of a big
// tree is written and read in many short transactions, never holding the file's writer for
// the length of a walk.
const syncBatch = 2048

// Sync is the syncstore.Store of a DB: snapshots survive restarts, so a client's token stays
// good, and a REPORT after a restart reports every change made meanwhile, on disk included.
type Sync struct {
	d          *DB
	perKey     int
	maxEntries uint64
}

var _ syncstore.Store = (*Sync)(nil)

// Sync returns the snapshot store, keeping perKey snapshots per key (syncstore.DefaultPerKey
// for 0) and maxEntries entries in all (syncstore.DefaultMaxEntries for 0, some 100 bytes of
// the file each): past it the snapshots saved (or reused) longest ago, of any key, are
// forgotten first, never the one just saved. Snapshots interrupted by a crash are removed when
// the DB is opened.
func (d *DB) Sync(perKey, maxEntries int) *Sync {
	if perKey <= 0 {
		perKey = syncstore.DefaultPerKey
	}
	if maxEntries <= 0 {
		maxEntries = syncstore.DefaultMaxEntries
	}
	return &Sync{d: d, perKey: perKey, maxEntries: uint64(maxEntries)}
}

// syncMeta returns the buckets of the store's bound, made on first use.
func syncMeta(tx *bbolt.Tx) (lru, ids, meta *bbolt.Bucket, err error) {
	meta, err = tx.CreateBucketIfNotExists(bucketSyncMeta)
	if err != nil {
		return nil, nil, nil, err
	}
	if lru, err = meta.CreateBucketIfNotExists(bucketLRU); err != nil {
		return nil, nil, nil, err
	}
	ids, err = meta.CreateBucketIfNotExists(bucketIDs)
	return lru, ids, meta, err
}

func getTotal(meta *bbolt.Bucket) uint64 {
	if v := meta.Get(keyTotal); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// listLRU lists snapshot id of kb, n entries, as the most recent; a snapshot listed before
// moves (a reuse).
func listLRU(tx *bbolt.Tx, kb []byte, id string, n uint64) error {
	if err := unlistLRU(tx, id); err != nil {
		return err
	}
	lru, ids, meta, err := syncMeta(tx)
	if err != nil {
		return err
	}
	seq, err := lru.NextSequence()
	if err != nil {
		return err
	}
	k := binary.BigEndian.AppendUint64(nil, seq)
	v := binary.BigEndian.AppendUint64(nil, n)
	v = binary.BigEndian.AppendUint32(v, uint32(len(kb)))
	v = append(append(v, kb...), id...)
	if err := lru.Put(k, v); err != nil {
		return err
	}
	if err := ids.Put([]byte(id), k); err != nil {
		return err
	}
	return meta.Put(keyTotal, binary.BigEndian.AppendUint64(nil, getTotal(meta)+n))
}

// unlistLRU takes snapshot id out of the bound's accounts (it was forgotten).
func unlistLRU(tx *bbolt.Tx, id string) error {
	lru, ids, meta, err := syncMeta(tx)
	if err != nil {
		return err
	}
	seq := ids.Get([]byte(id))
	if seq == nil {
		return nil
	}
	total := getTotal(meta)
	if v := lru.Get(seq); len(v) >= 12 {
		total -= min(total, binary.BigEndian.Uint64(v))
	}
	if err := lru.Delete(bytes.Clone(seq)); err != nil {
		return err
	}
	if err := ids.Delete([]byte(id)); err != nil {
		return err
	}
	return meta.Put(keyTotal, binary.BigEndian.AppendUint64(nil, total))
}

// evict forgets the snapshots listed longest ago until the store holds at most max entries,
// never keep (the snapshot just saved).
func evict(tx *bbolt.Tx, max uint64, keep string) error {
	lru, _, meta, err := syncMeta(tx)
	if err != nil {
		return err
	}
	for getTotal(meta) > max {
		k, v := lru.Cursor().First()
		if k == nil || len(v) < 12 {
			return nil
		}
		kl := int(binary.BigEndian.Uint32(v[8:]))
		if len(v) < 12+kl {
			return errors.New("bolt: corrupt sync bound")
		}
		kb, id := v[12:12+kl], string(v[12+kl:])
		if id == keep {
			return nil
		}
		if kbk := tx.Bucket(bucketSync).Bucket(kb); kbk != nil {
			refs, err := decodeIndex(kbk.Get(keyIndex))
			if err != nil {
				return err
			}
			refs = slices.DeleteFunc(refs, func(r snapRef) bool { return r.id == id })
			if err := kbk.Put(keyIndex, encodeIndex(refs)); err != nil {
				return err
			}
			if err := kbk.DeleteBucket([]byte(id)); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
		}
		if err := unlistLRU(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// syncKey encodes a Key: the level, the principal's length and name, and the root.
func syncKey(k syncstore.Key) []byte {
	b := make([]byte, 0, 1+4+len(k.Principal)+len(k.Root))
	if k.Infinite {
		b = append(b, 'i')
	} else {
		b = append(b, '1')
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(k.Principal)))
	b = append(b, k.Principal...)
	return append(b, k.Root...)
}

// snapRef is one kept snapshot in an index.
type snapRef struct {
	id     string
	digest uint64
	n      uint64
}

func decodeIndex(v []byte) ([]snapRef, error) {
	var out []snapRef
	for len(v) > 0 {
		if len(v) < 17 || len(v) < 17+int(v[16]) {
			return nil, errors.New("bolt: corrupt sync index")
		}
		n := int(v[16])
		out = append(out, snapRef{digest: binary.BigEndian.Uint64(v), n: binary.BigEndian.Uint64(v[8:]), id: string(v[17 : 17+n])})
		v = v[17+n:]
	}
	return out, nil
}

func encodeIndex(refs []snapRef) []byte {
	var b []byte
	for _, r := range refs {
		b = binary.BigEndian.AppendUint64(b, r.digest)
		b = binary.BigEndian.AppendUint64(b, r.n)
		b = append(b, byte(len(r.id)))
		b = append(b, r.id...)
	}
	return b
}

func encodeEntry(e syncstore.Entry) []byte {
	b := make([]byte, 0, 9+len(e.Path))
	if e.Dir {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint64(b, e.Tag)
	return append(b, e.Path...)
}

func decodeEntry(v []byte) (syncstore.Entry, error) {
	if len(v) < 9 {
		return syncstore.Entry{}, errors.New("bolt: corrupt sync entry")
	}
	return syncstore.Entry{Dir: v[0] == 1, Tag: binary.BigEndian.Uint64(v[1:]), Path: string(v[9:])}, nil
}

// Save implements syncstore.Store. The entries are written under a fresh id in batches; the
// snapshot becomes visible (listed in the key's index) only in the last transaction, which also
// drops it again when it equals the newest one, and forgets the oldest past perKey.
func (s *Sync) Save(ctx context.Context, key syncstore.Key, entries iter.Seq[syncstore.Entry]) (string, error) {
	kb := syncKey(key)
	id := syncstore.NewID()
	d := syncstore.NewDigest()
	var n uint64
	batch := make([]syncstore.Entry, 0, syncBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.d.db.Update(func(tx *bbolt.Tx) error {
			kbk, err := tx.Bucket(bucketSync).CreateBucketIfNotExists(kb)
			if err != nil {
				return err
			}
			sb, err := kbk.CreateBucketIfNotExists([]byte(id))
			if err != nil {
				return err
			}
			for _, e := range batch {
				if err := sb.Put(binary.BigEndian.AppendUint64(nil, n), encodeEntry(e)); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	var err error
	for e := range entries {
		d.Add(e)
		batch = append(batch, e)
		if len(batch) == syncBatch {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		s.drop(kb, id)
		return "", fmt.Errorf("bolt: save sync snapshot: %w", err)
	}
	out := id
	err = s.d.db.Update(func(tx *bbolt.Tx) error {
		kbk, err := tx.Bucket(bucketSync).CreateBucketIfNotExists(kb)
		if err != nil {
			return err
		}
		refs, err := decodeIndex(kbk.Get(keyIndex))
		if err != nil {
			return err
		}
		if k := len(refs); k > 0 && refs[k-1].digest == d.Sum() && refs[k-1].n == n {
			out = refs[k-1].id
			if kbk.Bucket([]byte(id)) != nil {
				if err := kbk.DeleteBucket([]byte(id)); err != nil {
					return err
				}
			}
			// Reused: the most recent for the store's bound (a snapshot saved before the bound
			// existed is listed now).
			return listLRU(tx, kb, out, n)
		}
		if n == 0 {
			// An empty snapshot has no entries bucket; Load tells it from an unknown one by
			// the index.
			if _, err := kbk.CreateBucketIfNotExists([]byte(id)); err != nil {
				return err
			}
		}
		refs = append(refs, snapRef{id: id, digest: d.Sum(), n: n})
		for len(refs) > s.perKey {
			if err := kbk.DeleteBucket([]byte(refs[0].id)); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
			if err := unlistLRU(tx, refs[0].id); err != nil {
				return err
			}
			refs = refs[1:]
		}
		if err := kbk.Put(keyIndex, encodeIndex(refs)); err != nil {
			return err
		}
		if err := listLRU(tx, kb, id, n); err != nil {
			return err
		}
		return evict(tx, s.maxEntries, id)
	})
	if err != nil {
		s.drop(kb, id)
		return "", fmt.Errorf("bolt: save sync snapshot: %w", err)
	}
	return out, nil
}

// drop removes the entries of an unfinished snapshot (best effort: Open sweeps what is left).
func (s *Sync) drop(kb []byte, id string) {
	s.d.db.Update(func(tx *bbolt.Tx) error {
		if kbk := tx.Bucket(bucketSync).Bucket(kb); kbk != nil {
			kbk.DeleteBucket([]byte(id))
		}
		return nil
	})
}

// Load implements syncstore.Store: the entries are read syncBatch at a time, each batch in its
// own read transaction. A snapshot forgotten between two batches ends the sequence with
// syncstore.ErrUnknown.
func (s *Sync) Load(ctx context.Context, key syncstore.Key, id string) iter.Seq2[syncstore.Entry, error] {
	return func(yield func(syncstore.Entry, error) bool) {
		kb := syncKey(key)
		var next []byte // the sequence key to resume at
		for {
			var batch []syncstore.Entry
			more := false
			err := s.d.db.View(func(tx *bbolt.Tx) error {
				kbk := tx.Bucket(bucketSync).Bucket(kb)
				if kbk == nil {
					return syncstore.ErrUnknown
				}
				refs, err := decodeIndex(kbk.Get(keyIndex))
				if err != nil {
					return err
				}
				known := false
				for _, r := range refs {
					known = known || r.id == id
				}
				sb := kbk.Bucket([]byte(id))
				if !known || sb == nil {
					return syncstore.ErrUnknown
				}
				c := sb.Cursor()
				var k, v []byte
				if next == nil {
					k, v = c.First()
				} else {
					k, v = c.Seek(next)
				}
				for ; k != nil; k, v = c.Next() {
					if len(batch) == syncBatch {
						next, more = bytes.Clone(k), true
						return nil
					}
					e, err := decodeEntry(v)
					if err != nil {
						return err
					}
					batch = append(batch, e)
				}
				return nil
			})
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				yield(syncstore.Entry{}, err)
				return
			}
			for _, e := range batch {
				if !yield(e, nil) {
					return
				}
			}
			if !more {
				return
			}
		}
	}
}

// sweepSync removes the snapshots a crash left unfinished: entries buckets no index lists.
func sweepSync(tx *bbolt.Tx) error {
	return tx.Bucket(bucketSync).ForEachBucket(func(kb []byte) error {
		kbk := tx.Bucket(bucketSync).Bucket(kb)
		refs, err := decodeIndex(kbk.Get(keyIndex))
		if err != nil {
			return err
		}
		kept := map[string]bool{}
		for _, r := range refs {
			kept[r.id] = true
		}
		var stale [][]byte
		kbk.ForEachBucket(func(id []byte) error {
			if !kept[string(id)] {
				stale = append(stale, bytes.Clone(id))
			}
			return nil
		})
		for _, id := range stale {
			if err := kbk.DeleteBucket(id); err != nil {
				return err
			}
		}
		return nil
	})
}
