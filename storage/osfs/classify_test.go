package osfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/storage"
)

func TestClassify(t *testing.T) {
	escape := &os.PathError{Op: "openat", Path: "up/x", Err: errors.New("path escapes from parent")}
	for _, tc := range []struct {
		name string
		err  error
		is   []error
		not  []error
	}{
		{"ENOSPC", syscall.ENOSPC, []error{storage.ErrInsufficientStorage, syscall.ENOSPC}, nil},
		{"EDQUOT in a PathError", &os.PathError{Op: "write", Path: "t", Err: syscall.EDQUOT}, []error{storage.ErrQuotaExceeded, syscall.EDQUOT}, []error{storage.ErrInsufficientStorage}},
		{"ENOTEMPTY", syscall.ENOTEMPTY, []error{storage.ErrNotEmpty}, []error{fs.ErrExist}},
		{"EXDEV", &os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EXDEV}, []error{storage.ErrCrossDevice}, nil},
		{"ENOTDIR", syscall.ENOTDIR, []error{fs.ErrNotExist}, nil},
		{"ELOOP", syscall.ELOOP, []error{fs.ErrNotExist}, nil},
		{"EISDIR", syscall.EISDIR, []error{storage.ErrIsDir}, nil},
		{"EACCES", syscall.EACCES, []error{fs.ErrPermission}, nil},
		{"EROFS", syscall.EROFS, []error{fs.ErrPermission}, nil},
		{"ENOENT", syscall.ENOENT, []error{fs.ErrNotExist}, nil},
		{"EEXIST", syscall.EEXIST, []error{fs.ErrExist}, nil},
		{"escape from os.Root", escape, []error{fs.ErrPermission}, []error{fs.ErrNotExist}},
		{"escape opening a parent", &parentError{escape}, []error{fs.ErrPermission}, nil},
		{"context", context.Canceled, []error{context.Canceled}, []error{fs.ErrPermission}},
		{"body", &bodyError{&os.PathError{Op: "read", Path: "x", Err: syscall.ENOSPC}}, []error{syscall.ENOSPC}, []error{storage.ErrInsufficientStorage}},
	} {
		got := classify(tc.err)
		for _, target := range tc.is {
			if !errors.Is(got, target) {
				t.Errorf("%s: classify = %v, not %v", tc.name, got, target)
			}
		}
		for _, target := range tc.not {
			if errors.Is(got, target) {
				t.Errorf("%s: classify = %v, unexpectedly %v", tc.name, got, target)
			}
		}
	}
}

// TestRenameCrossDevice mounts a tmpfs inside the served tree, where rename(2) fails with EXDEV;
// the mapping itself is covered by TestClassify where mounting is not allowed.
func TestRenameCrossDevice(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Logf("cannot mount a tmpfs (%v): EXDEV mapping is covered by TestClassify only", err)
		return
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	f, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	if _, _, err := f.Put(ctx, "/f", strings.NewReader("data"), storage.PutOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename(ctx, "/f", "/mnt/f"); !errors.Is(err, storage.ErrCrossDevice) {
		t.Fatalf("Rename across devices = %v, want storage.ErrCrossDevice", err)
	}
	if got := readAll(t, f, "f"); got != "data" {
		t.Errorf("source after failed Rename = %q", got)
	}
	// The engine's fallback: CopyFile works across devices.
	if err := f.CopyFile(ctx, "/f", "/mnt/f"); err != nil {
		t.Fatalf("CopyFile across devices: %v", err)
	}
	if got := readAll(t, f, "mnt/f"); got != "data" {
		t.Errorf("copy across devices = %q", got)
	}
}
