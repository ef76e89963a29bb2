package dav_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/storage/osfs"
)

// TestListingCacheExternalChange: a file changed on disk by another program is seen by the very
// next PROPFIND, although the listing before it was served from the cache.
func TestListingCacheExternalChange(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d/f.txt"), []byte("1"), 0o644)
	fsys, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	h, _ := dav.New(dav.Config{Storage: fsys})
	e := &env{t: t, h: h}
	body := `<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>`
	list := func() string { return e.mustDo(207, "PROPFIND", "/d/", hdr{"Depth": "1"}, body).Body.String() }
	for i := 0; i < 3; i++ {
		if !strings.Contains(list(), "<D:getcontentlength>1<") {
			t.Fatal("unexpected listing")
		}
	}
	for n, change := range []func(){
		func() { os.WriteFile(filepath.Join(dir, "d/f.txt"), []byte("12"), 0o644) },
		func() { os.WriteFile(filepath.Join(dir, "d/g.txt"), []byte("123"), 0o644) },
	} {
		change()
		want := []string{"<D:getcontentlength>2<", "<D:getcontentlength>3<"}[n]
		if b := list(); !strings.Contains(b, want) {
			t.Fatalf("change %d not seen by the next PROPFIND:\n%s", n, b)
		}
		list()
	}
}

// TestListingCacheExternalChangeCoded: the same on a collection whose listing is big enough to
// be kept coded (dav/coded.go): a change made on disk by another program is in the very next
// listing.
func TestListingCacheExternalChangeCoded(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	for i := 0; i < 4000; i++ { // about 1.9 MiB of allprop rendering (no locks: no supportedlock)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("d/file-%04d.txt", i)), []byte("1"), 0o644)
	}
	fsys, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	h, _ := dav.New(dav.Config{Storage: fsys})
	list := func() string {
		t.Helper()
		req := httptest.NewRequest("PROPFIND", "/d/", strings.NewReader(allprop))
		req.Header.Set("Depth", "1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 207 {
			t.Fatalf("PROPFIND: %d", w.Code)
		}
		return w.Body.String()
	}
	first := list()
	if len(first) < 3<<19 {
		t.Fatalf("the listing (%d bytes) would be kept plain: the test does not test coding", len(first))
	}
	for i := 0; i < 3; i++ { // seen, too big to keep plain, kept coded
		if list() != first {
			t.Fatal("listing of an unchanged collection differs")
		}
	}
	for n, c := range []struct {
		change func()
		want   string
	}{
		{func() { os.WriteFile(filepath.Join(dir, "d/file-0007.txt"), []byte("12345"), 0o644) }, "<D:getcontentlength>5<"},
		{func() { os.WriteFile(filepath.Join(dir, "d/new.txt"), []byte("x"), 0o644) }, "<D:href>/d/new.txt</D:href>"},
		{func() { os.Remove(filepath.Join(dir, "d/file-0100.txt")) }, ""},
	} {
		list() // kept again
		c.change()
		b := list()
		if c.want != "" && !strings.Contains(b, c.want) || c.want == "" && strings.Contains(b, "/d/file-0100.txt") {
			t.Fatalf("change %d not seen by the next PROPFIND", n)
		}
	}
}
