package etcdquota_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
	"github.com/davd/davd/storage/quotafs"
	"github.com/davd/davd/storage/quotafs/etcdquota"
)

func client(t *testing.T, e *clustertest.Etcd) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func book(t *testing.T, cli *clientv3.Client, prefix string) *etcdquota.Book {
	t.Helper()
	b, err := etcdquota.New(context.Background(), cli, prefix, etcdquota.Options{NodeTTL: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

var acct = quotafs.Account{Tree: davpath.Root, Limit: 10_000}

// Two nodes share one account: what one reserves or commits, the other sees at once; a limit
// two reservations would pass together refuses the second; a walk is one node's at a time and
// counts the changes committed while it ran; a node that goes away (its lease revoked, as it
// expires when the node dies) no longer holds its reservations.
func TestSharedFigures(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	cli := client(t, e)
	a, b := book(t, cli, "/q1/"), book(t, cli, "/q1/")
	if known, err := a.Known(acct); err != nil || known {
		t.Fatalf("Known before any walk: %v, %v", known, err)
	}
	end, mine, err := a.BeginWalk(acct)
	if err != nil || !mine {
		t.Fatalf("a's walk: %v, %v", mine, err)
	}
	if _, mine, err := b.BeginWalk(acct); err != nil || mine {
		t.Fatalf("b's walk while a walks: %v, %v", mine, err)
	}
	b.Commit([]quotafs.Account{acct}, 100) // a write during the walk
	end(3000, true)
	if known, _ := b.Known(acct); !known {
		t.Fatal("b does not know the figure after a's walk")
	}
	if used, _, _ := b.Figures(acct); used != 3100 {
		t.Fatalf("used after the walk: %d, want 3100 (3000 walked + 100 committed meanwhile)", used)
	}
	if err := a.Reserve([]quotafs.Account{acct}, 6000); err != nil {
		t.Fatal(err)
	}
	if _, reserved, _ := b.Figures(acct); reserved != 6000 {
		t.Errorf("b sees %d reserved, want a's 6000", reserved)
	}
	if err := b.Reserve([]quotafs.Account{acct}, 1000); !errors.Is(err, storage.ErrQuotaExceeded) {
		t.Fatalf("b's reservation past the limit: %v", err)
	}
	a.Release([]quotafs.Account{acct}, 6000)
	a.Commit([]quotafs.Account{acct}, 6000)
	if err := b.Reserve([]quotafs.Account{acct}, 900); err != nil {
		t.Fatalf("b's reservation that fits: %v", err)
	}
	if used, reserved, _ := a.Figures(acct); used != 9100 || reserved != 900 {
		t.Errorf("a sees used %d reserved %d, want 9100 and 900", used, reserved)
	}
	// b goes away with its 900 reserved: they are free again for a.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Reserve([]quotafs.Account{acct}, 900); err != nil {
		t.Fatalf("a's reservation after b went: %v", err)
	}
	// Concurrent reservations from two nodes never pass the limit together.
	c := book(t, cli, "/q1/")
	a.Release([]quotafs.Account{acct}, 900)
	var wg sync.WaitGroup
	var won [2]int
	for i, n := range []*etcdquota.Book{a, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if n.Reserve([]quotafs.Account{acct}, 100) == nil {
					won[i]++
				}
			}
		}()
	}
	wg.Wait()
	if won[0]+won[1] != 9 {
		t.Errorf("%d + %d reservations of 100 granted over 900 free bytes, want 9", won[0], won[1])
	}
}

// Two ledgers (two nodes) over one storage and one etcd: a PUT through node a counts on node
// b, which then refuses one that would pass the quota, with 507's error; a delete through b
// frees room for a.
func TestTwoLedgers(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	cli := client(t, e)
	fs := memfs.New()
	ctx := context.Background()
	node := func() storage.Backend {
		l := quotafs.NewShared(fs, book(t, cli, "/q2/"))
		l.SetLimits(map[davpath.Path]int64{davpath.Root: 10_000})
		return l.Wrap(fs, davpath.Root)
	}
	a, b := node(), node()
	p := func(s string) davpath.Path { return davpath.Root.Join(s) }
	put := func(f storage.Backend, name string, n int) error {
		_, _, err := f.Put(ctx, p(name), strings.NewReader(strings.Repeat("x", n)), storage.PutOptions{Size: int64(n)})
		return err
	}
	if err := put(a, "one", 6000); err != nil {
		t.Fatal(err)
	}
	if err := put(b, "two", 6000); !errors.Is(err, storage.ErrQuotaExceeded) {
		t.Fatalf("node b's PUT past the quota: %v", err)
	}
	if avail, used, err := b.(storage.Quota).Quota(ctx, davpath.Root); err != nil || used != 6000 || avail != 4000 {
		t.Fatalf("node b's figures: %d available, %d used, %v", avail, used, err)
	}
	// A chunked upload through b, cut at the byte that would pass the quota.
	_, _, err := b.Put(ctx, p("three"), io.LimitReader(strings.NewReader(strings.Repeat("y", 8000)), 8000), storage.PutOptions{Size: -1})
	if !errors.Is(err, storage.ErrQuotaExceeded) {
		t.Fatalf("node b's chunked PUT past the quota: %v", err)
	}
	if err := b.Remove(ctx, p("one")); err != nil {
		t.Fatal(err)
	}
	if err := put(a, "two", 6000); err != nil {
		t.Fatalf("node a after b freed room: %v", err)
	}
}
