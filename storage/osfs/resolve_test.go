package osfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/davd/davd/davpath"
)

// TestResolve: Resolve follows links that stay in the root the way os.Root does, appends what
// does not exist yet, and refuses links that leave the root or loop. The step-by-step walk gives
// the same answers as the openat2 fast path.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"pub", "secret/deep", "alice", "bobdir", "a/b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "secret/s.txt"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"pub/link":       "../secret",
		"slink":          "secret",
		"bobdir/toalice": "../alice",
		"pub/file":       "../secret/s.txt",
		"pub/chain":      "link/deep",           // a link through a link
		"pub/dotted":     "./../secret/./deep/", // dots and a trailing slash
		"pub/dangling":   "../secret/new.txt",
		"a/b/up":         "../..", // the root itself
		"abs":            "/etc",
		"escape":         "../outside",
		"loop":           "loop",
		"pub/viafile":    "../secret/s.txt/x",
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	f, err := New(dir, Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	for _, tt := range []struct {
		in, want davpath.Path
	}{
		{"/", "/"},
		{"/pub", "/pub"},
		{"/secret/s.txt", "/secret/s.txt"},
		{"/pub/new.txt", "/pub/new.txt"},
		{"/pub/newdir/new.txt", "/pub/newdir/new.txt"},
		{"/pub/link", "/secret"},
		{"/pub/link/s.txt", "/secret/s.txt"},
		{"/pub/link/new.txt", "/secret/new.txt"},
		{"/slink/s.txt", "/secret/s.txt"},
		{"/slink/newdir/new.txt", "/secret/newdir/new.txt"},
		{"/bobdir/toalice", "/alice"},
		{"/pub/file", "/secret/s.txt"},
		{"/pub/chain", "/secret/deep"},
		{"/pub/chain/x", "/secret/deep/x"},
		{"/pub/dotted", "/secret/deep"},
		{"/pub/dangling", "/secret/new.txt"},
		{"/a/b/up", "/"},
		{"/a/b/up/secret/s.txt", "/secret/s.txt"},
		{"/a/b/up/pub/link/s.txt", "/secret/s.txt"},
		{"/pub/viafile", "/secret/s.txt/x"},
		{"/secret/s.txt/x", "/secret/s.txt/x"},
	} {
		got, err := f.Resolve(ctx, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if walked, err := f.resolveWalk(tt.in); err != nil || walked != tt.want {
			t.Errorf("resolveWalk(%s) = %q, %v; want %q", tt.in, walked, err, tt.want)
		}
	}
	for _, tt := range []struct {
		in   davpath.Path
		want error
	}{
		{"/abs", fs.ErrPermission},
		{"/abs/passwd", fs.ErrPermission},
		{"/escape", fs.ErrPermission},
		{"/escape/x", fs.ErrPermission},
		{"/loop", fs.ErrNotExist},
		{"/loop/x", fs.ErrNotExist},
	} {
		if got, err := f.Resolve(ctx, tt.in); !errors.Is(err, tt.want) {
			t.Errorf("Resolve(%s) = %q, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Resolve(cancelled, "/pub/link"); !errors.Is(err, context.Canceled) {
		t.Errorf("Resolve with a cancelled context: %v", err)
	}
}

// TestResolveMemo: under WithLinkMemo, Resolve answers for each member List yields (from the
// memo) exactly what it answers without one (from the file system), links included, and for
// listings reached through a link; a memo claimed by one FS is not used by another.
func TestResolveMemo(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"pub/sub", "secret/deep"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"pub/p.txt", "secret/s.txt", "secret/deep/t.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"pub/link": "../secret", "pub/sfile": "../secret/s.txt", "slink": "secret"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := New(dir, Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := WithLinkMemo(context.Background())
	checked := 0
	for _, d := range []davpath.Path{"/", "/pub", "/pub/link", "/pub/link/deep", "/slink"} {
		for info, err := range f.List(ctx, d) {
			if err != nil {
				t.Fatalf("List(%s): %v", d, err)
			}
			p := d.Join(info.Name)
			got, err := f.Resolve(ctx, p)
			want, werr := f.Resolve(context.Background(), p)
			if err != nil || werr != nil || got != want {
				t.Errorf("Resolve(%s) with the memo = %q, %v; without = %q, %v", p, got, err, want, werr)
			}
			checked++
		}
		if m := memoOf(ctx, f); !d.IsRoot() && m.dirs[d] == "" {
			t.Errorf("the memo does not remember where %s leads", d)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d members checked", checked)
	}
	if got, err := f.Resolve(ctx, "/pub/link/deep/t.txt"); err != nil || got != "/secret/deep/t.txt" {
		t.Errorf("Resolve(/pub/link/deep/t.txt) = %q, %v", got, err)
	}
	g, err := New(dir, Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if memoOf(ctx, g) != nil {
		t.Error("a memo claimed by one FS serves another")
	}
}
