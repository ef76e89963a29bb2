package clusterfs

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/davpath"
)

// The requests that arrive while a read of their path is in flight share one more read, begun
// after every one of them arrived; a request never gets the outcome of a read begun before it.
func TestReadsShared(t *testing.T) {
	g := &reads{m: map[davpath.Path]*pathReads{}}
	var clock atomic.Int64 // orders arrivals and the beginnings of reads
	var begun atomic.Int64
	release := make(chan struct{})
	read := func(context.Context) cachedRead {
		begun.Add(1)
		at := clock.Add(1)
		<-release
		return cachedRead{ok: true, snap: cluster.Snapshot{Rev: at}}
	}
	ctx := context.Background()
	first := make(chan cachedRead)
	go func() { c, _ := g.do(ctx, "/d", read); first <- c }()
	waitFor(t, func() bool { return begun.Load() == 1 })
	const n = 8
	var wg sync.WaitGroup
	arrived := make([]int64, n)
	got := make([]cachedRead, n)
	for i := range n {
		arrived[i] = clock.Add(1)
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = g.do(ctx, "/d", read) }()
	}
	// Another path is not held up by /d's read.
	if c, _ := g.do(ctx, "/other", func(context.Context) cachedRead { return cachedRead{ok: true} }); !c.ok {
		t.Fatal("/other: no outcome")
	}
	time.Sleep(20 * time.Millisecond) // let the n requests queue behind the first read
	close(release)
	<-first
	wg.Wait()
	if b := begun.Load(); b != 2 {
		t.Fatalf("%d reads of /d for 1 + %d requests, want 2 (the first, and one shared by the rest)", b, n)
	}
	for i, c := range got {
		if !c.ok || c.snap.Rev <= arrived[i] {
			t.Fatalf("request %d arrived at %d and got the read begun at %d", i, arrived[i], c.snap.Rev)
		}
	}
	if len(g.m) != 0 {
		t.Fatalf("%d paths left in the table after every read ended", len(g.m))
	}
}

// A request whose context ends while it waits returns at once with that error; the read it
// waited for still answers the others.
func TestReadsCancel(t *testing.T) {
	g := &reads{m: map[davpath.Path]*pathReads{}}
	release := make(chan struct{})
	var begun atomic.Int64
	read := func(context.Context) cachedRead { begun.Add(1); <-release; return cachedRead{ok: true} }
	go g.do(context.Background(), "/d", read)
	waitFor(t, func() bool { return begun.Load() == 1 })
	other := make(chan cachedRead)
	go func() { c, _ := g.do(context.Background(), "/d", read); other <- c }() // leads the next read
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.m["/d"].next != nil })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.do(ctx, "/d", read); err != context.Canceled {
		t.Fatalf("cancelled waiter: %v", err)
	}
	close(release)
	if c := <-other; !c.ok {
		t.Fatal("the next read gave no outcome")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("timed out")
}
