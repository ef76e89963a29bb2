package osfs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

func davPath(p string) davpath.Path { return davpath.Path("/" + p) }

// rawNames lists dir on disk, temporary files included.
func rawNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func readAll(t *testing.T, f *FS, p string) string {
	t.Helper()
	file, _, err := f.Open(context.Background(), davPath(p))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestPutENOSPC fills a 1 MiB tmpfs. Where mounting is not allowed, it simulates the full disk
// with the write hook instead.
func TestPutENOSPC(t *testing.T) {
	dir := t.TempDir()
	simulated := false
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Logf("cannot mount a tmpfs (%v): simulating ENOSPC with the write hook", err)
		simulated = true
	} else {
		t.Cleanup(func() {
			if err := unix.Unmount(dir, 0); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		})
	}
	f, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	old := strings.Repeat("o", 300<<10)
	if _, _, err := f.Put(ctx, "/f", strings.NewReader(old), storage.PutOptions{Size: int64(len(old))}); err != nil {
		t.Fatal(err)
	}
	if simulated {
		f.write = func(int, []byte) (int, error) { return 0, syscall.ENOSPC }
	}
	big := strings.Repeat("n", 2<<20)
	for _, size := range []int64{int64(len(big)), -1} {
		_, _, err = f.Put(ctx, "/f", strings.NewReader(big), storage.PutOptions{Size: size})
		if !errors.Is(err, storage.ErrInsufficientStorage) {
			t.Fatalf("Put on a full disk: %v, want storage.ErrInsufficientStorage", err)
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Put on a full disk: %v does not wrap ENOSPC", err)
		}
		if strings.Contains(err.Error(), dir) {
			t.Errorf("error %q shows the host directory", err)
		}
		if got := readAll(t, f, "f"); got != old {
			t.Errorf("old content damaged: %d bytes", len(got))
		}
		_, _, err = f.Put(ctx, "/g", strings.NewReader(big), storage.PutOptions{Size: size})
		if !errors.Is(err, storage.ErrInsufficientStorage) {
			t.Errorf("Put new on a full disk: %v", err)
		}
		if got := rawNames(t, dir); !slices.Equal(got, []string{"f"}) {
			t.Errorf("directory holds %q after failed Puts, want [f]", got)
		}
	}
	if !simulated {
		// CopyFile fails the same way, and the space comes back.
		if _, _, err := f.Put(ctx, "/h", strings.NewReader(old), storage.PutOptions{Size: int64(len(old))}); err != nil {
			t.Fatalf("Put after failures: %v", err)
		}
		err := f.CopyFile(ctx, "/h", "/copy")
		if err != nil && !errors.Is(err, storage.ErrInsufficientStorage) {
			t.Errorf("CopyFile on a full disk: %v", err)
		}
		if err == nil {
			if err := f.CopyFile(ctx, "/h", "/copy2"); !errors.Is(err, storage.ErrInsufficientStorage) {
				t.Errorf("second CopyFile on a full disk: %v", err)
			}
		}
		for _, name := range rawNames(t, dir) {
			if isTemp(name) {
				t.Errorf("temporary file %s left behind", name)
			}
		}
	}
}

// TestWriteHookErrors simulates a full disk and an exceeded quota during the copy.
func TestWriteHookErrors(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		t.Run(errno.Error(), func(t *testing.T) {
			dir := t.TempDir()
			f, err := New(dir, Options{NoFsync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx := context.Background()
			if _, _, err := f.Put(ctx, "/f", strings.NewReader("old"), storage.PutOptions{Size: 3}); err != nil {
				t.Fatal(err)
			}
			written := 0
			f.write = func(fd int, b []byte) (int, error) {
				if written > 0 {
					return 0, &os.PathError{Op: "write", Path: filepath.Join(dir, "tmp"), Err: errno}
				}
				n, err := writeFD(fd, b)
				written += n
				return n, err
			}
			body := strings.Repeat("x", 1<<20)
			_, _, err = f.Put(ctx, "/f", strings.NewReader(body), storage.PutOptions{Size: -1})
			// The disk full is ErrInsufficientStorage; the file system's own quota is a quota
			// (RFC 4331 §6's two preconditions).
			want := storage.ErrInsufficientStorage
			if errno == syscall.EDQUOT {
				want = storage.ErrQuotaExceeded
			}
			if !errors.Is(err, want) || !errors.Is(err, errno) {
				t.Errorf("Put = %v, want %v wrapping %v", err, want, errno)
			}
			if err != nil && strings.Contains(err.Error(), dir) {
				t.Errorf("error %q shows the host directory", err)
			}
			if written == 0 {
				t.Errorf("the hook never wrote: the failure did not happen mid-copy")
			}
			if got := readAll(t, f, "f"); got != "old" {
				t.Errorf("old content = %q", got)
			}
			if got := rawNames(t, dir); !slices.Equal(got, []string{"f"}) {
				t.Errorf("directory holds %q, want [f]", got)
			}
		})
	}
}

// TestNoPartialFile checks the directory on disk after each kind of failed Put.
func TestNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	f, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	if _, _, err := f.Put(ctx, "/f", strings.NewReader("old"), storage.PutOptions{Size: 3}); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for name, put := range map[string]func(p string) error{
		"short body": func(p string) error {
			_, _, err := f.Put(ctx, davPath(p), strings.NewReader("abc"), storage.PutOptions{Size: 1 << 20})
			return err
		},
		"failing body": func(p string) error {
			_, _, err := f.Put(ctx, davPath(p), io.MultiReader(strings.NewReader(strings.Repeat("y", 600<<10)), errReader{}), storage.PutOptions{Size: -1})
			return err
		},
		"cancelled": func(p string) error {
			_, _, err := f.Put(cancelled, davPath(p), strings.NewReader("new"), storage.PutOptions{Size: 3})
			return err
		},
	} {
		for _, p := range []string{"f", "new"} {
			if err := put(p); err == nil {
				t.Errorf("%s Put /%s succeeded", name, p)
			}
			if got := rawNames(t, dir); !slices.Equal(got, []string{"f"}) {
				t.Errorf("%s: directory holds %q, want [f]", name, got)
			}
			if got := readAll(t, f, "f"); got != "old" {
				t.Errorf("%s: content = %q", name, got)
			}
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
