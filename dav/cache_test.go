package dav_test

import (
	"context"
	"fmt"
	"iter"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
)

// versioned wraps memfs with a ListVersion that the test bumps by hand for "external" changes,
// and counts List calls to tell cache hits from renders.
type versioned struct {
	*memfs.FS
	ver   atomic.Uint64
	lists atomic.Int64
}

func (v *versioned) ListVersion(ctx context.Context, p davpath.Path) (uint64, bool) {
	return v.ver.Load(), true
}

func (v *versioned) List(ctx context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	v.lists.Add(1)
	return v.FS.List(ctx, p)
}

// listingEnv: a collection /d with one member, on a memfs whose ListVersion the test bumps, and
// a Depth 1 allprop listing of /d.
func listingEnv(t *testing.T, mod ...func(*dav.Config)) (*env, *versioned, func() string) {
	vfs := &versioned{FS: memfs.New()}
	e := newEnv(t, append([]func(*dav.Config){func(c *dav.Config) { c.Storage = vfs }}, mod...)...)
	e.fs = vfs.FS
	e.mustDo(201, "MKCOL", "/d", nil, "")
	e.put("/d/a", "a")
	list := func() string {
		t.Helper()
		return e.mustDo(207, "PROPFIND", "/d/", hdr{"Depth": "1"}, allprop).Body.String()
	}
	return e, vfs, list
}

func TestListingCache(t *testing.T) {
	e, vfs, list := listingEnv(t)
	renders := func() int64 { return vfs.lists.Load() }

	first := list()
	second := list()
	if first != second {
		t.Fatal("cached listing differs from the rendered one")
	}
	n := renders()
	w := e.mustDo(207, "PROPFIND", "/d/", hdr{"Depth": "1"}, allprop)
	if renders() != n {
		t.Fatal("an unchanged listing was rendered again")
	}
	if w.Body.String() != first || w.Header().Get("Content-Length") != fmt.Sprint(len(first)) {
		t.Fatalf("cache hit: Content-Length %q for %d bytes, or a different body", w.Header().Get("Content-Length"), len(first))
	}
	t.Run("writes elsewhere do not invalidate", func(t *testing.T) {
		e.mustDo(201, "MKCOL", "/other", nil, "")
		list()
		list()
		n := renders()
		e.put("/other/x", "x")
		e.mustDo(207, "PROPPATCH", "/other/x", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:c xmlns:x="urn:x">1</x:c></D:prop></D:set></D:propertyupdate>`)
		e.mustDo(204, "DELETE", "/other/x", nil, "")
		if list(); renders() != n {
			t.Fatal("a write to another collection dropped the cached listing")
		}
	})
	t.Run("a dead property change through the server invalidates", func(t *testing.T) {
		e.mustDo(207, "PROPPATCH", "/d/a", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:c xmlns:x="urn:x">blue</x:c></D:prop></D:set></D:propertyupdate>`)
		if !strings.Contains(list(), "blue") {
			t.Fatal("stale listing after PROPPATCH")
		}
	})
	t.Run("an external change the storage reports invalidates", func(t *testing.T) {
		list()
		if _, _, err := vfs.FS.Put(context.Background(), "/d/external", strings.NewReader("x"), storage.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
		vfs.ver.Add(1)
		if !strings.Contains(list(), "/d/external") {
			t.Fatal("stale listing after an external change")
		}
	})
	t.Run("no caching while any lock exists", func(t *testing.T) {
		tok := e.lock("/d/a", nil, exclusive)
		list()
		n := renders()
		if b := list(); renders() == n || !strings.Contains(b, tok) {
			t.Fatal("listing served from cache while a lock exists")
		}
		e.mustDo(204, "UNLOCK", "/d/a", hdr{"Lock-Token": "<" + tok + ">"}, "")
		if strings.Contains(list(), tok) {
			t.Fatal("stale lockdiscovery after UNLOCK")
		}
	})
	t.Run("different request bodies are cached apart", func(t *testing.T) {
		b := e.mustDo(207, "PROPFIND", "/d/", hdr{"Depth": "1"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`).Body.String()
		if strings.Contains(b, "getlastmodified") {
			t.Fatal("a prop request got the allprop listing")
		}
	})
}

// TestListingCacheConcurrentWrites: goroutines each set a dead property on their own member and
// at once list the collection; every listing must show the value just written, however the
// renderings, cache hits and writes of the others interleave.
func TestListingCacheConcurrentWrites(t *testing.T) {
	vfs := &versioned{FS: memfs.New()}
	e := newEnv(t, func(c *dav.Config) { c.Storage = vfs })
	e.mustDo(201, "MKCOL", "/d", nil, "")
	const workers, rounds = 4, 150
	for w := 0; w < workers; w++ {
		e.put(fmt.Sprintf("/d/f%d", w), "x")
	}
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				val := fmt.Sprintf("w%d-v%d", w, i)
				body := `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:v xmlns:x="urn:x">` + val + `</x:v></D:prop></D:set></D:propertyupdate>`
				req := httptest.NewRequest("PROPPATCH", fmt.Sprintf("/d/f%d", w), strings.NewReader(body))
				e.h.ServeHTTP(httptest.NewRecorder(), req)
				for k := 0; k < 2; k++ {
					req = httptest.NewRequest("PROPFIND", "/d/", strings.NewReader(allprop))
					req.Header.Set("Depth", "1")
					rw := httptest.NewRecorder()
					e.h.ServeHTTP(rw, req)
					if !strings.Contains(rw.Body.String(), ">"+val+"<") {
						errs <- fmt.Sprintf("listing after writing %s does not show it", val)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestListingCacheAgedRenderingIsVerified: a change the storage does not report (the version
// stays the same) is caught when the rendering ages: the request that renders it anew sends the
// new listing and the old rendering is dropped, not renewed; an unchanged listing is renewed
// without being copied again.
func TestListingCacheAgedRenderingIsVerified(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1e9, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	_, vfs, list := listingEnv(t, func(c *dav.Config) { c.Now = now })
	list()
	cached := list()
	n := vfs.lists.Load()
	advance(dav.CacheMaxAge + time.Millisecond)
	if list() != cached || vfs.lists.Load() != n+1 {
		t.Fatal("an aged listing was not rendered anew, or rendered differently")
	}
	if list(); vfs.lists.Load() != n+1 {
		t.Fatal("an identical re-rendering did not renew the cached listing")
	}

	if _, _, err := vfs.FS.Put(context.Background(), "/d/unreported", strings.NewReader("x"), storage.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	advance(dav.CacheMaxAge + time.Millisecond)
	for i := 0; i < 3; i++ {
		if !strings.Contains(list(), "/d/unreported") {
			t.Fatalf("request %d after the rendering aged: the unreported change is missing", i)
		}
	}
}

// TestListingCacheBigCollection: a collection whose rendering is too big to keep plain is kept
// coded, and a cache hit expands it to exactly what the storage gives, with the right
// Content-Length, in any request shape; the changes that drop plain renderings drop it.
func TestListingCacheBigCollection(t *testing.T) {
	vfs := &versioned{FS: memfs.New()}
	var clock atomic.Int64 // renderings age only when the test says, however slow it runs
	e := newEnv(t, func(c *dav.Config) { c.Storage = vfs; c.Now = func() time.Time { return time.Unix(clock.Load(), 0) } })
	e.fs = vfs.FS
	e.mustDo(201, "MKCOL", "/big", nil, "")
	e.mustDo(201, "MKCOL", "/big/sub", nil, "")
	ctx := context.Background()
	for i := 0; i < 2400; i++ { // about 1.7 MiB of allprop rendering
		if _, _, err := vfs.FS.Put(ctx, davpath.Path(fmt.Sprintf("/big/file-%04d.txt", i)), strings.NewReader("x"), storage.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	e.mustDo(207, "PROPPATCH", "/big/file-0007.txt", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:c xmlns:x="urn:x">red &amp; blue</x:c></D:prop></D:set></D:propertyupdate>`)
	const props4 = `<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>`
	list := func(body string) string {
		t.Helper()
		// Straight to the handler: the checks of every response (e.mustDo) are made once below,
		// on a cache hit; on 2 MiB bodies they would make the test slow under the race detector.
		req := httptest.NewRequest("PROPFIND", "/big/", strings.NewReader(body))
		req.Header.Set("Depth", "1")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != 207 {
			t.Fatalf("PROPFIND: %d", w.Code)
		}
		if cl := w.Header().Get("Content-Length"); cl != "" && cl != fmt.Sprint(w.Body.Len()) {
			t.Fatalf("Content-Length %s for %d bytes", cl, w.Body.Len())
		}
		return w.Body.String()
	}
	for _, shape := range []string{allprop, props4} {
		first := list(shape)
		if shape == allprop && len(first) < 3<<19 {
			t.Fatalf("the rendering (%d bytes) is small enough to be kept plain: the test does not test coding", len(first))
		}
		list(shape) // admitted, found too big to keep plain
		list(shape) // admitted coded
		n := vfs.lists.Load()
		for i := 0; i < 3; i++ {
			if list(shape) != first {
				t.Fatal("a listing from the coded rendering differs from the storage's")
			}
		}
		if vfs.lists.Load() != n {
			t.Fatalf("the kept rendering was not used (%d listings from the storage)", vfs.lists.Load()-n)
		}
	}
	e.mustDo(207, "PROPFIND", "/big/", hdr{"Depth": "1"}, allprop) // a coded hit passes every check

	// Aged: rendered anew, compared coded, renewed.
	clock.Add(int64(dav.CacheMaxAge/time.Second) + 1)
	n := vfs.lists.Load()
	list(allprop)
	if a, b := list(allprop), list(allprop); a != b || vfs.lists.Load() != n+1 {
		t.Fatalf("an aged coded rendering: %d listings from the storage, want 1", vfs.lists.Load()-n)
	}

	list(allprop)
	e.mustDo(207, "PROPPATCH", "/big/file-0007.txt", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:c xmlns:x="urn:x">green</x:c></D:prop></D:set></D:propertyupdate>`)
	if b := list(allprop); !strings.Contains(b, ">green<") || strings.Contains(b, ">red") {
		t.Fatal("stale dead property after PROPPATCH")
	}
	list(allprop)
	e.put("/big/new.txt", "n")
	if !strings.Contains(list(allprop), "/big/new.txt") {
		t.Fatal("stale member list after PUT")
	}
	list(allprop)
	if _, _, err := vfs.FS.Put(ctx, "/big/external.txt", strings.NewReader("x"), storage.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	vfs.ver.Add(1)
	if !strings.Contains(list(allprop), "/big/external.txt") {
		t.Fatal("stale member list after a reported external change")
	}
}

// TestListingCachePolicy: with users, a principal that may read every member
// (access.WholeReader) is answered from the listing cache, and shares its renderings with the
// others who read everything; a principal from whom a member is hidden is always rendered anew
// and never sees the member, whatever the cache holds.
func TestListingCachePolicy(t *testing.T) {
	rules, err := access.NewRules(map[string]access.UserRules{
		"":    {Default: access.PermWrite}, // the test's own setup requests
		"all": {Default: access.PermWrite},
		"ro":  {Default: access.PermRead, Rules: []access.Rule{{Prefix: "/d/a", Perm: access.PermWrite}}},
		"hid": {Default: access.PermWrite, Rules: []access.Rule{{Prefix: "/d/secret", Perm: access.PermNone}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e, vfs, _ := listingEnv(t, func(c *dav.Config) { c.Access = rules })
	e.put("/d/secret", "s")
	list := func(who string) string {
		t.Helper()
		r := httptest.NewRequest("PROPFIND", "/d/", strings.NewReader(allprop))
		r.Header.Set("Depth", "1")
		r = r.WithContext(access.WithPrincipal(r.Context(), who))
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != 207 {
			t.Fatalf("%s: PROPFIND %d", who, w.Code)
		}
		checkMultistatus(t, w.Body.Bytes())
		return w.Body.String()
	}
	renders := func() int64 { return vfs.lists.Load() }

	// A rendering is kept the second time the same state is rendered (package listcache).
	first := list("all")
	if list("all") != first {
		t.Fatal("two renderings of the same state differ")
	}
	n := renders()
	if b := list("all"); b != first || renders() != n {
		t.Fatal("a principal who reads everything was not answered from the cache")
	}
	if b := list("ro"); b != first || renders() != n {
		t.Fatal("principals who read everything do not share the cached rendering")
	}
	for range 2 {
		if b := list("hid"); strings.Contains(b, "/d/secret") {
			t.Fatalf("a hidden member was listed:\n%s", b)
		}
		if renders() == n {
			t.Fatal("a principal with a hidden member was answered from the cache")
		}
		n = renders()
	}
	if !strings.Contains(first, "/d/secret") || list("all") != first || renders() != n {
		t.Fatal("the rendering for those who read everything changed after the others' walks")
	}
}
