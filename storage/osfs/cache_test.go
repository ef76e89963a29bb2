package osfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// newCached serves dir with a cache that keeps files at once (settle 0), as it keeps files
// older than cacheSettle in production.
func newCached(t *testing.T, dir string) *FS {
	t.Helper()
	f, err := New(dir, Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	f.cache.settle = 0
	t.Cleanup(func() { f.Close() })
	return f
}

// TestConformanceCached runs the backend suite with every file kept from its second read.
func TestConformanceCached(t *testing.T) {
	davtest.TestBackend(t, func(t *testing.T) storage.Backend { return newCached(t, t.TempDir()) })
}

// read opens p and returns its content, whether it came from the cache, and the Info.
func read(t *testing.T, f *FS, p string) ([]byte, bool, storage.Info, error) {
	t.Helper()
	file, info, err := f.Open(context.Background(), davpath.Path(p))
	if err != nil {
		return nil, false, info, err
	}
	defer file.Close()
	b, err := io.ReadAll(file)
	if err != nil {
		t.Fatal(err)
	}
	_, cached := file.(*memFile)
	return b, cached, info, nil
}

// TestFileCache checks that a kept file is served from memory only while it is the file on
// disk, whatever changes it: writes in place of the same size, a rename over it, a removal, a
// symbolic link out of the root in its place.
func TestFileCache(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	name := filepath.Join(dir, "f")
	must(os.WriteFile(name, []byte("one"), 0o644))
	f := newCached(t, dir)
	want := func(content string, cached bool) {
		t.Helper()
		b, c, info, err := read(t, f, "/f")
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content || c != cached || info.Size != int64(len(content)) {
			t.Fatalf("read %q (cached %v, size %d), want %q (cached %v)", b, c, info.Size, content, cached)
		}
	}
	want("one", false) // first read: noted only
	want("one", true)  // second: kept (the bytes it returns are read from memory)
	want("one", true)
	_, hit, first, _ := read(t, f, "/f")
	// A hit's Info, its ETag kept with the bytes, is the one Stat makes from the file.
	stated, err := f.Stat(context.Background(), davpath.Path("/f"))
	must(err)
	if !hit || first != stated {
		t.Fatalf("cached read (hit %v) gave %+v, Stat %+v", hit, first, stated)
	}

	// Timestamps come from a coarse clock; the production cache only keeps files whose ctime
	// is cacheSettle old. With settle 0, let a tick pass before each change.
	tick := func() { time.Sleep(20 * time.Millisecond) }

	tick()
	fh, err := os.OpenFile(name, os.O_WRONLY, 0)
	must(err)
	_, err = fh.WriteAt([]byte("two"), 0)
	must(err)
	must(fh.Close())
	_, _, info, _ := read(t, f, "/f")
	if info.ETag == first.ETag {
		t.Fatalf("after a write in place the ETag is still %s", info.ETag)
	}
	want("two", true) // the read above noted it; this one kept it anew

	tick()
	must(os.WriteFile(name+".new", []byte("six"), 0o644))
	must(os.Rename(name+".new", name))
	want("six", false)
	want("six", true)

	tick()
	must(os.Remove(name))
	if _, _, _, err := read(t, f, "/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after removal: %v, want not found", err)
	}

	// The same name, now a link to a file outside the root of the same size.
	must(os.WriteFile(name, []byte("abc"), 0o644))
	want("abc", false)
	want("abc", true)
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("SEC"), 0o644))
	must(os.Remove(name))
	must(os.Symlink(filepath.Join(outside, "secret"), name))
	b, _, _, err := read(t, f, "/f")
	if bytes.Contains(b, []byte("SEC")) || bytes.Contains(b, []byte("abc")) || err == nil {
		t.Fatalf("a link out of the root in the cached file's place: read %q, %v; want a refusal", b, err)
	}
	// The directory the file is in, swapped for a link out of the root.
	must(os.Mkdir(filepath.Join(dir, "d"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "d/g"), []byte("ggg"), 0o644))
	must(os.WriteFile(filepath.Join(outside, "g"), []byte("GGG"), 0o644))
	read(t, f, "/d/g")
	if b, c, _, _ := read(t, f, "/d/g"); string(b) != "ggg" || !c {
		t.Fatalf("d/g: %q cached %v", b, c)
	}
	must(os.Rename(filepath.Join(dir, "d"), filepath.Join(dir, "d.old")))
	must(os.Symlink(outside, filepath.Join(dir, "d")))
	b, _, _, err = read(t, f, "/d/g")
	if bytes.Contains(b, []byte("GGG")) || bytes.Contains(b, []byte("ggg")) || err == nil {
		t.Fatalf("a directory link out of the root: read %q, %v; want a refusal", b, err)
	}
}

// TestFileCacheBounds checks what is never kept and that the cache stays within its bound.
func TestFileCacheBounds(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("x"), cacheMaxFile+1), 0o644)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "fresh"), []byte("new"), 0o644)
	f := newCached(t, dir)
	for _, p := range []string{"/big", "/empty"} {
		for range 3 {
			if _, c, _, err := read(t, f, p); err != nil || c {
				t.Fatalf("%s: cached %v, %v; want never kept", p, c, err)
			}
		}
	}
	f.cache.settle = time.Hour
	for range 3 {
		if _, c, _, _ := read(t, f, "/fresh"); c {
			t.Fatal("a file changed within the settle time was kept")
		}
	}
	// Two FSes (davd has one per scope) of 3 MiB of hot files each, against one 4 MiB bound.
	g := newCached(t, t.TempDir())
	f.cache.settle = 0
	data := bytes.Repeat([]byte("y"), 60<<10)
	for _, fsys := range []*FS{f, g} {
		dir, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(fsys.rootDir.Fd())))
		for i := range 50 {
			name := "m" + strconv.Itoa(i)
			os.WriteFile(filepath.Join(dir, name), data, 0o644)
			for range 2 {
				if b, _, _, err := read(t, fsys, "/"+name); err != nil || !bytes.Equal(b, data) {
					t.Fatalf("%s/%s: %v", dir, name, err)
				}
			}
		}
	}
	files.mu.Lock()
	held, n := files.bytes, len(files.m)
	var sum int64
	for _, e := range files.m {
		sum += e.cost()
	}
	files.mu.Unlock()
	if held > cacheMaxBytes || held != sum || n == 0 {
		t.Fatalf("cache holds %d bytes in %d entries (sum %d), bound %d", held, n, sum, cacheMaxBytes)
	}
}

// TestFileCacheOff checks Options.NoFileCache.
func TestFileCacheOff(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("one"), 0o644)
	f, err := New(dir, Options{NoFsync: true, NoFileCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.cache.settle = 0
	for range 3 {
		if _, c, _, _ := read(t, f, "/f"); c {
			t.Fatal("kept with NoFileCache")
		}
	}
}
