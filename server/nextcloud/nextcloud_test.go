package nextcloud

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
)

// Chunks are assembled in numeric order when every name is a number (chunking v2: 1…10000),
// else in name order (v1: zero-padded "START-END"); dot names (".file") are not chunks.
func TestListChunksOrder(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"10", "9", "1", "2"}, "1,2,9,10"},
		{[]string{"000000000000010-000000000000019", "000000000000000-000000000000009"}, "000000000000000-000000000000009,000000000000010-000000000000019"},
		{[]string{"b", "a", ".file"}, "a,b"},
	} {
		fs := memfs.New()
		dir := davpath.Root.Join("up")
		if err := fs.Mkcol(ctx, dir); err != nil {
			t.Fatal(err)
		}
		for _, n := range tc.names {
			if _, _, err := fs.Put(ctx, dir.Join(n), strings.NewReader("xy"), storage.PutOptions{Size: 2}); err != nil {
				t.Fatal(err)
			}
		}
		names, total, err := listChunks(ctx, fs, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("%v: order %s, want %s", tc.names, got, tc.want)
		}
		if want := int64(2 * len(names)); total != want {
			t.Errorf("%v: total %d, want %d", tc.names, total, want)
		}
	}
}

// Sweep removes an upload whose newest chunk is older than maxAge, and keeps one still being
// written to, however old its directory.
func TestSweep(t *testing.T) {
	base := t.TempDir()
	old := filepath.Join(base, "616c696365", "stale")
	live := filepath.Join(base, "616c696365", "live")
	for _, d := range []string{old, live} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "1"), []byte("x"), 0o600)
	}
	now := time.Now()
	long := now.Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(old, "1"), long, long)
	os.Chtimes(old, long, long)
	os.Chtimes(live, long, long) // the directory is old, its chunk is not
	n, err := Sweep(base, 24*time.Hour, now)
	if err != nil || n != 1 {
		t.Fatalf("Sweep: %d, %v; want 1 removed", n, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Error("the stale upload is still there")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("the live upload was removed")
	}
	if n, err := Sweep(filepath.Join(base, "none"), time.Hour, now); n != 0 || err != nil {
		t.Errorf("Sweep of a missing dir: %d, %v", n, err)
	}
}

// SweepBackend is Sweep over a storage backend (cluster mode's upload tree): an upload whose
// newest chunk is older than maxAge goes, with everything in it; one still being written to
// stays however old its collection; so does another user's fresh upload.
func TestSweepBackend(t *testing.T) {
	ctx := context.Background()
	fs := memfs.New()
	now := time.Now()
	long := now.Add(-48 * time.Hour)
	mk := func(p string) davpath.Path {
		t.Helper()
		q := davpath.Root
		for _, s := range strings.Split(strings.Trim(p, "/"), "/") {
			q = q.Join(s)
		}
		return q
	}
	for _, d := range []string{"/616c696365", "/616c696365/stale", "/616c696365/live", "/626f62", "/626f62/fresh"} {
		if err := fs.Mkcol(ctx, mk(d)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"/616c696365/stale/1", "/616c696365/stale/2", "/616c696365/live/1", "/626f62/fresh/1"} {
		if _, _, err := fs.Put(ctx, mk(f), strings.NewReader("x"), storage.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"/616c696365/stale/1", "/616c696365/stale/2", "/616c696365/stale", "/616c696365/live"} {
		if err := fs.SetModTime(ctx, mk(p), long); err != nil {
			t.Fatal(err)
		}
	}
	n, err := SweepBackend(ctx, fs, 24*time.Hour, now)
	if err != nil || n != 1 {
		t.Fatalf("SweepBackend: %d, %v; want 1 removed", n, err)
	}
	if _, err := fs.Stat(ctx, mk("/616c696365/stale")); err == nil {
		t.Error("the stale upload is still there")
	}
	for _, p := range []string{"/616c696365/live/1", "/626f62/fresh/1"} {
		if _, err := fs.Stat(ctx, mk(p)); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
