package dav_test

import (
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
