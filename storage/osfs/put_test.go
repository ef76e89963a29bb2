package osfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// TestPutTargets runs Put onto every kind of name, with a small announced body (written first,
// the name claimed with RENAME_NOREPLACE), a large one and one of unknown size (both looked at
// before they are written), and with renameat2 taken to be unavailable: each must answer the
// same, leave no temporary file, and leave a refused name as it was.
func TestPutTargets(t *testing.T) {
	small := "small body"
	large := strings.Repeat("L", smallPut+1)
	bodies := []struct {
		name string
		body string
		size int64
	}{
		{"small", small, int64(len(small))},
		{"empty", "", 0},
		{"at the limit", strings.Repeat("s", smallPut), smallPut},
		{"large", large, int64(len(large))},
		{"unknown size", small, -1},
	}
	targets := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		created bool
		err     error // nil: the Put succeeds and the name holds the body
	}{
		{"new name", func(*testing.T, string) {}, true, nil},
		{"existing file", func(t *testing.T, dir string) { write(t, dir, "x", "old") }, false, nil},
		{"collection", func(t *testing.T, dir string) { mkdir(t, dir, "x") }, false, storage.ErrIsDir},
		{"link to a collection", func(t *testing.T, dir string) {
			mkdir(t, dir, "d")
			link(t, dir, "d", "x")
		}, false, storage.ErrIsDir},
		{"link to a file", func(t *testing.T, dir string) {
			write(t, dir, "f", "target")
			link(t, dir, "f", "x")
		}, false, nil},
		{"dangling link", func(t *testing.T, dir string) { link(t, dir, "nowhere", "x") }, false, nil},
		{"escaping link", func(t *testing.T, dir string) { link(t, dir, "/etc/passwd", "x") }, false, fs.ErrPermission},
	}
	for _, noReplace := range []bool{false, true} {
		for _, b := range bodies {
			for _, tg := range targets {
				name := b.name + "/" + tg.name
				if noReplace {
					name += "/without renameat2"
				}
				t.Run(name, func(t *testing.T) {
					if noReplace {
						was := noRenameNoreplace.Load()
						noRenameNoreplace.Store(true)
						t.Cleanup(func() { noRenameNoreplace.Store(was) })
					}
					dir := t.TempDir()
					tg.setup(t, dir)
					before := snapshot(t, dir)
					f, err := New(dir, Options{NoFsync: true})
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					created, info, err := f.Put(context.Background(), davpath.Path("/x"), strings.NewReader(b.body), storage.PutOptions{Size: b.size})
					if tg.err != nil {
						if !errors.Is(err, tg.err) {
							t.Fatalf("Put = %v, want %v", err, tg.err)
						}
						if after := snapshot(t, dir); !slices.Equal(after, before) {
							t.Errorf("the tree changed: %q, was %q", after, before)
						}
						return
					}
					if err != nil {
						t.Fatalf("Put: %v", err)
					}
					if created != tg.created {
						t.Errorf("created = %v, want %v", created, tg.created)
					}
					if info.Size != int64(len(b.body)) || info.ETag == "" {
						t.Errorf("info = %+v", info)
					}
					fi, err := os.Lstat(filepath.Join(dir, "x"))
					if err != nil || !fi.Mode().IsRegular() {
						t.Fatalf("x after Put: %v, %v; want a regular file", fi, err)
					}
					if got := readAll(t, f, "x"); got != b.body {
						t.Errorf("x holds %d bytes, want %d", len(got), len(b.body))
					}
					for _, n := range rawNames(t, dir) {
						if isTemp(n) {
							t.Errorf("temporary file %s left behind", n)
						}
					}
				})
			}
		}
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, dir, target, name string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every name under dir with its kind, size and link target.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		entry := strings.TrimPrefix(path, dir) + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			entry += " " + string(b)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			entry += " -> " + target
		}
		out = append(out, entry)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
