package clusterfs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/clusterfs"
)

// services starts one etcd and one S3 server for the package's tests.
func services(t *testing.T) (*clustertest.Etcd, *clustertest.S3) {
	t.Helper()
	return clustertest.StartEtcd(t, 1), clustertest.StartS3(t)
}

var prefixes atomic.Int64

// connect opens a cluster connection on a fresh etcd prefix and bucket.
func connect(t *testing.T, e *clustertest.Etcd, s *clustertest.S3, prefix, bucket string) *cluster.Conn {
	t.Helper()
	c, err := cluster.Open(context.Background(), cluster.Config{
		Endpoints: e.Endpoints(), Prefix: prefix,
		S3Endpoint: s.Endpoint, Bucket: bucket, Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
		CreateBucket: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBackend(t *testing.T) {
	e, s := services(t)
	davtest.TestBackend(t, func(t *testing.T) storage.Backend {
		n := prefixes.Add(1)
		c := connect(t, e, s, fmt.Sprintf("/t%d/", n), fmt.Sprintf("bucket-%d", n))
		f, err := clusterfs.New(context.Background(), c, clusterfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return f
	})
}

// objects counts the S3 objects of bucket (versitygw keeps them as files under Dir/bucket/b).
func objects(t *testing.T, s *clustertest.S3, bucket string) int {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(s.Dir, bucket, "b"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func newFS(t *testing.T, c *cluster.Conn, now func() time.Time) *clusterfs.FS {
	t.Helper()
	f, err := clusterfs.New(context.Background(), c, clusterfs.Options{Grace: time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func put(t *testing.T, f storage.Backend, p, body string) {
	t.Helper()
	if _, _, err := f.Put(context.Background(), pth(p), strings.NewReader(body), storage.PutOptions{Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, f storage.Backend, p string) string {
	t.Helper()
	file, _, err := f.Open(context.Background(), pth(p))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	b, err := io.ReadAll(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Two nodes on the same etcd and bucket see one tree: what one writes, renames or removes,
// the other reads at once (every read is a linearizable etcd read).
func TestTwoNodes(t *testing.T) {
	e, s := services(t)
	ctx := context.Background()
	a := newFS(t, connect(t, e, s, "/two/", "two"), nil)
	b := newFS(t, connect(t, e, s, "/two/", "two"), nil)
	if err := a.Mkcol(ctx, pth("/d")); err != nil {
		t.Fatal(err)
	}
	put(t, a, "/d/f", "from a")
	if got := read(t, b, "/d/f"); got != "from a" {
		t.Fatalf("b reads %q", got)
	}
	put(t, b, "/d/f", "from b")
	if got := read(t, a, "/d/f"); got != "from b" {
		t.Fatalf("a reads %q", got)
	}
	// b's ListVersion of /d stands still while nothing changes, and moves with a's next write:
	// b's listing cache never serves a rendering from before a change made on a.
	v1, ok1 := b.ListVersion(ctx, pth("/d"))
	v2, ok2 := b.ListVersion(ctx, pth("/d"))
	if !ok1 || !ok2 || v1 != v2 {
		t.Fatalf("ListVersion of an unchanged /d: %d %v, %d %v", v1, ok1, v2, ok2)
	}
	put(t, a, "/d/g", "new member")
	if v3, ok := b.ListVersion(ctx, pth("/d")); !ok || v3 == v2 {
		t.Fatalf("b's ListVersion of /d did not change with a's PUT: %d %v", v3, ok)
	}
	if err := b.Rename(ctx, pth("/d"), pth("/e")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Stat(ctx, pth("/d/f")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a: /d/f after the rename on b: %v", err)
	}
	if got := read(t, a, "/e/f"); got != "from b" {
		t.Fatalf("a reads /e/f %q", got)
	}
	// Concurrent Mkcol of one name from both nodes: exactly one wins.
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := a
			if i%2 == 1 {
				f = b
			}
			err := f.Mkcol(ctx, pth("/race"))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, fs.ErrExist):
				t.Errorf("Mkcol: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent Mkcols of /race succeeded, want 1", wins.Load())
	}
}

// A rename of a collection with 10,000 members is one transaction: no reader on another node
// ever sees part of the tree at each path.
func TestRenameLargeTreeAtomic(t *testing.T) {
	e, s := services(t)
	ctx := context.Background()
	a, b := newFS(t, connect(t, e, s, "/big/", "big"), nil), newFS(t, connect(t, e, s, "/big/", "big"), nil)
	if err := a.Mkcol(ctx, pth("/src")); err != nil {
		t.Fatal(err)
	}
	// 10,000 empty members (no S3 object), 16 Puts at a time.
	const n = 10000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, _, err := a.Put(ctx, pth(fmt.Sprintf("/src/m%05d", i)), strings.NewReader(""), storage.PutOptions{Size: 0}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	done := make(chan error, 1)
	go func() { done <- a.Rename(ctx, pth("/src"), pth("/dst")) }()
	// b lists both paths while the rename runs: each listing is all or nothing.
	for range 50 { // bounded
		for _, p := range []string{"/src", "/dst"} {
			count := 0
			for _, err := range b.List(ctx, pth(p)) {
				if err != nil {
					if !errors.Is(err, fs.ErrNotExist) {
						t.Fatal(err)
					}
					break
				}
				count++
			}
			if count != 0 && count != n {
				t.Fatalf("%s listed with %d members during the rename, want 0 or %d", p, count, n)
			}
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			done <- nil
		default:
			continue
		}
		break
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, err := range b.List(ctx, pth("/dst")) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != n {
		t.Fatalf("/dst has %d members after the rename, want %d", count, n)
	}
}

// Replaced, removed and never-committed contents are garbage; the collector deletes their S3
// objects after the grace period, and nothing that is still referenced.
func TestCollector(t *testing.T) {
	e, s := services(t)
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	conn := connect(t, e, s, "/gc/", "gcbucket")
	f := newFS(t, conn, now)
	put(t, f, "/keep", "kept")
	put(t, f, "/replaced", "v1")
	put(t, f, "/replaced", "v2")
	put(t, f, "/removed", "x")
	if err := f.Remove(ctx, pth("/removed")); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkcol(ctx, pth("/tree")); err != nil {
		t.Fatal(err)
	}
	put(t, f, "/tree/a", "a")
	put(t, f, "/tree/b", "b")
	if err := f.RemoveAll(ctx, pth("/tree")); err != nil {
		t.Fatal(err)
	}
	// an upload whose body fails half-way: its object never committed
	_, _, err := f.Put(ctx, pth("/broken"), io.MultiReader(strings.NewReader("partial"), errReader{}), storage.PutOptions{Size: 100})
	if err == nil {
		t.Fatal("Put with a failing body succeeded")
	}
	// an upload whose node died before the commit: an object nothing refers to
	if _, err := conn.S3.PutObject(ctx, "gcbucket", "b/orphan", strings.NewReader("orphan"), 6, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	before := objects(t, s, "gcbucket")
	if n, err := f.Collect(ctx); err != nil || n != 0 {
		t.Fatalf("Collect within the grace period: %d deleted, %v", n, err)
	}
	if n, err := f.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep within the grace period: %d deleted, %v", n, err)
	}
	clock.Add(120) // past the grace period
	n, err := f.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	swept, err := f.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := objects(t, s, "gcbucket")
	t.Logf("objects %d -> %d, %d collected, %d swept", before, after, n, swept)
	if after != 2 || swept != 1 {
		t.Errorf("%d objects left and %d swept, want 2 (/keep and /replaced's v2) and 1 (the orphan)", after, swept)
	}
	if read(t, f, "/keep") != "kept" || read(t, f, "/replaced") != "v2" {
		t.Error("a referenced content was collected")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client went away") }

// When S3 or etcd does not answer, the backend says storage.ErrUnavailable (503), and once
// they are back it works again.
func TestOutage(t *testing.T) {
	e, s := services(t)
	ctx := context.Background()
	f := newFS(t, connect(t, e, s, "/out/", "out"), nil)
	put(t, f, "/a", "a")
	s.Stop()
	_, _, err := f.Put(ctx, pth("/b"), strings.NewReader("b"), storage.PutOptions{Size: 1})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Put with S3 down: %v, want ErrUnavailable", err)
	}
	s.Start()
	put(t, f, "/b", "b")
	e.Kill(0)
	if _, err := f.Stat(ctx, pth("/a")); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Stat with etcd down: %v, want ErrUnavailable", err)
	}
	e.Start(0)
	if got := read(t, f, "/b"); got != "b" {
		t.Errorf("after the outage /b reads %q", got)
	}
}

// pth is the Path of a plain test path such as "/d/f".
func pth(s string) davpath.Path {
	p, err := davpath.Parse(s, "")
	if err != nil {
		panic(err)
	}
	return p
}

// A scope's view (Sub) is a whole backend of its own.
func TestBackendSub(t *testing.T) {
	e, s := services(t)
	davtest.TestBackend(t, func(t *testing.T) storage.Backend {
		n := prefixes.Add(1)
		c := connect(t, e, s, fmt.Sprintf("/s%d/", n), fmt.Sprintf("sub-%d", n))
		f, err := clusterfs.New(context.Background(), c, clusterfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Mkcol(context.Background(), pth("/alice")); err != nil {
			t.Fatal(err)
		}
		return f.Sub(pth("/alice"))
	})
}

// A Tree passes the backend suite on its own, and is apart from the served tree: the same
// names hold different content in each, neither lists the other's members, two nodes see the
// same Tree, and the collector (run on the served tree's FS) keeps a Tree's objects.
func TestTree(t *testing.T) {
	e, s := services(t)
	davtest.TestBackend(t, func(t *testing.T) storage.Backend {
		n := prefixes.Add(1)
		c := connect(t, e, s, fmt.Sprintf("/tree%d/", n), fmt.Sprintf("tree-%d", n))
		f, err := clusterfs.New(context.Background(), c, clusterfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// The served tree has members of its own, which the Tree must never show.
		put(t, f, "/a", "served")
		if err := f.Mkcol(context.Background(), pth("/d")); err != nil {
			t.Fatal(err)
		}
		tr, err := f.Tree(context.Background(), "uploads")
		if err != nil {
			t.Fatal(err)
		}
		return tr
	})
	t.Run("apart", func(t *testing.T) {
		ctx := context.Background()
		var now atomic.Int64
		now.Store(time.Now().Unix())
		clock := func() time.Time { return time.Unix(now.Load(), 0) }
		c := connect(t, e, s, "/apart/", "apart")
		f := newFS(t, c, clock)
		tr, err := f.Tree(ctx, "uploads")
		if err != nil {
			t.Fatal(err)
		}
		put(t, f, "/x", "served x")
		put(t, tr, "/x", "upload x")
		if got := read(t, f, "/x"); got != "served x" {
			t.Errorf("served /x = %q", got)
		}
		if got := read(t, tr, "/x"); got != "upload x" {
			t.Errorf("tree /x = %q", got)
		}
		if err := tr.Mkcol(ctx, pth("/only-in-tree")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Stat(ctx, pth("/only-in-tree")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the served tree sees the Tree's member: %v", err)
		}
		var names []string
		for info, err := range f.List(ctx, davpath.Root) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, info.Name)
		}
		if len(names) != 1 || names[0] != "x" {
			t.Errorf("served root lists %v", names)
		}
		// Another node opens the same Tree.
		g := newFS(t, connect(t, e, s, "/apart/", "apart"), clock)
		tr2, err := g.Tree(ctx, "uploads")
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, tr2, "/x"); got != "upload x" {
			t.Errorf("node b's tree /x = %q", got)
		}
		// The collector, past its grace, keeps the objects both trees refer to.
		now.Add(3600)
		if _, err := f.Collect(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if got := read(t, tr2, "/x"); got != "upload x" {
			t.Errorf("tree /x after the collector = %q", got)
		}
		if got := read(t, g, "/x"); got != "served x" {
			t.Errorf("served /x after the collector = %q", got)
		}
		if _, err := f.Tree(ctx, "a/b"); err == nil {
			t.Error("a tree name with a slash was taken")
		}
	})
}
