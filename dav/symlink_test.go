package dav_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props/memprops"
	"github.com/davd/davd/storage/osfs"
)

// denyOne refuses writes to one path, so the engine deletes member by member (the path that walks
// trees) instead of in one storage call.
type denyOne struct{ p davpath.Path }

func (d denyOne) Allow(_ context.Context, _ string, op access.Op, p davpath.Path) bool {
	return op == access.Read || p != d.p
}

// TestSymlinkWalks: a symbolic link inside the root that points to another tree or back to an
// ancestor is never walked through by DELETE, COPY or PROPFIND Depth: infinity.
func TestSymlinkWalks(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a/sub", "keep"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "keep/precious.txt"), []byte("keep me"), 0o644)
	os.WriteFile(filepath.Join(dir, "a/sub/f.txt"), []byte("f"), 0o644)
	os.Symlink("../../keep", filepath.Join(dir, "a/sub/tokeep"))
	os.Symlink("..", filepath.Join(dir, "a/sub/loop"))
	fsys, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	lm, _ := memlock.New(memlock.Options{})
	h, err := dav.New(dav.Config{Storage: fsys, Props: memprops.New(memprops.Limits{}), Locks: lm,
		Access: denyOne{"/a/sub/f.txt"}, Limits: dav.Limits{PropfindInfinity: true}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, h: h}

	w := e.mustDo(207, "PROPFIND", "/a/", map[string]string{"Depth": "infinity"}, "")
	if n := strings.Count(w.Body.String(), "<D:response>"); n > 10 {
		t.Fatalf("Depth: infinity walked through a link: %d responses", n)
	}
	w = e.do("COPY", "/a", map[string]string{"Destination": "/b"}, "")
	if w.Code != 207 && w.Code != 201 {
		t.Fatalf("COPY: %d", w.Code)
	}
	w = e.mustDo(207, "DELETE", "/a", nil, "")
	if !strings.Contains(w.Body.String(), "/a/sub/f.txt") {
		t.Errorf("the refused member is not reported: %s", w.Body.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "keep/precious.txt"))
	if err != nil || string(b) != "keep me" {
		t.Fatalf("DELETE through a symbolic link destroyed another tree: %v %q", err, b)
	}
}
