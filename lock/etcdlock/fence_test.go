package etcdlock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/lock/etcdlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/etcdprops"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/clusterfs"
)

// node is one davd node's view of the cluster: its lock manager, storage and property store.
type node struct {
	locks *etcdlock.Manager
	fs    *clusterfs.FS
	props *etcdprops.Store
}

func newNode(t *testing.T, e *clustertest.Etcd, s *clustertest.S3) node {
	t.Helper()
	c, err := cluster.Open(context.Background(), cluster.Config{
		Endpoints: e.Endpoints(), Prefix: "/fence/",
		S3Endpoint: s.Endpoint, Bucket: "fence", Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
		CreateBucket: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f, err := clusterfs.New(context.Background(), c, clusterfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return node{etcdlock.New(c.Etcd, c.Prefix, lock.Limits{}), f, etcdprops.New(c.Etcd, c.Prefix, props.Limits{})}
}

// confirm is what the engine does before a write: a fence slot, then Confirm with it.
func (n node) confirm(t *testing.T, now time.Time, tokens []string, targets ...lock.Target) (context.Context, func()) {
	t.Helper()
	ctx := lock.WithFenceSlot(context.Background())
	release, err := n.locks.Confirm(ctx, now, lock.Submitted{Principal: "u", Tokens: tokens}, targets...)
	if err != nil {
		t.Fatalf("Confirm %v: %v", targets, err)
	}
	return ctx, release
}

func (n node) put(ctx context.Context, p davpath.Path, body string) error {
	_, _, err := n.fs.Put(ctx, p, strings.NewReader(body), storage.PutOptions{Size: int64(len(body))})
	return err
}

func (n node) read(t *testing.T, p davpath.Path) string {
	t.Helper()
	f, _, err := n.fs.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFencing is issue 14's fencing case in process: node A confirms a write under a short
// lock and stalls; the lock lapses, node B locks the resource and writes; when A's write
// finally commits, it must fail (423) and leave B's content, for contents and for dead
// properties alike. A write confirmed with no lock at all is fenced the same way against a
// lock granted before it commits, and a write whose own lock is refreshed meanwhile still lands.
func TestFencing(t *testing.T) {
	e, s := clustertest.StartEtcd(t, 1), clustertest.StartS3(t)
	a, b := newNode(t, e, s), newNode(t, e, s)
	ctx := context.Background()
	f := davpath.Path("/f")
	if err := a.put(ctx, f, "old"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	l1, err := a.locks.Create(ctx, t0, lock.Lock{Root: f, Depth: lock.DepthZero, Principal: "u", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	actx, arelease := a.confirm(t, t0, []string{l1.Token}, lock.Target{Path: f})
	defer arelease()
	// A stalls here; B's clock is past l1's expiry.
	t1 := t0.Add(3 * time.Second)
	l2, err := b.locks.Create(ctx, t1, lock.Lock{Root: f, Depth: lock.DepthZero, Principal: "v", Timeout: time.Minute})
	if err != nil {
		t.Fatalf("B: LOCK after A's lock lapsed: %v", err)
	}
	bctx := lock.WithFenceSlot(ctx)
	rel, err := b.locks.Confirm(bctx, t1, lock.Submitted{Principal: "v", Tokens: []string{l2.Token}}, lock.Target{Path: f})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.put(bctx, f, "B's content"); err != nil {
		t.Fatalf("B: PUT under its lock: %v", err)
	}
	if err := b.props.Patch(bctx, f, []props.Op{{Prop: props.Property{Name: props.Name{Space: "urn:x", Local: "who"}, Value: []byte("B")}}}); err != nil {
		t.Fatalf("B: PROPPATCH under its lock: %v", err)
	}
	rel()
	// A resumes.
	if err := a.put(actx, f, "A's stale write"); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("A: PUT confirmed under a lapsed lock: %v, want ErrLocked", err)
	}
	if err := a.props.Patch(actx, f, []props.Op{{Prop: props.Property{Name: props.Name{Space: "urn:x", Local: "who"}, Value: []byte("A")}}}); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("A: PROPPATCH confirmed under a lapsed lock: %v, want ErrLocked", err)
	}
	if got := a.read(t, f); got != "B's content" {
		t.Fatalf("content after A's stale write: %q, want B's", got)
	}
	ps, err := a.props.Get(ctx, f)
	if err != nil || len(ps) != 1 || string(ps[0].Value) != "B" {
		t.Fatalf("properties after A's stale PROPPATCH: %v %v, want B's", ps, err)
	}

	// No lock at Confirm, one granted by B before A commits.
	g := davpath.Path("/g")
	actx, arelease2 := a.confirm(t, t1, nil, lock.Target{Path: g}, lock.Target{Path: g.Parent()})
	defer arelease2()
	if _, err := b.locks.Create(ctx, t1, lock.Lock{Root: g, Depth: lock.DepthZero, Principal: "v", Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := a.put(actx, g, "unlocked write"); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("A: PUT confirmed before B's LOCK: %v, want ErrLocked", err)
	}
	if _, err := a.fs.Stat(ctx, g); err == nil {
		t.Fatal("A's fenced PUT created the resource anyway")
	}

	// A's own lock refreshed (by B) between Confirm and commit: the fence renews.
	h := davpath.Path("/h")
	l3, err := a.locks.Create(ctx, t1, lock.Lock{Root: h, Depth: lock.DepthZero, Principal: "u", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	actx, arelease3 := a.confirm(t, t1, []string{l3.Token}, lock.Target{Path: h}, lock.Target{Path: h.Parent()})
	defer arelease3()
	if _, err := b.locks.Refresh(ctx, t1, h, l3.Token, "u", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.put(actx, h, "still mine"); err != nil {
		t.Fatalf("A: PUT under its refreshed lock: %v", err)
	}
	if got := b.read(t, h); got != "still mine" {
		t.Fatalf("B reads %q", got)
	}
}

// TestFencingFromTheFirstRead: a request whose first read (the property read that begins a
// PUT) counted no lock at all is confirmed without reading the lock table, on that read's
// revision; a lock granted through another node after that read, before or after Confirm,
// still stops the write at its commit.
func TestFencingFromTheFirstRead(t *testing.T) {
	e, s := clustertest.StartEtcd(t, 1), clustertest.StartS3(t)
	a, b := newNode(t, e, s), newNode(t, e, s)
	bg := context.Background()
	now := time.Now()
	for i, before := range []bool{true, false} {
		p := davpath.Path(fmt.Sprintf("/first%d", i))
		ctx := lock.WithFenceSlot(storage.WithMemo(bg))
		if _, err := a.props.Get(ctx, p); err != nil {
			t.Fatal(err)
		}
		if snap, ok := cluster.SnapshotOf(ctx); !ok || snap.Locks != 0 || snap.LockPrefix != cluster.LockPrefix("/fence/") {
			t.Fatalf("the first read left %+v %v in the memo, want a count of 0 locks", snap, ok)
		}
		var token string
		grant := func() {
			l, err := b.locks.Create(bg, now, lock.Lock{Root: p, Depth: lock.DepthZero, Principal: "v", Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			token = l.Token
		}
		if before {
			grant() // after A's first read, before its Confirm: the memo's count is stale now
		}
		release, err := a.locks.Confirm(ctx, now, lock.Submitted{Principal: "u"}, lock.Target{Path: p}, lock.Target{Path: p.Parent()})
		if err != nil {
			t.Fatalf("Confirm with a count of 0 in the memo: %v", err)
		}
		if !before {
			grant()
		}
		if err := a.put(ctx, p, "unlocked write"); !errors.Is(err, lock.ErrLocked) {
			t.Fatalf("PUT of %s, locked through B after A's first read: %v, want ErrLocked", p, err)
		}
		release()
		if _, err := a.fs.Stat(bg, p); err == nil {
			t.Fatalf("the fenced PUT created %s anyway", p)
		}
		if i == 0 {
			if err := b.locks.Unlock(bg, now, p, token, "v"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// With a lock in the table, the count is not 0 and Confirm reads the table: the conflict
	// is found before any upload.
	p := davpath.Path("/first1")
	ctx := lock.WithFenceSlot(storage.WithMemo(bg))
	if _, err := a.props.Get(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := a.locks.Confirm(ctx, now, lock.Submitted{Principal: "u"}, lock.Target{Path: p}); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("Confirm of a locked resource: %v, want ErrLocked", err)
	}
}
