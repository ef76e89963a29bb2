package osfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCopyTree(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"a/x.txt": "x", "a/empty": "", "a/sub/y.bin": "yy", "a/sub/deeper/z": "zzz"}
	for name, data := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "a/.davd-tmp-leftover"), []byte("tmp"), 0o644)
	f, err := New(dir, Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	if err := f.CopyTree(ctx, "/a", "/b"); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(dir, "b", name[2:]))
		if err != nil || string(got) != data {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b/.davd-tmp-leftover")); err == nil {
		t.Error("a temporary file was copied")
	}
	if err := f.CopyTree(ctx, "/a", "/b"); err == nil {
		t.Error("CopyTree onto an existing collection succeeded")
	}
	if err := f.CopyTree(ctx, "/a", "/none/b"); err == nil {
		t.Error("CopyTree without the destination's parent succeeded")
	}
	os.Symlink("/etc", filepath.Join(dir, "a/sub/link"))
	if err := f.CopyTree(ctx, "/a", "/c"); !errors.Is(err, errLinkInTree) {
		t.Errorf("a tree with a symbolic link: %v, want errLinkInTree", err)
	}
}
