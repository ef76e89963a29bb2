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
	"github.com/davd/davd/props"
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
	h, err := dav.New(dav.Config{Storage: fsys, Props: memprops.New(props.Limits{}), Locks: lm,
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

// TestCopyTreeFallback: with no access rules COPY takes the storage's whole-tree fast path; a
// link in the tree sends it back to the member-by-member walk, which reports the link (508) and
// copies the rest.
func TestCopyTreeFallback(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a/sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a/sub/f.txt"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(dir, "a/g.txt"), []byte("g"), 0o644)
	fsys, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	h, _ := dav.New(dav.Config{Storage: fsys, Props: memprops.New(props.Limits{})})
	e := &env{t: t, h: h}
	e.mustDo(207, "PROPPATCH", "/a/sub/f.txt", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:c xmlns:x="urn:x">1</x:c></D:prop></D:set></D:propertyupdate>`)
	e.mustDo(201, "COPY", "/a", map[string]string{"Destination": "/b"}, "")
	if b, _ := os.ReadFile(filepath.Join(dir, "b/sub/f.txt")); string(b) != "f" {
		t.Fatal("fast path did not copy")
	}
	w := e.mustDo(207, "PROPFIND", "/b/sub/f.txt", map[string]string{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><x:c xmlns:x="urn:x"/></D:prop></D:propfind>`)
	if !strings.Contains(w.Body.String(), ">1<") {
		t.Error("dead property not copied on the fast path")
	}
	os.Symlink("..", filepath.Join(dir, "a/sub/loop"))
	w = e.mustDo(207, "COPY", "/a", map[string]string{"Destination": "/c"}, "")
	if !strings.Contains(w.Body.String(), "/c/sub/loop") || !strings.Contains(w.Body.String(), "508") {
		t.Errorf("the link is not reported: %s", w.Body.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "c/g.txt")); string(b) != "g" {
		t.Error("the walk did not copy the rest")
	}
}

// TestDeleteEscapingLink: with no access rules and no locks, DELETE takes its one-call path; a
// link leaving the root is still refused, as GET and PUT refuse it, and stays.
func TestDeleteEscapingLink(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "out"))
	os.WriteFile(filepath.Join(dir, "plain.txt"), []byte("p"), 0o644)
	fsys, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	lm, _ := memlock.New(memlock.Options{})
	h, _ := dav.New(dav.Config{Storage: fsys, Props: memprops.New(props.Limits{}), Locks: lm})
	e := &env{t: t, h: h}
	e.mustDo(403, "DELETE", "/out", nil, "")
	e.mustDo(403, "PUT", "/out", nil, "x")
	if _, err := os.Lstat(filepath.Join(dir, "out")); err != nil {
		t.Fatal("the link was removed")
	}
	e.mustDo(204, "DELETE", "/plain.txt", nil, "")
	e.mustDo(404, "DELETE", "/plain.txt", nil, "")
}
