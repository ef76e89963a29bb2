package clusterfs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/lock/etcdlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/etcdprops"
	"github.com/davd/davd/storage"
)

// counted is a cluster node's engine whose etcd client counts the requests it sends.
type counted struct {
	h  *dav.Handler
	fs storage.Backend
	n  atomic.Int64 // etcd requests sent, every unary gRPC call (Range, Txn, Put, Lease...)
}

// node wires a dav.Handler the way server does in cluster mode (clusterfs, etcdprops,
// etcdlock on one connection), on an etcd client of its own that counts its requests.
func node(t *testing.T, e *clustertest.Etcd, s *clustertest.S3, prefix, bucket string) *counted {
	t.Helper()
	c := connect(t, e, s, prefix, bucket)
	start := time.Now()
	nd := &counted{}
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialOptions: []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			nd.n.Add(1)
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	cc := *c
	cc.Etcd = cli
	f := newFS(t, &cc, nil)
	h, err := dav.New(dav.Config{
		Storage: f,
		Props:   etcdprops.New(cli, cc.Prefix, props.Limits{}),
		Locks:   etcdlock.New(cli, cc.Prefix, lock.Limits{}),
		// A clock that stands still: a kept rendering never ages into the re-rendering that
		// verifies it (2 s), however slow the machine, so every repeat is a hit.
		Now: func() time.Time { return start },
	})
	if err != nil {
		t.Fatal(err)
	}
	nd.h, nd.fs = h, f
	return nd
}

// do serves one request and returns the response and the etcd requests it cost.
func (nd *counted) do(t *testing.T, method, path string, hdr map[string]string, body string) (*httptest.ResponseRecorder, int64) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	before := nd.n.Load()
	nd.h.ServeHTTP(w, r)
	return w, nd.n.Load() - before
}

const (
	pfProps = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:resourcetype/></D:prop></D:propfind>`
	pfLD    = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:lockdiscovery/></D:prop></D:propfind>`
	lockReq = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>a</D:owner></D:lockinfo>`
)

// A cached PROPFIND Depth 1 on a cluster node costs one etcd request: the transaction that
// resolves the collection also counts the lock table and gives the revision, and the lock
// count and the listing cache's version are answered from it (storage.WithMemo). Without the
// memo it was three (the path, the lock count, the revision).
func TestCachedPropfindOneRead(t *testing.T) {
	e, s := services(t)
	nd := node(t, e, s, "/pf1/", "pf1")
	ctx := context.Background()
	if err := nd.fs.Mkcol(ctx, pth("/d")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		put(t, nd.fs, fmt.Sprintf("/d/f%02d", i), "")
	}
	for _, tc := range []struct{ name, body string }{{"4 props", pfProps}, {"allprop", ""}, {"lockdiscovery", pfLD}} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Depth": "1"}
			first, _ := nd.do(t, "PROPFIND", "/d/", hdr, tc.body) // first sight: rendered
			if first.Code != http.StatusMultiStatus || strings.Count(first.Body.String(), "<D:response>") != 21 {
				t.Fatalf("PROPFIND: %d, %d responses:\n%s", first.Code, strings.Count(first.Body.String(), "<D:response>"), first.Body)
			}
			nd.do(t, "PROPFIND", "/d/", hdr, tc.body) // rendered and kept
			for range 5 {
				w, n := nd.do(t, "PROPFIND", "/d/", hdr, tc.body)
				if w.Code != http.StatusMultiStatus || w.Body.String() != first.Body.String() {
					t.Fatalf("cached PROPFIND: %d, body differs from the first:\n%s", w.Code, w.Body)
				}
				if n != 1 {
					t.Fatalf("cached PROPFIND Depth 1 cost %d etcd requests, want 1", n)
				}
			}
		})
	}
	// The ancestors' path cache does not change that: a collection two levels down, and the
	// root, answer cached with one read too.
	if err := nd.fs.Mkcol(ctx, pth("/d/sub")); err != nil {
		t.Fatal(err)
	}
	put(t, nd.fs, "/d/sub/x", "")
	for _, p := range []string{"/d/sub/", "/"} {
		nd.do(t, "PROPFIND", p, map[string]string{"Depth": "1"}, pfProps)
		nd.do(t, "PROPFIND", p, map[string]string{"Depth": "1"}, pfProps)
		if _, n := nd.do(t, "PROPFIND", p, map[string]string{"Depth": "1"}, pfProps); n != 1 {
			t.Fatalf("cached PROPFIND Depth 1 of %s cost %d etcd requests, want 1", p, n)
		}
	}
}

// A lock taken through node A shows in node B's very next lockdiscovery, although B had the
// listing cached with no lock anywhere and answers it from one etcd read; the lock's removal
// through A, and a new member written through A, show on B at once too.
func TestLockOnAShowsOnB(t *testing.T) {
	e, s := services(t)
	a := node(t, e, s, "/ab/", "nodes-ab")
	b := node(t, e, s, "/ab/", "nodes-ab")
	ctx := context.Background()
	if err := a.fs.Mkcol(ctx, pth("/d")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		put(t, a.fs, fmt.Sprintf("/d/f%d", i), "x")
	}
	hdr := map[string]string{"Depth": "1"}
	b.do(t, "PROPFIND", "/d/", hdr, pfLD)
	b.do(t, "PROPFIND", "/d/", hdr, pfLD)
	if w, n := b.do(t, "PROPFIND", "/d/", hdr, pfLD); n != 1 || strings.Contains(w.Body.String(), "<D:activelock>") {
		t.Fatalf("b: cached PROPFIND before the lock: %d etcd requests (want 1), body:\n%s", n, w.Body)
	}
	lw, _ := a.do(t, "LOCK", "/d/f3", map[string]string{"Timeout": "Second-600"}, lockReq)
	if lw.Code != http.StatusOK {
		t.Fatalf("a: LOCK: %d %s", lw.Code, lw.Body)
	}
	token := strings.Trim(lw.Header().Get("Lock-Token"), "<>")
	if token == "" {
		t.Fatal("a: LOCK gave no Lock-Token")
	}
	w, _ := b.do(t, "PROPFIND", "/d/", hdr, pfLD)
	if !strings.Contains(w.Body.String(), token) {
		t.Fatalf("b: lockdiscovery right after a's LOCK does not show %s:\n%s", token, w.Body)
	}
	// Only f3's response holds it.
	for _, resp := range strings.Split(w.Body.String(), "<D:response>")[1:] {
		if strings.Contains(resp, "<D:href>/d/f3</D:href>") != strings.Contains(resp, token) {
			t.Fatalf("b: the lock shows in the wrong response:\n%s", resp)
		}
	}
	// Depth 0 of the locked resource itself, on B, too.
	if w, _ := b.do(t, "PROPFIND", "/d/f3", map[string]string{"Depth": "0"}, pfLD); !strings.Contains(w.Body.String(), token) {
		t.Fatalf("b: Depth 0 lockdiscovery of /d/f3 does not show %s:\n%s", token, w.Body)
	}
	if uw, _ := a.do(t, "UNLOCK", "/d/f3", map[string]string{"Lock-Token": "<" + token + ">"}, ""); uw.Code != http.StatusNoContent {
		t.Fatalf("a: UNLOCK: %d %s", uw.Code, uw.Body)
	}
	if w, _ := b.do(t, "PROPFIND", "/d/", hdr, pfLD); strings.Contains(w.Body.String(), "<D:activelock>") {
		t.Fatalf("b: lockdiscovery after a's UNLOCK still shows a lock:\n%s", w.Body)
	}
	// With the table empty again B caches; a member PUT through A retires B's rendering.
	b.do(t, "PROPFIND", "/d/", hdr, pfLD)
	b.do(t, "PROPFIND", "/d/", hdr, pfLD)
	if _, n := b.do(t, "PROPFIND", "/d/", hdr, pfLD); n != 1 {
		t.Fatalf("b: cached PROPFIND after the unlock cost %d etcd requests, want 1", n)
	}
	if pw, _ := a.do(t, "PUT", "/d/new", nil, "new"); pw.Code != http.StatusCreated {
		t.Fatalf("a: PUT: %d", pw.Code)
	}
	if w, _ := b.do(t, "PROPFIND", "/d/", hdr, pfLD); !strings.Contains(w.Body.String(), "<D:href>/d/new</D:href>") {
		t.Fatalf("b: listing right after a's PUT lacks /d/new:\n%s", w.Body)
	}
}

// The memo is the request's: Stat fills it in its one round trip, ListVersion answers from
// it, and a write through the same context empties it, so that the next ListVersion reads
// the revision the write made.
func TestMemo(t *testing.T) {
	e, s := services(t)
	nd := node(t, e, s, "/memo/", "memo")
	ctx := storage.WithMemo(context.Background())
	lv := nd.fs.(storage.ListVersioner)
	before := nd.n.Load()
	if _, err := nd.fs.Stat(ctx, pth("/")); err != nil {
		t.Fatal(err)
	}
	snap, ok := cluster.SnapshotOf(ctx)
	if !ok || snap.LockPrefix != "/memo/l/" || snap.Locks != 0 {
		t.Fatalf("memo after Stat: %+v %v", snap, ok)
	}
	v1, ok := lv.ListVersion(ctx, pth("/"))
	if !ok || v1 != uint64(snap.Rev) {
		t.Fatalf("ListVersion %d %v, want the Stat's revision %d", v1, ok, snap.Rev)
	}
	if n := nd.n.Load() - before; n != 1 {
		t.Fatalf("Stat + ListVersion cost %d etcd requests, want 1", n)
	}
	if err := nd.fs.Mkcol(ctx, pth("/c")); err != nil {
		t.Fatal(err)
	}
	if s, ok := cluster.SnapshotOf(ctx); ok && s.Rev == snap.Rev {
		t.Fatalf("memo still holds revision %d after a write in the request", s.Rev)
	}
	v2, ok := lv.ListVersion(ctx, pth("/"))
	if !ok || v2 <= v1 {
		t.Fatalf("ListVersion after Mkcol: %d %v, want more than %d", v2, ok, v1)
	}
	// Without a memo every ListVersion reads.
	before = nd.n.Load()
	lv.ListVersion(context.Background(), pth("/"))
	lv.ListVersion(context.Background(), pth("/"))
	if n := nd.n.Load() - before; n != 2 {
		t.Fatalf("two ListVersion without a memo cost %d etcd requests, want 2", n)
	}
}

// Concurrent PROPFINDs on node B share their first reads (see clusterfs's reads), and still
// every one that begins after node A acknowledged a PUT lists the new member: the shared read
// each is answered by began after it arrived.
func TestConcurrentPropfindsSeeAcknowledgedWrites(t *testing.T) {
	e, s := services(t)
	a := node(t, e, s, "/conc/", "conc")
	b := node(t, e, s, "/conc/", "conc")
	ctx := context.Background()
	if err := a.fs.Mkcol(ctx, pth("/d")); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Depth": "1"}
	for round := range 10 {
		name := fmt.Sprintf("/d/r%02d", round)
		if w, _ := a.do(t, "PUT", name, nil, "x"); w.Code != http.StatusCreated {
			t.Fatalf("a: PUT %s: %d", name, w.Code)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w, _ := b.do(t, "PROPFIND", "/d/", hdr, pfProps)
				if w.Code != http.StatusMultiStatus || !strings.Contains(w.Body.String(), "<D:href>"+name+"</D:href>") {
					errs <- fmt.Sprintf("b: PROPFIND right after a's PUT of %s: %d\n%s", name, w.Code, w.Body)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
	}
}

// A PUT on a cluster node costs three etcd requests when no lock is held anywhere, and one of
// them writes: the target's properties read in one transaction with the lock table's count
// (the request's memo then answers the lock count and the lock check), the path, and the
// commit. With a lock somewhere in the table the engine also stats the target and the check
// reads the table, two requests more; a PUT to the locked resource without its token is
// refused by that read, before any upload.
func TestPutCost(t *testing.T) {
	e, s := services(t)
	nd := node(t, e, s, "/putcost/", "putcost")
	if err := nd.fs.Mkcol(context.Background(), pth("/p")); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Content-Type": "application/octet-stream"}
	nd.do(t, "PUT", "/p/warm", hdr, "x") // the first request resolves and caches /p
	for _, tc := range []struct {
		path string
		code int
	}{{"/p/a", http.StatusCreated}, {"/p/b", http.StatusCreated}, {"/p/a", http.StatusNoContent}} {
		w, n := nd.do(t, "PUT", tc.path, hdr, "hello")
		if w.Code != tc.code || n != 3 {
			t.Fatalf("PUT %s: %d, %d etcd requests; want %d, 3", tc.path, w.Code, n, tc.code)
		}
	}
	w, _ := nd.do(t, "LOCK", "/p/locked", map[string]string{"Timeout": "Second-60"}, lockReq)
	if w.Code != http.StatusCreated && w.Code != http.StatusOK {
		t.Fatalf("LOCK: %d %s", w.Code, w.Body)
	}
	if w, n := nd.do(t, "PUT", "/p/c", hdr, "hello"); w.Code != http.StatusCreated || n != 5 {
		t.Fatalf("PUT beside a lock: %d, %d etcd requests; want 201, 5", w.Code, n)
	}
	if w, n := nd.do(t, "PUT", "/p/locked", hdr, "hello"); w.Code != http.StatusLocked || n != 3 {
		t.Fatalf("PUT of a locked resource without its token: %d, %d etcd requests; want 423, 3", w.Code, n)
	}
}
