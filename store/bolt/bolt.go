package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
)

// Bucket names.
var (
	bucketProps   = []byte("props")
	bucketIntents = []byte("intents")
	bucketLocks   = []byte("locks")
	bucketMeta    = []byte("meta")
	keyVersion    = []byte("version")
)

// formatVersion is the layout version stored in the meta bucket.
const formatVersion = 1

// ErrInUse is Open's error when another process (or another DB of this one) holds the file's
// lock past Options.OpenTimeout.
var ErrInUse = errors.New("the store file is locked by another process")

// DefaultOpenTimeout is the default of Options.OpenTimeout.
const DefaultOpenTimeout = 5 * time.Second

// Options configure a DB. The zero value is usable.
type Options struct {
	// Limits bound property values and the properties of one resource (props.Limits'
	// defaults); PROPPATCH past them is refused with props.ErrTooLarge.
	Limits props.Limits
	// NoSync skips the fsync at each commit: faster, and safe against a crash of the process
	// but not of the machine.
	NoSync bool
	// OpenTimeout bounds the wait for the file lock held by another process (default 5s).
	OpenTimeout time.Duration
}

// DB is one open store file. Its methods are safe for concurrent use.
type DB struct {
	db  *bbolt.DB
	lim props.Limits
}

// Ping reports whether the store is open and readable (a read transaction).
func (d *DB) Ping() error {
	return d.db.View(func(*bbolt.Tx) error { return nil })
}

// Path returns the store file's path.
func (d *DB) Path() string { return d.db.Path() }

// Open opens or creates the store file at path (mode 0600).
func Open(path string, opt Options) (*DB, error) {
	if opt.OpenTimeout <= 0 {
		opt.OpenTimeout = DefaultOpenTimeout
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opt.OpenTimeout, NoSync: opt.NoSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketProps, bucketIntents, bucketLocks, bucketMeta, bucketSync} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := sweepSync(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyVersion); {
		case v == nil:
			return meta.Put(keyVersion, []byte{formatVersion})
		case len(v) != 1 || v[0] != formatVersion:
			return fmt.Errorf("unsupported format version %v", v)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return &DB{db: db, lim: opt.Limits.WithDefaults()}, nil
}

// Close closes the file. Nothing may use the DB, its Props or its LockPersister afterwards.
func (d *DB) Close() error {
	return d.db.Close()
}

// Props returns the dead-property store. It also implements props.Journal.
func (d *DB) Props() props.Store { return (*Props)(d) }

// LockPersister returns the persistence of the lock table, for memlock.Options.Persist.
func (d *DB) LockPersister() lock.Persister { return (*lockPersister)(d) }

// Props is the props.Store and props.Journal of a DB.
type Props DB

var (
	_ props.Store   = (*Props)(nil)
	_ props.Journal = (*Props)(nil)
)

// Get implements props.Store.
func (s *Props) Get(ctx context.Context, p davpath.Path) ([]props.Property, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ps []props.Property
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketProps).Get(propKey(p))
		if v == nil {
			return nil
		}
		var err error
		ps, err = decodeProps(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: get %s: %w", p, err)
	}
	return ps, nil
}

// GetDir implements props.Store with one prefix scan of dir+"\x00".
func (s *Props) GetDir(ctx context.Context, dir davpath.Path) (map[string][]props.Property, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := append([]byte(dir), 0)
	out := make(map[string][]props.Property)
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketProps).Cursor()
		n := 0
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			ps, err := decodeProps(v)
			if err != nil {
				return err
			}
			out[string(k[len(prefix):])] = ps
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: getdir %s: %w", dir, err)
	}
	return out, nil
}

// Patch implements props.Store in one transaction.
func (s *Props) Patch(ctx context.Context, p davpath.Path, ops []props.Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketProps)
		key := propKey(p)
		var cur []props.Property
		if v := b.Get(key); v != nil {
			var err error
			if cur, err = decodeProps(v); err != nil {
				return err
			}
		}
		next, err := props.Apply(cur, ops, s.lim)
		if err != nil {
			return err
		}
		if next == nil {
			return b.Delete(key)
		}
		return b.Put(key, encodeProps(next))
	})
	if err != nil {
		return fmt.Errorf("bolt: patch %s: %w", p, err)
	}
	return nil
}

// Copy implements props.Store in one transaction.
func (s *Props) Copy(ctx context.Context, src, dst davpath.Path, recursive bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.none(src, dst) {
		return nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketProps)
		var entries []entry
		if recursive {
			entries = subtree(b, src)
		} else if v := b.Get(propKey(src)); v != nil {
			entries = []entry{{src, bytes.Clone(v)}}
		}
		if err := deleteAll(b, subtree(b, dst)); err != nil {
			return err
		}
		return putRebased(b, entries, src, dst)
	})
	if err != nil {
		return fmt.Errorf("bolt: copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// Move implements props.Store in one transaction.
func (s *Props) Move(ctx context.Context, src, dst davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.none(src, dst) {
		return nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error { return move(tx, src, dst) })
	if err != nil {
		return fmt.Errorf("bolt: move %s to %s: %w", src, dst, err)
	}
	return nil
}

func move(tx *bbolt.Tx, src, dst davpath.Path) error {
	b := tx.Bucket(bucketProps)
	entries := subtree(b, src)
	if err := deleteAll(b, entries); err != nil {
		return err
	}
	if err := deleteAll(b, subtree(b, dst)); err != nil {
		return err
	}
	return putRebased(b, entries, src, dst)
}

// Delete implements props.Store in one transaction.
func (s *Props) Delete(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.none(p) {
		return nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketProps)
		return deleteAll(b, subtree(b, p))
	})
	if err != nil {
		return fmt.Errorf("bolt: delete %s: %w", p, err)
	}
	return nil
}

// none reports, in a read-only transaction, that no resource at or below any of paths has a
// property. Write transactions (and their fsync) are then skipped: most DELETEs, COPYs and
// MOVEs concern resources without dead properties.
func (s *Props) none(paths ...davpath.Path) bool {
	empty := true
	_ = s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketProps)
		for _, p := range paths {
			if !emptyBelow(b, p) {
				empty = false
				return nil
			}
		}
		return nil
	})
	return empty
}

// emptyBelow reports whether neither p nor anything below it has an entry.
func emptyBelow(b *bbolt.Bucket, p davpath.Path) bool {
	c := b.Cursor()
	if p.IsRoot() {
		k, _ := c.First()
		return k == nil
	}
	if b.Get(propKey(p)) != nil {
		return false
	}
	for _, prefix := range [][]byte{append([]byte(p), 0), append([]byte(p), '/')} {
		if k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			return false
		}
	}
	return true
}

// entry is one resource's key in the props bucket, decoded to its path, and a copy of its
// encoded value (bbolt's memory is invalidated by writes in the same transaction).
type entry struct {
	path  davpath.Path
	value []byte
}

// subtree returns the entries of p and everything below it.
func subtree(b *bbolt.Bucket, p davpath.Path) []entry {
	var out []entry
	scan := func(prefix []byte) {
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			q, err := keyPath(k)
			if err != nil {
				continue // Unreachable for keys this package wrote; never moved along.
			}
			out = append(out, entry{q, bytes.Clone(v)})
		}
	}
	if p.IsRoot() {
		scan(nil)
		return out
	}
	if v := b.Get(propKey(p)); v != nil {
		out = append(out, entry{p, bytes.Clone(v)})
	}
	scan(append([]byte(p), 0))   // direct members
	scan(append([]byte(p), '/')) // deeper descendants
	return out
}

func deleteAll(b *bbolt.Bucket, entries []entry) error {
	for _, e := range entries {
		if err := b.Delete(propKey(e.path)); err != nil {
			return err
		}
	}
	return nil
}

func putRebased(b *bbolt.Bucket, entries []entry, src, dst davpath.Path) error {
	for _, e := range entries {
		if err := b.Put(propKey(e.path.Rebase(src, dst)), e.value); err != nil {
			return err
		}
	}
	return nil
}

// Intend implements props.Journal. The record is committed (and fsync'd unless NoSync) before
// Intend returns. complete may be called more than once; calls after the first do nothing.
func (s *Props) Intend(ctx context.Context, in props.Intent) (func(applied bool) error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.Kind != props.IntentMove && in.Kind != props.IntentDelete {
		return nil, fmt.Errorf("bolt: intend: unknown intent kind %d", in.Kind)
	}
	if (in.Kind == props.IntentDelete && s.none(in.Src)) || (in.Kind == props.IntentMove && s.none(in.Src, in.Dst)) {
		// No property can end up on the wrong resource: nothing to record or to apply.
		return func(bool) error { return nil }, nil
	}
	var key []byte
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketIntents)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		key = binary.BigEndian.AppendUint64(nil, seq)
		return b.Put(key, encodeIntent(in))
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: intend: %w", err)
	}
	var once sync.Once
	return func(applied bool) error {
		err := errors.New("bolt: intent already completed")
		once.Do(func() {
			err = s.db.Update(func(tx *bbolt.Tx) error {
				if applied {
					if err := applyIntent(tx, in, nil); err != nil {
						return err
					}
				}
				return tx.Bucket(bucketIntents).Delete(key)
			})
			if err != nil {
				err = fmt.Errorf("bolt: complete intent: %w", err)
			}
		})
		return err
	}, nil
}

// applyIntent performs the property change of in. For a delete, exists (when not nil) limits
// the removal to the paths that no longer exist.
func applyIntent(tx *bbolt.Tx, in props.Intent, exists func(davpath.Path) bool) error {
	if in.Kind == props.IntentMove {
		return move(tx, in.Src, in.Dst)
	}
	b := tx.Bucket(bucketProps)
	entries := subtree(b, in.Src)
	if exists != nil {
		kept := entries[:0]
		for _, e := range entries {
			if !exists(e.path) {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	return deleteAll(b, entries)
}

// Recover implements props.Journal: each record left by a crash is replayed (or dropped) and
// cleared in its own transaction, oldest first.
func (s *Props) Recover(ctx context.Context, exists func(davpath.Path) bool) error {
	type record struct {
		key []byte
		in  props.Intent
		err error
	}
	var records []record
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketIntents).ForEach(func(k, v []byte) error {
			in, err := decodeIntent(v)
			records = append(records, record{bytes.Clone(k), in, err})
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("bolt: recover: %w", err)
	}
	for _, r := range records {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.db.Update(func(tx *bbolt.Tx) error {
			switch {
			case r.err != nil:
				// An unreadable record cannot be replayed; dropping it is the same outcome
				// as a crash before Intend returned.
			case r.in.Kind == props.IntentMove:
				// RFC 4918 §9.9: MOVE is a COPY then a DELETE of the source. Only when the
				// storage shows both halves done do the properties follow.
				if exists(r.in.Dst) && !exists(r.in.Src) {
					if err := applyIntent(tx, r.in, nil); err != nil {
						return err
					}
				}
			case r.in.Kind == props.IntentDelete:
				if err := applyIntent(tx, r.in, exists); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketIntents).Delete(r.key)
		})
		if err != nil {
			return fmt.Errorf("bolt: recover %v: %w", r.in, err)
		}
	}
	return nil
}

// lockPersister is the lock.Persister of a DB.
type lockPersister DB

var _ lock.Persister = (*lockPersister)(nil)

// Load implements lock.Persister.
func (p *lockPersister) Load() ([]lock.Lock, error) {
	var ls []lock.Lock
	err := p.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLocks).ForEach(func(k, v []byte) error {
			l, err := decodeLock(string(k), v)
			if err != nil {
				return fmt.Errorf("lock %q: %w", k, err)
			}
			ls = append(ls, l)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: load locks: %w", err)
	}
	return ls, nil
}

// Put implements lock.Persister.
func (p *lockPersister) Put(l lock.Lock) error {
	err := p.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLocks).Put([]byte(l.Token), encodeLock(l))
	})
	if err != nil {
		return fmt.Errorf("bolt: put lock: %w", err)
	}
	return nil
}

// Delete implements lock.Persister.
func (p *lockPersister) Delete(token string) error {
	err := p.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLocks).Delete([]byte(token))
	})
	if err != nil {
		return fmt.Errorf("bolt: delete lock: %w", err)
	}
	return nil
}
