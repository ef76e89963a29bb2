package osfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// bigDir creates a directory of n small files under a fresh temporary directory.
func bigDir(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.txt", i)), []byte("content"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkList10k lists a directory of 10,000 files (the PROPFIND Depth: 1 hot path).
func BenchmarkList10k(b *testing.B) {
	dir := bigDir(b, 10_000)
	f, err := New(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	davtest.BenchList(b, f, davpath.Root, 10_000)
}

// BenchmarkListStrategies compares ways of describing every entry of a 10,000-file directory
// opened through os.Root: ReadDir + DirEntry.Info (an eager fstatat per entry inside ReadDir, no
// birth time), Readdirnames + fstatat, and Readdirnames + statx (what List does: one call per
// entry, birth time included).
func BenchmarkListStrategies(b *testing.B) {
	dir := bigDir(b, 10_000)
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	open := func() *os.File {
		d, err := root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	b.Run("ReadDir+Info", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d := open()
			for {
				ents, err := d.ReadDir(listBatch)
				for _, e := range ents {
					if _, err := e.Info(); err != nil {
						b.Fatal(err)
					}
				}
				if err != nil {
					break
				}
			}
			d.Close()
		}
	})
	for _, tc := range []struct {
		name string
		stat func(fd int, name string) error
	}{
		{"Readdirnames+fstatat", func(fd int, name string) error {
			var st unix.Stat_t
			return unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		}},
		{"Readdirnames+statx", func(fd int, name string) error {
			_, err := statAt(fd, name, unix.AT_SYMLINK_NOFOLLOW)
			return err
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := open()
				fd := int(d.Fd())
				for {
					names, err := d.Readdirnames(listBatch)
					for _, n := range names {
						if err := tc.stat(fd, n); err != nil {
							b.Fatal(err)
						}
					}
					if err != nil {
						break
					}
				}
				d.Close()
			}
		})
	}
}

func BenchmarkPut4K(b *testing.B) {
	body := strings.Repeat("x", 4096)
	for _, opt := range []Options{{}, {NoFsync: true}} {
		b.Run(fmt.Sprintf("NoFsync=%v", opt.NoFsync), func(b *testing.B) {
			f, err := New(b.TempDir(), opt)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(4096)
			i := 0
			for b.Loop() {
				p := davpath.Path(fmt.Sprintf("/f%d", i%100))
				i++
				if _, _, err := f.Put(ctx, p, strings.NewReader(body), storage.PutOptions{Size: 4096}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStat(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"top.txt", "a/b/deep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	f, err := New(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	for _, p := range []davpath.Path{"/top.txt", "/a/b/deep.txt"} {
		b.Run(fmt.Sprintf("depth=%d", p.Depth()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Stat(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResolve measures what access checks through symbolic links cost per path: a path
// without links (one openat2 and a close), one that does not exist yet, and one through a link.
func BenchmarkResolve(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a/b/deep.txt"), []byte("x"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Symlink("a/b", filepath.Join(dir, "link")); err != nil {
		b.Fatal(err)
	}
	f, err := New(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	for _, p := range []davpath.Path{"/a/b/deep.txt", "/a/b/new.txt", "/link/deep.txt"} {
		b.Run(strings.ReplaceAll(p.Rel(), "/", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Resolve(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
