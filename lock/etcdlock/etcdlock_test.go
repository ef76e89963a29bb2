package etcdlock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/lock/etcdlock"
	"github.com/davd/davd/storage"
)

func client(t *testing.T, e *clustertest.Etcd) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var prefixes atomic.Int64

func TestLockManager(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	cli := client(t, e)
	davtest.TestLockManagerNetwork(t, func(t *testing.T) lock.Manager {
		return etcdlock.New(cli, fmt.Sprintf("/t%d/", prefixes.Add(1)), lock.Limits{})
	})
}

// Two nodes share the lock table: a lock granted on one is seen, enforced and removable on the
// other, and concurrent exclusive LOCKs of one resource spread over both have one winner.
func TestTwoNodes(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	ctx := context.Background()
	a := etcdlock.New(client(t, e), "/two/", lock.Limits{})
	b := etcdlock.New(client(t, e), "/two/", lock.Limits{})
	now := time.Now()
	root := davpath.Path("/f")
	l, err := a.Create(ctx, now, lock.Lock{Root: root, Depth: lock.DepthZero, Principal: "u", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// b has not read the table since: its count must still show a's lock (the engine skips
	// lockdiscovery when the count is 0).
	if n := b.Len(); n != 1 {
		t.Fatalf("b: Len after a's LOCK: %d, want 1", n)
	}
	if got, ok, err := b.Lookup(ctx, now, l.Token); err != nil || !ok || got.Root != root {
		t.Fatalf("b: Lookup %v %v %v", got, ok, err)
	}
	if _, err := b.Confirm(ctx, now, lock.Submitted{Principal: "u"}, lock.Target{Path: root}); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("b: Confirm without the token: %v, want 423", err)
	}
	release, err := b.Confirm(ctx, now, lock.Submitted{Principal: "u", Tokens: []string{l.Token}}, lock.Target{Path: root})
	if err != nil {
		t.Fatalf("b: Confirm with the token: %v", err)
	}
	release()
	if _, err := b.Create(ctx, now, lock.Lock{Root: root, Depth: lock.DepthZero, Principal: "v", Timeout: time.Minute}); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("b: conflicting Create: %v, want 423", err)
	}
	if err := b.Unlock(ctx, now, root, l.Token, "u"); err != nil {
		t.Fatal(err)
	}
	if ls, err := a.Discover(ctx, now, root); err != nil || len(ls) != 0 {
		t.Fatalf("a: Discover after the unlock on b: %v %v", ls, err)
	}
	for round := range 5 {
		var wins atomic.Int64
		var wg sync.WaitGroup
		r := davpath.Path(fmt.Sprintf("/race%d", round))
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := a
				if i%2 == 1 {
					m = b
				}
				_, err := m.Create(ctx, now, lock.Lock{Root: r, Depth: lock.DepthInfinity, Principal: "u", Timeout: time.Minute})
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, lock.ErrLocked):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d of 16 concurrent exclusive LOCKs on two nodes won, want 1", round, wins.Load())
		}
	}
}

// TestNonUTF8Root: a lock root holding bytes that are not UTF-8 (a legal Unix name, issue 15
// item 6) survives the etcd record byte for byte, as seen from another node, and a record in
// the previous format (Root as a JSON string only) is still read.
func TestNonUTF8Root(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	ctx := context.Background()
	cli := client(t, e)
	a := etcdlock.New(cli, "/raw/", lock.Limits{})
	b := etcdlock.New(client(t, e), "/raw/", lock.Limits{})
	now := time.Now()
	root := davpath.Path("/d\xff/caf\xe9\\x")
	l, err := a.Create(ctx, now, lock.Lock{Root: root, Depth: lock.DepthInfinity, Principal: "u", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := b.Lookup(ctx, now, l.Token); err != nil || !ok || got.Root != root {
		t.Fatalf("b: Lookup = %q %v %v, want root %q", got.Root, ok, err, root)
	}
	if ls, err := b.Discover(ctx, now, root.Join("m")); err != nil || len(ls) != 1 || ls[0].Root != root {
		t.Fatalf("b: Discover below the root = %v %v", ls, err)
	}
	// A look-alike whose bytes were mangled to U+FFFD is another resource: not locked.
	if ls, err := b.Discover(ctx, now, "/d\uFFFD/caf\uFFFD\\x"); err != nil || len(ls) != 0 {
		t.Fatalf("b: Discover of the mangled name = %v %v, want none", ls, err)
	}
	if _, err := b.Confirm(ctx, now, lock.Submitted{Principal: "u"}, lock.Target{Path: root.Join("m")}); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("b: Confirm below the root without the token: %v, want 423", err)
	}

	// A record written by the previous version: the lock.Lock fields only.
	old := `{"Token":"urn:uuid:00000000-0000-4000-8000-000000000001","Root":"/old","Depth":-1,"Shared":false,"Owner":null,"Principal":"u","Timeout":0,"Expires":"0001-01-01T00:00:00Z"}`
	if _, err := cli.Put(ctx, "/raw/l//old\x00urn:uuid:00000000-0000-4000-8000-000000000001", old); err != nil {
		t.Fatal(err)
	}
	c := etcdlock.New(client(t, e), "/raw/", lock.Limits{})
	if got, ok, err := c.Lookup(ctx, now, "urn:uuid:00000000-0000-4000-8000-000000000001"); err != nil || !ok || got.Root != "/old" || got.Principal != "u" {
		t.Fatalf("old record: Lookup = %+v %v %v", got, ok, err)
	}
}

// LenContext answers from the request's memo when the memo holds a count of this table (the
// storage's first read made it), reads and leaves its count there otherwise, ignores a count
// of another table, and a lock change through the request's context empties the memo.
func TestLenContextMemo(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	m := etcdlock.New(client(t, e), "/memo/", lock.Limits{})
	other := etcdlock.New(client(t, e), "/memo/", lock.Limits{})
	ctx := storage.WithMemo(context.Background())
	cluster.Remember(ctx, cluster.Snapshot{Rev: 1, LockPrefix: "/memo/l/", Locks: 7})
	if n := m.LenContext(ctx); n != 7 {
		t.Fatalf("LenContext with a memo of 7 locks: %d", n)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("Len, outside the request: %d, want 0", n)
	}
	// A count of another table is not this one's.
	ctx = storage.WithMemo(context.Background())
	cluster.Remember(ctx, cluster.Snapshot{Rev: 1, LockPrefix: "/elsewhere/l/", Locks: 7})
	if n := m.LenContext(ctx); n != 0 {
		t.Fatalf("LenContext with another table's count: %d, want 0", n)
	}
	// An empty memo: the count is read, and kept for the request.
	ctx = storage.WithMemo(context.Background())
	if n := m.LenContext(ctx); n != 0 {
		t.Fatalf("LenContext of an empty table: %d", n)
	}
	if s, ok := cluster.SnapshotOf(ctx); !ok || s.LockPrefix != "/memo/l/" || s.Locks != 0 || s.Rev == 0 {
		t.Fatalf("memo after LenContext: %+v %v", s, ok)
	}
	// Another node's lock after the memo was filled is not seen in this request (it began
	// before), and is in the next request's.
	now := time.Now()
	if _, err := other.Create(context.Background(), now, lock.Lock{Root: "/f", Depth: lock.DepthZero, Principal: "u", Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if n := m.LenContext(ctx); n != 0 {
		t.Fatalf("LenContext of the request begun before the other node's LOCK: %d, want its memo's 0", n)
	}
	if n := m.LenContext(storage.WithMemo(context.Background())); n != 1 {
		t.Fatalf("a new request's LenContext after the other node's LOCK: %d, want 1", n)
	}
	// A lock change made with the request's context empties its memo.
	if _, err := m.Create(ctx, now, lock.Lock{Root: "/g", Depth: lock.DepthZero, Principal: "u", Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if s, ok := cluster.SnapshotOf(ctx); ok {
		t.Fatalf("memo after a Create in the request: %+v", s)
	}
	if n := m.LenContext(ctx); n != 2 {
		t.Fatalf("LenContext after the request's own Create: %d, want 2", n)
	}
}
