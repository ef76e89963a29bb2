package quotafs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"testing"
	"time"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
	"github.com/davd/davd/storage/osfs"
	"github.com/davd/davd/storage/quotafs"
)

// backends are the two embedded backends every test runs over.
var backends = []struct {
	name string
	new  func(t *testing.T) (storage.Backend, string) // the backend and its directory ("" for memory)
}{
	{"memfs", func(t *testing.T) (storage.Backend, string) { return memfs.New(), "" }},
	{"osfs", func(t *testing.T) (storage.Backend, string) {
		dir := t.TempDir()
		f, err := osfs.New(dir, osfs.Options{NoFsync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f, dir
	}},
}

// limited wraps b with one account on the whole tree.
func limited(t *testing.T, b storage.Backend, limit int64) (*quotafs.Ledger, *quotafs.FS) {
	l := quotafs.New(b)
	l.SetLimits(map[davpath.Path]int64{davpath.Root: limit})
	return l, l.Wrap(b, davpath.Root)
}

func TestConformance(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			davtest.TestBackend(t, func(t *testing.T) storage.Backend {
				b, _ := bk.new(t)
				_, f := limited(t, b, 1<<40)
				return f
			})
		})
	}
}

// engine serves fsys through the dav engine.
type engine struct {
	t testing.TB
	h http.Handler
}

func newEngine(t testing.TB, fsys storage.Backend) *engine {
	h, err := dav.New(dav.Config{Storage: fsys})
	if err != nil {
		t.Fatal(err)
	}
	return &engine{t: t, h: h}
}

func (e *engine) do(method, target string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if s, ok := body.(*strings.Reader); ok {
		r.ContentLength = s.Size()
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *engine) want(code int, method, target string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	w := e.do(method, target, body, hdr...)
	if w.Code != code {
		e.t.Fatalf("%s %s = %d, want %d; body %s", method, target, w.Code, code, w.Body)
	}
	return w
}

func bytesOf(n int) *strings.Reader { return strings.NewReader(strings.Repeat("x", n)) }

// quota reads RFC 4331's two properties of p.
func (e *engine) quota(p string) (avail, used int64) {
	e.t.Helper()
	w := e.want(207, "PROPFIND", p, strings.NewReader(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>`), "Depth", "0")
	num := func(name string) int64 {
		m := regexp.MustCompile(`<D:` + name + `>(\d+)</D:` + name + `>`).FindStringSubmatch(w.Body.String())
		if m == nil {
			e.t.Fatalf("no %s in %s", name, w.Body)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	return num("quota-available-bytes"), num("quota-used-bytes")
}

// wantQuotaRefusal checks RFC 4331 §6: 507 with DAV:quota-not-exceeded.
func wantQuotaRefusal(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusInsufficientStorage || !strings.Contains(w.Body.String(), "<D:quota-not-exceeded/>") {
		t.Fatalf("status %d, body %q; want 507 with DAV:quota-not-exceeded", w.Code, w.Body)
	}
}

func TestRFC4331_6_PutOverQuota(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			b, _ := bk.new(t)
			_, f := limited(t, b, 10_000)
			e := newEngine(t, f)
			e.want(201, "PUT", "/a", bytesOf(6000))
			if avail, used := e.quota("/"); avail != 4000 || used != 6000 {
				t.Fatalf("quota = available %d, used %d; want 4000, 6000", avail, used)
			}
			// Announced length: refused before the body is read, and nothing is left behind.
			wantQuotaRefusal(t, e.do("PUT", "/b", bytesOf(5000)))
			e.want(404, "GET", "/b", nil)
			// Replacing a file frees its old length.
			e.want(204, "PUT", "/a", bytesOf(9000))
			if avail, used := e.quota("/a"); avail != 1000 || used != 9000 {
				t.Fatalf("after replace: available %d, used %d; want 1000, 9000", avail, used)
			}
			// Unknown length (chunked): refused at the byte that passes the limit, the old
			// content stays.
			r := httptest.NewRequest("PUT", "/a", io.MultiReader(bytesOf(6000), bytesOf(6000)))
			r.ContentLength = -1
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			wantQuotaRefusal(t, w)
			if got := e.want(200, "GET", "/a", nil).Body.Len(); got != 9000 {
				t.Fatalf("after the refused chunked PUT, /a has %d bytes, want the old 9000", got)
			}
			// A DELETE gives the bytes back.
			e.want(204, "DELETE", "/a", nil)
			if avail, used := e.quota("/"); avail != 10_000 || used != 0 {
				t.Fatalf("after DELETE: available %d, used %d; want 10000, 0", avail, used)
			}
		})
	}
}

func TestRFC4331_6_MkcolWhenFull(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			b, _ := bk.new(t)
			_, f := limited(t, b, 100)
			e := newEngine(t, f)
			e.want(201, "MKCOL", "/d", nil)
			e.want(201, "PUT", "/d/f", bytesOf(100))
			wantQuotaRefusal(t, e.do("MKCOL", "/e", nil))
			e.want(404, "PROPFIND", "/e", nil, "Depth", "0")
		})
	}
}

// A COPY of a tree that runs out part way answers 207 with 507 for the members that did not fit
// (issue 15 item 4), each carrying the precondition; what fitted is there.
func TestRFC4331_6_CopyTreePartly(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			b, _ := bk.new(t)
			_, f := limited(t, b, 10_000)
			e := newEngine(t, f)
			e.want(201, "MKCOL", "/src", nil)
			for i := range 4 {
				e.want(201, "PUT", fmt.Sprintf("/src/f%d", i), bytesOf(1500))
			}
			// 6,000 used; the copy needs 6,000 more, 4,000 are left: two members fit.
			w := e.want(207, "COPY", "/src", nil, "Destination", "http://example.com/dst", "Depth", "infinity")
			body := w.Body.String()
			if n := strings.Count(body, "507 Insufficient Storage"); n != 2 {
				t.Fatalf("%d members answered 507, want 2: %s", n, body)
			}
			if n := strings.Count(body, "<D:quota-not-exceeded/>"); n != 2 {
				t.Fatalf("%d members carry quota-not-exceeded, want 2: %s", n, body)
			}
			copied := 0
			for i := range 4 {
				if e.do("GET", fmt.Sprintf("/dst/f%d", i), nil).Code == 200 {
					copied++
				}
			}
			if copied != 2 {
				t.Fatalf("%d members were copied, want 2", copied)
			}
			if avail, used := e.quota("/"); avail != 1000 || used != 9000 {
				t.Fatalf("after the partial copy: available %d, used %d; want 1000, 9000", avail, used)
			}
		})
	}
}

// Two uploads in flight cannot together pass a limit that each fits alone.
func TestConcurrentReservations(t *testing.T) {
	b := memfs.New()
	_, f := limited(t, b, 10_000)
	e := newEngine(t, f)
	pr, pw := io.Pipe()
	first := make(chan int)
	go func() {
		r := httptest.NewRequest("PUT", "/one", pr)
		r.ContentLength = 6000
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		first <- w.Code
	}()
	// Once the first upload's body is being read, its bytes are reserved.
	if _, err := pw.Write(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	wantQuotaRefusal(t, e.do("PUT", "/two", bytesOf(6000)))
	pw.Write(make([]byte, 5999))
	pw.Close()
	if code := <-first; code != 201 {
		t.Fatalf("the first upload got %d, want 201", code)
	}
	// Its reservation became use, and nothing is reserved any more.
	if avail, used := e.quota("/"); avail != 4000 || used != 6000 {
		t.Fatalf("available %d, used %d; want 4000, 6000", avail, used)
	}
}

// The disk itself being full is DAV:sufficient-disk-space, not a quota.
func TestRFC4331_6_DiskFull(t *testing.T) {
	b := memfs.New()
	b.SetCapacity(1000)
	e := newEngine(t, b)
	w := e.do("PUT", "/big", bytesOf(2000))
	if w.Code != 507 || !strings.Contains(w.Body.String(), "<D:sufficient-disk-space/>") {
		t.Fatalf("status %d, body %q; want 507 with DAV:sufficient-disk-space", w.Code, w.Body)
	}
}

// Accounts learn what is already there, charge every account whose tree holds a write whoever
// makes it, and pick up changes made outside davd at their next walk.
func TestScopesAndWalks(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "alice", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alice", "sub", "old"), make([]byte, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "top"), make([]byte, 500), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	alice, err := osfs.New(filepath.Join(dir, "alice"), osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	l := quotafs.New(root)
	aliceTree := davpath.Root.Join("alice")
	l.SetLimits(map[davpath.Path]int64{davpath.Root: 1 << 30, aliceTree: 10_000})
	admin := newEngine(t, l.Wrap(root, davpath.Root))
	user := newEngine(t, l.Wrap(alice, aliceTree))
	if avail, used := user.quota("/"); avail != 7000 || used != 3000 {
		t.Fatalf("alice's first figures: available %d, used %d; want 7000, 3000", avail, used)
	}
	// The admin writes into alice's tree: her account is charged.
	admin.want(201, "PUT", "/alice/fromadmin", bytesOf(5000))
	wantQuotaRefusal(t, user.do("PUT", "/mine", bytesOf(2500)))
	user.want(201, "PUT", "/mine", bytesOf(2000))
	if _, used := admin.quota("/"); used != 10_500 {
		t.Fatalf("the whole tree's used bytes = %d, want 10500", used)
	}
	// A MOVE out of her tree gives her the bytes back.
	admin.want(201, "MOVE", "/alice/fromadmin", nil, "Destination", "http://example.com/elsewhere")
	if avail, used := user.quota("/"); avail != 5000 || used != 5000 {
		t.Fatalf("after the move out: available %d, used %d; want 5000, 5000", avail, used)
	}
	// A MOVE into it is checked against her quota.
	admin.want(201, "PUT", "/big", bytesOf(6000))
	wantQuotaRefusal(t, admin.do("MOVE", "/big", nil, "Destination", "http://example.com/alice/big"))
	admin.want(200, "GET", "/big", nil)
	// Another program deletes her old file: the next walk sees it.
	if err := os.Remove(filepath.Join(dir, "alice", "sub", "old")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx, time.Hour)
	l.Dirty()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, used := user.quota("/"); used == 2000 {
			break
		}
		if time.Now().After(deadline) {
			_, used := user.quota("/")
			t.Fatalf("after the walk alice's used bytes = %d, want 2000", used)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An upload area counts against its owner's accounts.
func TestArea(t *testing.T) {
	b := memfs.New()
	l := quotafs.New(b)
	owner := davpath.Root.Join("u")
	l.SetLimits(map[davpath.Path]int64{owner: 1000})
	area := memfs.New()
	chunks := newEngine(t, l.Area(area, owner))
	files := newEngine(t, l.Wrap(b, davpath.Root))
	files.want(201, "MKCOL", "/u", nil)
	chunks.want(201, "PUT", "/c1", bytesOf(600))
	wantQuotaRefusal(t, files.do("PUT", "/u/f", bytesOf(500)))
	files.want(201, "PUT", "/f", bytesOf(500)) // outside the owner's tree
	chunks.want(204, "DELETE", "/c1", nil)
	files.want(201, "PUT", "/u/f", bytesOf(500))
}

// A reload changes limits without losing the figures.
func TestSetLimitsKeepsFigures(t *testing.T) {
	b := memfs.New()
	l, f := limited(t, b, 10_000)
	e := newEngine(t, f)
	e.want(201, "PUT", "/a", bytesOf(4000))
	l.SetLimits(map[davpath.Path]int64{davpath.Root: 5000})
	if avail, used := e.quota("/"); avail != 1000 || used != 4000 {
		t.Fatalf("after the new limit: available %d, used %d; want 1000, 4000", avail, used)
	}
	wantQuotaRefusal(t, e.do("PUT", "/b", bytesOf(2000)))
	l.SetLimits(nil)
	e.want(201, "PUT", "/b", bytesOf(2000))
}
