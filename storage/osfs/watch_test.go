package osfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/davd/davd/davpath"
)

// TestListVersion checks that every kind of change made outside the server, after a version was
// handed out, yields a different version (the dav engine's listing cache relies on it), and
// that directories whose members could change unseen are not vouched for.
func TestListVersion(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "d/sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "d/f"), []byte("one"), 0o644))
	f, err := New(dir, Options{NoFsync: true})
	must(err)
	defer f.Close()
	ctx := context.Background()
	ver := func(p davpath.Path) (uint64, bool) { return f.ListVersion(ctx, p) }
	changes := []struct {
		name   string
		change func()
	}{
		{"write in place", func() {
			fh, err := os.OpenFile(filepath.Join(dir, "d/f"), os.O_WRONLY, 0)
			must(err)
			_, err = fh.WriteAt([]byte("two"), 0)
			must(err)
			must(fh.Close())
		}},
		{"modification time set", func() { must(os.Chtimes(filepath.Join(dir, "d/f"), time.Unix(1, 0), time.Unix(1, 0))) }},
		{"member created", func() { must(os.WriteFile(filepath.Join(dir, "d/g"), nil, 0o644)) }},
		{"member renamed", func() { must(os.Rename(filepath.Join(dir, "d/g"), filepath.Join(dir, "d/h"))) }},
		{"member removed", func() { must(os.Remove(filepath.Join(dir, "d/h"))) }},
		{"entry created in a member collection", func() { must(os.WriteFile(filepath.Join(dir, "d/sub/x"), nil, 0o644)) }},
		{"new member collection, then a change inside it", func() {
			must(os.Mkdir(filepath.Join(dir, "d/new"), 0o755))
		}},
		{"change inside the collection created after the first version", func() {
			must(os.WriteFile(filepath.Join(dir, "d/new/y"), nil, 0o644))
		}},
		{"directory replaced by another under the same name", func() {
			must(os.Rename(filepath.Join(dir, "d"), filepath.Join(dir, "old")))
			must(os.MkdirAll(filepath.Join(dir, "d/sub"), 0o755))
		}},
	}
	for _, c := range changes {
		v1, ok := ver("/d")
		if !ok {
			t.Fatalf("%s: /d not vouched for", c.name)
		}
		if v, _ := ver("/d"); v != v1 {
			t.Fatalf("%s: version changed without a change", c.name)
		}
		c.change()
		if v2, ok := ver("/d"); ok && v2 == v1 {
			t.Errorf("%s: version unchanged after the change", c.name)
		}
	}

	t.Run("ancestor renamed", func(t *testing.T) {
		must(os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
		v1, ok := ver("/a/b")
		if !ok {
			t.Fatal("not vouched")
		}
		must(os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "a2")))
		must(os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
		if v2, ok := ver("/a/b"); ok && v2 == v1 {
			t.Error("a new directory at the same path got the old version")
		}
	})
	t.Run("the root is vouched for; a collection reached through a link is not", func(t *testing.T) {
		if _, ok := ver("/"); !ok {
			t.Error("/ not vouched for")
		}
		must(os.MkdirAll(filepath.Join(dir, "target"), 0o755))
		must(os.Symlink("target", filepath.Join(dir, "linked")))
		if _, ok := ver("/linked"); ok {
			t.Error("a collection reached through a link was vouched for (the check does not follow the last segment)")
		}
		if _, ok := ver("/target"); !ok {
			t.Error("/target not vouched for")
		}
	})
	t.Run("symbolic link member is not vouched for once listed", func(t *testing.T) {
		must(os.MkdirAll(filepath.Join(dir, "s"), 0o755))
		must(os.Symlink("../d/f", filepath.Join(dir, "s/l")))
		ver("/s")
		for range f.List(ctx, "/s") {
		}
		if _, ok := ver("/s"); ok {
			t.Error("a directory with a symbolic link member was vouched for")
		}
	})
	t.Run("hard-linked member is not vouched for once listed", func(t *testing.T) {
		must(os.MkdirAll(filepath.Join(dir, "h"), 0o755))
		must(os.WriteFile(filepath.Join(dir, "h/x"), nil, 0o644))
		must(os.Link(filepath.Join(dir, "h/x"), filepath.Join(dir, "hx")))
		ver("/h")
		for range f.List(ctx, "/h") {
		}
		if _, ok := ver("/h"); ok {
			t.Error("a directory with a hard-linked member was vouched for")
		}
	})
}
