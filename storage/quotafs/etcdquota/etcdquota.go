// Package etcdquota is the quotafs.Book of cluster mode: the figures of every quota account in
// etcd, so that every node checks its writes against the same bytes.
//
// An account is one key, <prefix>q/<hex of its tree>, holding {u: the bytes used, d: the sum of
// every change committed so far, r: per node, the bytes its writes in flight hold, k: a walk
// has set u}. Every change is a compare-and-swap on the key's revision, retried, so concurrent
// nodes never lose one. Each node keeps a lease with a key <prefix>qn/<node> on it; the
// reservations of a node whose key is gone (the lease expired: the node died, or lost etcd for
// longer than the lease) are dropped by the next change, so a dead node's uploads do not hold
// bytes for ever.
//
// One node walks a tree at a time: it claims <prefix>qw/<hex of the tree> on a lease of its
// own, which expires by itself if the node dies, reads d, walks, and sets u to the total plus
// what d grew by meanwhile: the single-node rule, a change in a part already walked counted
// once, one in a part not yet walked twice until the next walk, erring on the side of refusing.
package etcdquota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/quotafs"
)

// Options tune a Book.
type Options struct {
	// Timeout bounds each etcd call (default 5 s).
	Timeout time.Duration
	// NodeTTL is the lease of the node's key, in seconds: a dead node's reservations are
	// dropped that long after it stopped (default 10).
	NodeTTL int64
	// WalkTTL is the lease of a walk's claim, in seconds: the longest a walk may take before
	// another node may start one (default 600).
	WalkTTL int64
	// Logger receives the failures of calls that cannot return one (Release, Commit).
	Logger *slog.Logger
}

// Book is the shared quotafs.Book. It is safe for concurrent use, by any number of nodes.
type Book struct {
	cli    *clientv3.Client
	prefix string
	node   string
	lease  clientv3.LeaseID
	o      Options
	stop   context.CancelFunc
}

var _ quotafs.Book = (*Book)(nil)

// New registers a node (its lease and key) and returns its Book over the keys under prefix.
func New(ctx context.Context, cli *clientv3.Client, prefix string, o Options) (*Book, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = 10
	}
	if o.WalkTTL <= 0 {
		o.WalkTTL = 600
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	rand.Read(id[:])
	b := &Book{cli: cli, prefix: prefix, node: hex.EncodeToString(id[:]), o: o}
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	g, err := cli.Grant(cctx, o.NodeTTL)
	if err != nil {
		return nil, fmt.Errorf("etcdquota: lease: %w", err)
	}
	b.lease = g.ID
	if _, err := cli.Put(cctx, b.nodeKey(b.node), "", clientv3.WithLease(g.ID)); err != nil {
		return nil, fmt.Errorf("etcdquota: node key: %w", err)
	}
	kctx, stop := context.WithCancel(context.Background())
	ch, err := cli.KeepAlive(kctx, g.ID)
	if err != nil {
		stop()
		return nil, fmt.Errorf("etcdquota: keepalive: %w", err)
	}
	go func() {
		for range ch {
		}
	}()
	b.stop = stop
	return b, nil
}

// Close ends the node: its key and its reservations go with its lease.
func (b *Book) Close() error {
	b.stop()
	ctx, cancel := context.WithTimeout(context.Background(), b.o.Timeout)
	defer cancel()
	_, err := b.cli.Revoke(ctx, b.lease)
	return err
}

func (b *Book) key(t davpath.Path) string {
	return b.prefix + "q/" + hex.EncodeToString([]byte(t.String()))
}
func (b *Book) walkKey(t davpath.Path) string {
	return b.prefix + "qw/" + hex.EncodeToString([]byte(t.String()))
}
func (b *Book) nodeKey(n string) string { return b.prefix + "qn/" + n }

// state is an account's value.
type state struct {
	U int64            `json:"u"`
	D int64            `json:"d"`
	R map[string]int64 `json:"r,omitempty"`
	K bool             `json:"k,omitempty"`
}

// reserved is the sum of the reservations.
func (s *state) reserved() int64 {
	var n int64
	for _, v := range s.R {
		n += v
	}
	return n
}

// read returns the states of ts (zero for a missing key), their revisions (0: missing) and the
// live nodes, in one read, with the reservations of dead nodes left out.
func (b *Book) read(ctx context.Context, ts []davpath.Path) ([]state, []int64, error) {
	ops := make([]clientv3.Op, 0, len(ts)+1)
	for _, t := range ts {
		ops = append(ops, clientv3.OpGet(b.key(t)))
	}
	ops = append(ops, clientv3.OpGet(b.prefix+"qn/", clientv3.WithPrefix(), clientv3.WithKeysOnly()))
	resp, err := b.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, nil, err
	}
	live := map[string]bool{b.node: true}
	for _, kv := range resp.Responses[len(ts)].GetResponseRange().GetKvs() {
		live[strings.TrimPrefix(string(kv.Key), b.prefix+"qn/")] = true
	}
	sts := make([]state, len(ts))
	revs := make([]int64, len(ts))
	for i := range ts {
		kvs := resp.Responses[i].GetResponseRange().GetKvs()
		if len(kvs) == 1 {
			if err := json.Unmarshal(kvs[0].Value, &sts[i]); err != nil {
				return nil, nil, fmt.Errorf("etcdquota: account %s: %w", ts[i], err)
			}
			revs[i] = kvs[0].ModRevision
		}
		for n := range sts[i].R {
			if !live[n] {
				delete(sts[i].R, n)
			}
		}
	}
	return sts, revs, nil
}

// update applies fn to the states of ts and swaps them in, retrying on a concurrent change; an
// error of fn ends it unchanged.
func (b *Book) update(ts []davpath.Path, fn func(i int, s *state) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.o.Timeout)
	defer cancel()
	for range 64 {
		sts, revs, err := b.read(ctx, ts)
		if err != nil {
			return fmt.Errorf("etcdquota: %w: %w", storage.ErrUnavailable, err)
		}
		cmps := make([]clientv3.Cmp, len(ts))
		puts := make([]clientv3.Op, len(ts))
		for i := range ts {
			if err := fn(i, &sts[i]); err != nil {
				return err
			}
			v, _ := json.Marshal(sts[i])
			cmps[i] = clientv3.Compare(clientv3.ModRevision(b.key(ts[i])), "=", revs[i])
			puts[i] = clientv3.OpPut(b.key(ts[i]), string(v))
		}
		resp, err := b.cli.Txn(ctx).If(cmps...).Then(puts...).Commit()
		if err != nil {
			return fmt.Errorf("etcdquota: %w: %w", storage.ErrUnavailable, err)
		}
		if resp.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("etcdquota: %w: the accounts changed under every attempt", storage.ErrUnavailable)
}

func trees(as []quotafs.Account) []davpath.Path {
	out := make([]davpath.Path, len(as))
	for i, a := range as {
		out[i] = a.Tree
	}
	return out
}

// Reserve implements quotafs.Book.
func (b *Book) Reserve(as []quotafs.Account, n int64) error {
	return b.update(trees(as), func(i int, s *state) error {
		if s.U+s.reserved()+n > as[i].Limit {
			return fmt.Errorf("%w: %s: %d bytes more would pass its quota of %d (%d used)", storage.ErrQuotaExceeded, as[i].Tree, n, as[i].Limit, s.U)
		}
		if s.R == nil {
			s.R = map[string]int64{}
		}
		s.R[b.node] += n
		return nil
	})
}

// Release implements quotafs.Book.
func (b *Book) Release(as []quotafs.Account, n int64) {
	err := b.update(trees(as), func(_ int, s *state) error {
		if s.R[b.node] -= n; s.R[b.node] <= 0 {
			delete(s.R, b.node)
		}
		return nil
	})
	if err != nil {
		b.o.Logger.Warn("quota: releasing a reservation", "err", err)
	}
}

// Commit implements quotafs.Book.
func (b *Book) Commit(as []quotafs.Account, d int64) {
	err := b.update(trees(as), func(_ int, s *state) error {
		s.U += d
		s.D += d
		return nil
	})
	if err != nil {
		b.o.Logger.Warn("quota: recording a change (the next walk corrects the figure)", "err", err)
	}
}

// Figures implements quotafs.Book.
func (b *Book) Figures(a quotafs.Account) (int64, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.o.Timeout)
	defer cancel()
	sts, _, err := b.read(ctx, []davpath.Path{a.Tree})
	if err != nil {
		return 0, 0, fmt.Errorf("etcdquota: %w: %w", storage.ErrUnavailable, err)
	}
	return sts[0].U, sts[0].reserved(), nil
}

// Known implements quotafs.Book: a walk, on any node, has set the figure.
func (b *Book) Known(a quotafs.Account) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.o.Timeout)
	defer cancel()
	sts, revs, err := b.read(ctx, []davpath.Path{a.Tree})
	if err != nil {
		return false, err
	}
	return revs[0] != 0 && sts[0].K, nil
}

// Forget implements quotafs.Book. It keeps the figures: the other nodes, whose configuration
// may still bound the tree, share them.
func (b *Book) Forget(davpath.Path) {}

// BeginWalk implements quotafs.Book: the walk is this node's when it claims the tree's walk
// key; the claim goes when the walk ends, or with its lease if the node dies.
func (b *Book) BeginWalk(a quotafs.Account) (func(int64, bool), bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.o.Timeout)
	defer cancel()
	g, err := b.cli.Grant(ctx, b.o.WalkTTL)
	if err != nil {
		return nil, false, err
	}
	wk := b.walkKey(a.Tree)
	resp, err := b.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(wk), "=", 0)).
		Then(clientv3.OpPut(wk, b.node, clientv3.WithLease(g.ID))).Commit()
	if err != nil || !resp.Succeeded {
		b.cli.Revoke(ctx, g.ID)
		return nil, false, err
	}
	sts, _, err := b.read(ctx, []davpath.Path{a.Tree})
	if err != nil {
		b.cli.Revoke(ctx, g.ID)
		return nil, false, err
	}
	d0 := sts[0].D
	return func(total int64, ok bool) {
		err := b.update([]davpath.Path{a.Tree}, func(_ int, s *state) error {
			if ok {
				s.U = total + (s.D - d0)
			}
			s.K = true
			return nil
		})
		if err != nil {
			b.o.Logger.Warn("quota: recording a walk", "tree", a.Tree.String(), "err", err)
		}
		rctx, cancel := context.WithTimeout(context.Background(), b.o.Timeout)
		defer cancel()
		b.cli.Revoke(rctx, g.ID)
	}, true, nil
}
