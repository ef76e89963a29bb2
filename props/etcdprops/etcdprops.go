// Package etcdprops is the props.Store of cluster mode: dead properties in etcd, shared by
// every davd node.
//
// A resource's properties are one etcd key, <prefix>p/<parent path>\x00<name> (the root:
// <prefix>p/\x00), whose value is the JSON of its properties in order. Keying by the parent
// makes the members of a collection one key range (GetDir, the PROPFIND Depth 1 case, is one
// read), and the subtree of a collection two ranges: its members, and every key whose parent
// path lies below it.
//
// A PROPPATCH is one transaction conditioned on the revision it read, so it is all or nothing
// (RFC 4918 §9.2) and concurrent PROPPATCHes of one resource from several nodes never lose
// each other's properties (the loser of a race applies its instructions again on the new
// value). Copy, Move and Delete of a subtree are range operations, in transactions of at most
// 100 operations: a subtree with more properties than that is moved in batches, not
// atomically. That is acceptable here because the engine calls Move after the storage rename
// and Delete after the removal: a node that dies half-way leaves some properties on the old
// path, where no resource is any more, and a later Delete or overwrite of that path removes
// them; a reader never sees properties of one resource on another.
package etcdprops

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
)

var _ props.Store = (*Store)(nil)

const (
	retries = 16
	txnOps  = 100
)

// Store is the etcd props.Store. It is safe for concurrent use, by any number of nodes.
type Store struct {
	cli     *clientv3.Client
	pre     string // <prefix>p/
	locks   string // the lock table's prefix (cluster.LockPrefix)
	lim     props.Limits
	timeout time.Duration
}

// New returns the Store of the keys under prefix (such as "/davd/").
func New(cli *clientv3.Client, prefix string, lim props.Limits) *Store {
	return &Store{cli: cli, pre: prefix + "p/", locks: cluster.LockPrefix(prefix), lim: lim.WithDefaults(), timeout: 5 * time.Second}
}

func (s *Store) key(p davpath.Path) string {
	if p.IsRoot() {
		return s.pre + "\x00"
	}
	return s.pre + string(p.Parent()) + "\x00" + p.Base()
}

// path is the inverse of key.
func (s *Store) path(key string) davpath.Path {
	rest := key[len(s.pre):]
	i := strings.LastIndexByte(rest, 0)
	parent, base := rest[:i], rest[i+1:]
	switch {
	case parent == "":
		return davpath.Root
	case parent == "/":
		return davpath.Path("/" + base)
	}
	return davpath.Path(parent + "/" + base)
}

// ranges are the key prefixes of p's strict subtree.
func (s *Store) ranges(p davpath.Path) []string {
	if p.IsRoot() {
		return []string{s.pre + "/"}
	}
	return []string{s.pre + string(p) + "\x00", s.pre + string(p) + "/"}
}

func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

func (s *Store) unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("etcdprops: %w: %v", storage.ErrUnavailable, err)
}

func decode(key string, b []byte) ([]props.Property, error) {
	var ps []props.Property
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("etcdprops: %s: %w", key, err)
	}
	return ps, nil
}

func encode(ps []props.Property) string {
	b, _ := json.Marshal(ps) // cannot fail: strings and byte slices
	return string(b)
}

// Get returns the dead properties of p in the order they were set.
//
// When it is the first read of a request with a memo (a PUT reads the target's properties
// before anything else, see cluster.Snapshot), the same transaction counts the lock table and
// the count is left in the memo: the lock manager's count, and its check of a write when there
// is no lock at all, then cost no round trip of their own.
func (s *Store) Get(ctx context.Context, p davpath.Path) ([]props.Property, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	var kvs []*mvccpb.KeyValue
	if cluster.WantSnapshot(ctx) {
		resp, err := s.cli.Txn(cctx).Then(clientv3.OpGet(s.key(p)), clientv3.OpGet(s.locks, clientv3.WithPrefix(), clientv3.WithCountOnly())).Commit()
		if err != nil {
			return nil, s.unavailable(ctx, err)
		}
		kvs = resp.Responses[0].GetResponseRange().GetKvs()
		cluster.Remember(ctx, cluster.Snapshot{Rev: resp.Header.Revision, LockPrefix: s.locks, Locks: resp.Responses[1].GetResponseRange().GetCount()})
	} else {
		resp, err := s.cli.Get(cctx, s.key(p))
		if err != nil {
			return nil, s.unavailable(ctx, err)
		}
		kvs = resp.Kvs
	}
	if len(kvs) == 0 {
		return nil, nil
	}
	return decode(s.key(p), kvs[0].Value)
}

// GetDir returns the properties of the members of dir, by name: one range read.
func (s *Store) GetDir(ctx context.Context, dir davpath.Path) (map[string][]props.Property, error) {
	out := make(map[string][]props.Property)
	err := s.scan(ctx, s.pre+string(dir)+"\x00", func(key string, v []byte) error {
		ps, err := decode(key, v)
		out[key[strings.LastIndexByte(key, 0)+1:]] = ps
		return err
	})
	return out, err
}

// scan reads every key under prefix, a page at a time at one revision.
func (s *Store) scan(ctx context.Context, prefix string, f func(key string, v []byte) error) error {
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(1000)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		cctx, cancel := s.call(ctx)
		resp, err := s.cli.Get(cctx, from, opts...)
		cancel()
		if err != nil {
			return s.unavailable(ctx, err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			if err := f(string(kv.Key), kv.Value); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// backoff bounds the wait before the attempt-th try of a Patch: 1 ms after the first lost
// race, doubling up to 64 ms (at most about 0.7 s over all the retries).
func backoff(attempt int) time.Duration {
	return time.Millisecond << min(attempt-1, 6)
}

// Patch applies ops to p's properties, all or nothing, in one transaction.
func (s *Store) Patch(ctx context.Context, p davpath.Path, ops []props.Op) error {
	key := s.key(p)
	for attempt := range retries {
		if attempt > 0 {
			// Lost a race: wait a random while, up to twice as long each time, so that writers
			// of one resource that keep colliding (a loaded machine, many nodes) fall out of
			// step. A bound that grew linearly (2 ms a round) left six writers of one path
			// colliding 16 times in a row on a loaded 2-core machine.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(backoff(attempt)) + 1))):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		cctx, cancel := s.call(ctx)
		resp, err := s.cli.Get(cctx, key)
		cancel()
		if err != nil {
			return s.unavailable(ctx, err)
		}
		var cur []props.Property
		cond := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if len(resp.Kvs) == 1 {
			if cur, err = decode(key, resp.Kvs[0].Value); err != nil {
				return err
			}
			cond = clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)
		}
		next, err := props.Apply(cur, ops, s.lim)
		if err != nil {
			return err
		}
		op := clientv3.OpPut(key, encode(next))
		if next == nil {
			op = clientv3.OpDelete(key)
		}
		// A PROPPATCH under a lock commits under the lock manager's fence (cluster.Fence).
		ok, err := cluster.Commit(ctx, s.cli, s.timeout, []clientv3.Cmp{cond}, op)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("etcdprops: %w: %d concurrent PROPPATCHes of %s in a row", storage.ErrUnavailable, retries, p)
}

// collect reads the properties of p (and of its subtree when recursive), by path.
func (s *Store) collect(ctx context.Context, p davpath.Path, recursive bool) (map[davpath.Path]string, error) {
	out := make(map[davpath.Path]string)
	cctx, cancel := s.call(ctx)
	resp, err := s.cli.Get(cctx, s.key(p))
	cancel()
	if err != nil {
		return nil, s.unavailable(ctx, err)
	}
	if len(resp.Kvs) == 1 {
		out[p] = string(resp.Kvs[0].Value)
	}
	if recursive {
		for _, r := range s.ranges(p) {
			if err := s.scan(ctx, r, func(key string, v []byte) error {
				out[s.path(key)] = string(v)
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// deleteOps remove p and its subtree.
func (s *Store) deleteOps(p davpath.Path) []clientv3.Op {
	ops := []clientv3.Op{clientv3.OpDelete(s.key(p))}
	for _, r := range s.ranges(p) {
		ops = append(ops, clientv3.OpDelete(r, clientv3.WithPrefix()))
	}
	return ops
}

// run applies ops in transactions of at most txnOps operations.
func (s *Store) run(ctx context.Context, ops []clientv3.Op) error {
	defer cluster.Forget(ctx) // what the request read before the write no longer stands
	for len(ops) > 0 {
		n := min(len(ops), txnOps)
		cctx, cancel := s.call(ctx)
		_, err := s.cli.Txn(cctx).Then(ops[:n]...).Commit()
		cancel()
		if err != nil {
			return s.unavailable(ctx, err)
		}
		ops = ops[n:]
	}
	return nil
}

// Copy gives dst (and, when recursive, its subtree) the properties of src's, replacing what
// dst's subtree had.
func (s *Store) Copy(ctx context.Context, src, dst davpath.Path, recursive bool) error {
	return s.transfer(ctx, src, dst, recursive, false)
}

// Move moves the properties of src's subtree to dst's, replacing what dst's subtree had.
func (s *Store) Move(ctx context.Context, src, dst davpath.Path) error {
	return s.transfer(ctx, src, dst, true, true)
}

// transfer: dst's subtree is cleared first (a put inside a range deleted in the same
// transaction is refused by etcd), then the properties are written under dst, then, for a
// move, src's subtree is deleted.
func (s *Store) transfer(ctx context.Context, src, dst davpath.Path, recursive, move bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	moved, err := s.collect(ctx, src, recursive)
	if err != nil {
		return err
	}
	if err := s.run(ctx, s.deleteOps(dst)); err != nil {
		return err
	}
	var puts []clientv3.Op
	for p, v := range moved {
		puts = append(puts, clientv3.OpPut(s.key(p.Rebase(src, dst)), v))
	}
	if err := s.run(ctx, puts); err != nil {
		return err
	}
	if move {
		return s.run(ctx, s.deleteOps(src))
	}
	return nil
}

// Delete removes the properties of p and its subtree.
func (s *Store) Delete(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.run(ctx, s.deleteOps(p))
}
