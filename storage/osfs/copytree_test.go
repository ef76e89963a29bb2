package osfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// TestCopyTreeMany copies directories of many files (more than one ReadDir batch) on several
// workers, each file with its own content, and stops at the first failure.
func TestCopyTreeMany(t *testing.T) {
	was := copyWorkers
	copyWorkers = 4
	t.Cleanup(func() { copyWorkers = was })
	dir := t.TempDir()
	want := map[string]string{}
	for sub, n := range map[string]int{"a": 2*listBatch + 37, "a/s1": 3 * copyPerWorker, "a/s1/s2": 5} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
		for i := range n {
			name := fmt.Sprintf("%s/f%04d", sub, i)
			data := strings.Repeat(name, i%7)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			want[name[2:]] = data
		}
	}
	f, err := New(dir, Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.CopyTree(context.Background(), "/a", "/b"); err != nil {
		t.Fatal(err)
	}
	got := 0
	filepath.WalkDir(filepath.Join(dir, "b"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			got++
		}
		return nil
	})
	if got != len(want) {
		t.Errorf("copied %d files, want %d", got, len(want))
	}
	for name, data := range want {
		b, err := os.ReadFile(filepath.Join(dir, "b", name))
		if err != nil || string(b) != data {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(b), err, len(data))
		}
	}

	// A failure part-way, in one of the workers, ends the copy with that error: the context
	// answers Canceled once, when asked for the 100th time (it is asked once per batch of
	// entries, then for each file).
	ctx := &countdownCtx{Context: context.Background()}
	ctx.left.Store(100)
	err = f.CopyTree(ctx, "/a", "/c")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("CopyTree with a failure part-way = %v, want context.Canceled", err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "c"))
	if len(ents) >= 2*listBatch+37 {
		t.Errorf("the copy went on after the failure: %d entries", len(ents))
	}
}

// countdownCtx reports Canceled once, when Err is asked for the left-th time.
type countdownCtx struct {
	context.Context
	left atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) == 0 {
		return context.Canceled
	}
	return nil
}
