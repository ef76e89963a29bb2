// Package clustersync is the syncstore.Store of cluster mode, shared by every node: a token
// issued by one node is good on any other, and survives restarts.
//
// A snapshot may list hundreds of thousands of members, more than an etcd request carries
// (1.5 MiB), so its entries are an S3 object, y/ID, written as they stream (multipart, never
// the whole snapshot in memory beyond the client's part buffer) and never changed after. etcd
// holds, per Key, a small index <prefix>y/HASH: the newest snapshots' ids, digests and sizes,
// at most perKey of them, newest first. Save writes the object first and then swaps the index
// in one compare-and-swap transaction (retried on a concurrent change), so an id in the index
// always names a complete object; objects the index forgets are removed at once, and an
// object whose index update failed is removed too.
//
// Sweep, which every node runs (Run), bounds the whole store and collects what a dying node
// left: past maxEntries entries over all indexes, the snapshots saved or reused longest ago,
// of any collection, are forgotten first (their index swapped by compare-and-swap, then the
// object removed), as the embedded store does; and a y/ object older than the grace period
// that no index names (a node died between writing it and swapping the index) is removed. A
// Save takes far less than the grace period, so an object whose index swap is still to come
// is never taken.
package clustersync

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/syncstore"
)

// Store is the cluster sync store. It is safe for concurrent use, by any number of nodes.
type Store struct {
	c          *cluster.Conn
	perKey     int
	maxEntries int
	now        func() time.Time
}

var _ syncstore.Store = (*Store)(nil)

// New returns the store over c, keeping perKey snapshots per Key (syncstore.DefaultPerKey if
// not positive) and, once Sweep has run, about maxEntries entries in all
// (syncstore.DefaultMaxEntries if not positive).
func New(c *cluster.Conn, perKey, maxEntries int) *Store {
	if perKey <= 0 {
		perKey = syncstore.DefaultPerKey
	}
	if maxEntries <= 0 {
		maxEntries = syncstore.DefaultMaxEntries
	}
	return &Store{c: c, perKey: perKey, maxEntries: maxEntries, now: time.Now}
}

// ref is one snapshot in a Key's index.
type ref struct {
	ID     string `json:"id"`
	Digest uint64 `json:"d"`
	N      int    `json:"n"`
	// T is when the snapshot was saved or last reused (Unix seconds; refreshed at most once
	// per reuseStamp), the age by which the total bound forgets.
	T int64 `json:"t,omitempty"`
}

// reuseStamp is how stale a reused snapshot's T may get before a reuse writes it again: the
// bound's order needs no finer grain, and a sync loop does not write etcd on every REPORT.
const reuseStamp = time.Hour

// indexKey is the etcd key of k's index: a hash, so that any root and principal make one key.
func (s *Store) indexKey(k syncstore.Key) string {
	h := sha256.New()
	lvl := "1"
	if k.Infinite {
		lvl = "i"
	}
	fmt.Fprintf(h, "%d:%s%d:%s%s", len(k.Root), k.Root, len(k.Principal), k.Principal, lvl)
	return s.c.Prefix + "y/" + hex.EncodeToString(h.Sum(nil))
}

func object(id string) string { return "y/" + id }

// index reads k's index and its revision (0: none).
func (s *Store) index(ctx context.Context, key string) ([]ref, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.c.Timeout)
	defer cancel()
	resp, err := s.c.Etcd.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	var refs []ref
	if err := json.Unmarshal(resp.Kvs[0].Value, &refs); err != nil {
		return nil, 0, fmt.Errorf("clustersync: index %s: %w", key, err)
	}
	return refs, resp.Kvs[0].ModRevision, nil
}

// Save implements syncstore.Store.
func (s *Store) Save(ctx context.Context, key syncstore.Key, entries iter.Seq[syncstore.Entry]) (string, error) {
	id := syncstore.NewID()
	pr, pw := io.Pipe()
	d := syncstore.NewDigest()
	n := 0
	// The entries are produced by the caller's walk (which may write its response as it goes):
	// it runs here, feeding the upload through a pipe, and Save returns only once it has
	// stopped, so nothing of it runs after Save.
	done := make(chan struct{})
	go func() {
		defer close(done)
		bw := bufio.NewWriterSize(pw, 64<<10)
		var hdr [binary.MaxVarintLen64 + 9]byte
		for e := range entries {
			if ctx.Err() != nil {
				break
			}
			d.Add(e)
			n++
			l := binary.PutUvarint(hdr[:], uint64(len(e.Path)))
			if e.Dir {
				hdr[l] = 1
			} else {
				hdr[l] = 0
			}
			binary.BigEndian.PutUint64(hdr[l+1:], e.Tag)
			bw.Write(hdr[:l+9])
			if _, err := bw.WriteString(e.Path); err != nil {
				break
			}
		}
		if err := ctx.Err(); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(bw.Flush())
	}()
	_, err := s.c.S3.PutObject(ctx, s.c.Bucket, object(id), pr, -1, minio.PutObjectOptions{PartSize: 5 << 20, DisableContentSha256: true})
	pr.CloseWithError(errors.New("clustersync: upload ended"))
	<-done
	if err != nil {
		return "", fmt.Errorf("clustersync: writing snapshot: %w", err)
	}
	ik := s.indexKey(key)
	for attempt := 0; ; attempt++ {
		refs, rev, err := s.index(ctx, ik)
		if err != nil {
			s.remove(ctx, id)
			return "", err
		}
		now := s.now().Unix()
		if len(refs) > 0 && refs[0].Digest == d.Sum() && refs[0].N == n {
			s.remove(ctx, id) // an unchanged collection keeps its token
			if now-refs[0].T >= int64(reuseStamp/time.Second) {
				// Best effort: a lost race only leaves the older stamp.
				refs[0].T = now
				s.swap(ctx, ik, rev, refs)
			}
			return refs[0].ID, nil
		}
		next := append([]ref{{ID: id, Digest: d.Sum(), N: n, T: now}}, refs...)
		var forgotten []ref
		if len(next) > s.perKey {
			next, forgotten = next[:s.perKey], next[s.perKey:]
		}
		ok, err := s.swap(ctx, ik, rev, next)
		if err != nil {
			s.remove(ctx, id)
			return "", err
		}
		if ok {
			for _, f := range forgotten {
				s.remove(ctx, f.ID)
			}
			return id, nil
		}
		if attempt >= 20 {
			s.remove(ctx, id)
			return "", errors.New("clustersync: index changed under every attempt")
		}
	}
}

// swap replaces the index at key with refs if it is still at revision rev.
func (s *Store) swap(ctx context.Context, key string, rev int64, refs []ref) (bool, error) {
	val, _ := json.Marshal(refs)
	cctx, cancel := context.WithTimeout(ctx, s.c.Timeout)
	defer cancel()
	op := clientv3.OpPut(key, string(val))
	if len(refs) == 0 {
		op = clientv3.OpDelete(key)
	}
	resp, err := s.c.Etcd.Txn(cctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(op).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// index is one Key's index as Sweep read it.
type index struct {
	key  string
	rev  int64
	refs []ref
}

// indexes reads every index, a page at a time.
func (s *Store) indexes(ctx context.Context) ([]index, error) {
	prefix := s.c.Prefix + "y/"
	end := clientv3.GetPrefixRangeEnd(prefix)
	var out []index
	from := prefix
	for {
		cctx, cancel := context.WithTimeout(ctx, s.c.Timeout)
		resp, err := s.c.Etcd.Get(cctx, from, clientv3.WithRange(end), clientv3.WithLimit(500))
		cancel()
		if err != nil {
			return nil, err
		}
		for _, kv := range resp.Kvs {
			var refs []ref
			if err := json.Unmarshal(kv.Value, &refs); err != nil {
				continue // not an index this version wrote; left alone
			}
			out = append(out, index{key: string(kv.Key), rev: kv.ModRevision, refs: refs})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Sweep forgets the snapshots saved or reused longest ago while the store holds more than
// maxEntries entries, and removes the snapshot objects older than grace that no index names.
// It reports how many snapshots it forgot and how many objects it removed.
func (s *Store) Sweep(ctx context.Context, grace time.Duration) (forgot, removed int, err error) {
	idx, err := s.indexes(ctx)
	if err != nil {
		return 0, 0, err
	}
	named := map[string]bool{}
	total := 0
	type old struct {
		i int // in idx
		r ref
	}
	var all []old
	for i, x := range idx {
		for _, r := range x.refs {
			named[r.ID] = true
			total += r.N
			all = append(all, old{i, r})
		}
	}
	if total > s.maxEntries {
		// Oldest first; a Key's newer snapshots stay longer than its older ones.
		slices.SortStableFunc(all, func(a, b old) int { return cmp.Compare(a.r.T, b.r.T) })
		drop := map[int]map[string]bool{}
		for _, o := range all {
			if total <= s.maxEntries {
				break
			}
			if drop[o.i] == nil {
				drop[o.i] = map[string]bool{}
			}
			drop[o.i][o.r.ID] = true
			total -= o.r.N
		}
		for i, ids := range drop {
			x := idx[i]
			keep := slices.DeleteFunc(slices.Clone(x.refs), func(r ref) bool { return ids[r.ID] })
			ok, err := s.swap(ctx, x.key, x.rev, keep)
			if err != nil {
				return forgot, removed, err
			}
			if !ok {
				continue // changed meanwhile: the next sweep sees it anew
			}
			for id := range ids {
				s.remove(ctx, id)
				delete(named, id)
				forgot++
			}
		}
	}
	cutoff := s.now().Add(-grace)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.c.S3.ListObjects(lctx, s.c.Bucket, minio.ListObjectsOptions{Prefix: "y/", Recursive: true}) {
		if obj.Err != nil {
			return forgot, removed, obj.Err
		}
		id := strings.TrimPrefix(obj.Key, "y/")
		if named[id] || !obj.LastModified.Before(cutoff) {
			continue
		}
		s.remove(ctx, id)
		removed++
	}
	return forgot, removed, nil
}

// Run sweeps every interval, the objects of a grace period old, until ctx ends; logf gets the
// errors.
func (s *Store) Run(ctx context.Context, interval, grace time.Duration, logf func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, _, err := s.Sweep(ctx, grace); err != nil && ctx.Err() == nil {
				logf(err)
			}
		}
	}
}

// remove deletes a snapshot object, best effort: nothing reads one the index does not name.
func (s *Store) remove(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.c.Timeout)
	defer cancel()
	s.c.S3.RemoveObject(ctx, s.c.Bucket, object(id), minio.RemoveObjectOptions{})
}

// Load implements syncstore.Store.
func (s *Store) Load(ctx context.Context, key syncstore.Key, id string) iter.Seq2[syncstore.Entry, error] {
	return func(yield func(syncstore.Entry, error) bool) {
		refs, _, err := s.index(ctx, s.indexKey(key))
		if err != nil {
			yield(syncstore.Entry{}, err)
			return
		}
		n := -1
		for _, r := range refs {
			if r.ID == id {
				n = r.N
			}
		}
		if n < 0 {
			yield(syncstore.Entry{}, syncstore.ErrUnknown)
			return
		}
		obj, err := s.c.S3.GetObject(ctx, s.c.Bucket, object(id), minio.GetObjectOptions{})
		if err != nil {
			yield(syncstore.Entry{}, err)
			return
		}
		defer obj.Close()
		br := bufio.NewReaderSize(obj, 64<<10)
		var fixed [9]byte
		var path []byte
		for i := 0; i < n; i++ {
			l, err := binary.ReadUvarint(br)
			if err == nil {
				_, err = io.ReadFull(br, fixed[:])
			}
			if err == nil && l > 1<<20 {
				err = errors.New("clustersync: corrupt snapshot")
			}
			if err == nil {
				if uint64(cap(path)) < l {
					path = make([]byte, l)
				}
				path = path[:l]
				_, err = io.ReadFull(br, path)
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					err = fmt.Errorf("clustersync: snapshot %s is short: %w", id, err)
				}
				yield(syncstore.Entry{}, err)
				return
			}
			e := syncstore.Entry{Path: string(path), Dir: fixed[0] == 1, Tag: binary.BigEndian.Uint64(fixed[1:])}
			if !yield(e, nil) {
				return
			}
		}
	}
}
