package osfs_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/osfs"
	"golang.org/x/sys/unix"
)

// escapeTree builds base/outside (with a secret) and base/served, whose links try to get out.
func escapeTree(t *testing.T) (base, served, outside string) {
	t.Helper()
	base = t.TempDir()
	served = filepath.Join(base, "served")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{served, outside, filepath.Join(served, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, content string) {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret.txt"), "secret")
	write(filepath.Join(served, "sub", "file.txt"), "inside")
	links := map[string]string{
		"etc":        "/etc",                  // absolute, outside
		"passwd":     "/etc/passwd",           // absolute file, outside
		"up":         "../outside",            // relative, outside
		"upfile":     "../outside/secret.txt", // relative file, outside
		"dangling":   "nowhere",               // inside, but missing
		"loop":       "loop",                  // loops
		"inside":     "sub/file.txt",          // inside, file
		"insidedir":  "sub",                   // inside, collection
		"sub/escape": "../../outside",         // escapes from a nested collection
		"sub/parent": "..",                    // the root itself: inside
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(served, name)); err != nil {
			t.Fatal(err)
		}
	}
	return base, served, outside
}

// wantRefused checks that err is fs.ErrNotExist or fs.ErrPermission and names no host path.
func wantRefused(t *testing.T, what string, err error, hostPaths ...string) {
	t.Helper()
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) && !errors.Is(err, storage.ErrParentMissing) {
		t.Errorf("%s: err = %v, want fs.ErrNotExist or fs.ErrPermission", what, err)
	}
	wantNoHostPath(t, what, err, hostPaths...)
}

func wantNoHostPath(t *testing.T, what string, err error, hostPaths ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, h := range hostPaths {
		if strings.Contains(err.Error(), h) {
			t.Errorf("%s: error %q shows the host path %s", what, err, h)
		}
	}
}

func names(t *testing.T, b storage.Backend, p davpath.Path) []string {
	t.Helper()
	var out []string
	for info, err := range b.List(context.Background(), p) {
		if err != nil {
			t.Fatalf("List(%s): %v", p, err)
		}
		out = append(out, info.Name)
	}
	slices.Sort(out)
	return out
}

func TestSymlinkEscapes(t *testing.T) {
	ctx := context.Background()
	base, served, outside := escapeTree(t)
	b, err := osfs.New(served, osfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	secret := filepath.Join(outside, "secret.txt")
	secretInfo, err := os.Stat(secret)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("List skips escaping, dangling and looping links", func(t *testing.T) {
		if got, want := names(t, b, davpath.Root), []string{"inside", "insidedir", "sub"}; !slices.Equal(got, want) {
			t.Errorf("List(/) = %q, want %q", got, want)
		}
		if got, want := names(t, b, "/sub"), []string{"file.txt", "parent"}; !slices.Equal(got, want) {
			t.Errorf("List(/sub) = %q, want %q", got, want)
		}
	})

	t.Run("links inside the root are followed", func(t *testing.T) {
		f, info, err := b.Open(ctx, "/inside")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(f)
		f.Close()
		if string(data) != "inside" || info.Size != 6 || info.Name != "inside" {
			t.Errorf("Open(/inside) = %q, %+v", data, info)
		}
		if st, err := b.Stat(ctx, "/insidedir"); err != nil || !st.IsDir {
			t.Errorf("Stat(/insidedir) = %+v, %v", st, err)
		}
		if got := names(t, b, "/insidedir"); !slices.Equal(got, []string{"file.txt", "parent"}) {
			t.Errorf("List(/insidedir) = %q", got)
		}
		if st, err := b.Stat(ctx, "/sub/parent/sub/file.txt"); err != nil || st.Size != 6 {
			t.Errorf("Stat through a link to the root = %+v, %v", st, err)
		}
	})

	t.Run("escaping links cannot be read", func(t *testing.T) {
		for _, p := range []davpath.Path{
			"/etc", "/passwd", "/up", "/upfile", "/dangling", "/loop", "/sub/escape",
			"/etc/passwd", "/up/secret.txt", "/sub/escape/secret.txt", "/insidedir/escape/secret.txt",
		} {
			_, err := b.Stat(ctx, p)
			wantRefused(t, "Stat "+string(p), err, base)
			f, _, err := b.Open(ctx, p)
			if err == nil {
				f.Close()
			}
			wantRefused(t, "Open "+string(p), err, base)
			n := 0
			for info, err := range b.List(ctx, p) {
				n++
				if err == nil {
					t.Errorf("List(%s) yields %+v", p, info)
				}
				wantNoHostPath(t, "List "+string(p), err, base)
			}
			if n != 1 {
				t.Errorf("List(%s) yields %d values, want one error", p, n)
			}
		}
	})

	t.Run("escaping links cannot be written through", func(t *testing.T) {
		_, _, err := b.Put(ctx, "/up/new.txt", strings.NewReader("x"), storage.PutOptions{Size: 1})
		wantRefused(t, "Put /up/new.txt", err, base)
		_, _, err = b.Put(ctx, "/sub/escape/new.txt", strings.NewReader("x"), storage.PutOptions{Size: 1})
		wantRefused(t, "Put /sub/escape/new.txt", err, base)
		wantRefused(t, "Mkcol /up/newdir", b.Mkcol(ctx, "/up/newdir"), base)
		wantRefused(t, "Remove /up/secret.txt", b.Remove(ctx, "/up/secret.txt"), base)
		wantRefused(t, "Rename out of /up", b.Rename(ctx, "/up/secret.txt", "/stolen"), base)
		wantRefused(t, "Rename into /up", b.Rename(ctx, "/sub/file.txt", "/up/planted"), base)
		wantRefused(t, "CopyFile /upfile", b.CopyFile(ctx, "/upfile", "/stolen"), base)
		wantRefused(t, "CopyFile /up/secret.txt", b.CopyFile(ctx, "/up/secret.txt", "/stolen"), base)
		wantRefused(t, "CopyFile into /up", b.CopyFile(ctx, "/sub/file.txt", "/up/planted"), base)
		wantRefused(t, "SetModTime /upfile", b.SetModTime(ctx, "/upfile", time.Unix(1, 0)), base)
		wantRefused(t, "SetModTime /up/secret.txt", b.SetModTime(ctx, "/up/secret.txt", time.Unix(1, 0)), base)
		wantRefused(t, "RemoveAll /up/secret.txt", b.RemoveAll(ctx, "/up/secret.txt"), base)
		if _, _, err := b.Quota(ctx, "/up"); err != nil {
			wantNoHostPath(t, "Quota /up", err, base)
		}

		entries, err := os.ReadDir(outside)
		if err != nil || len(entries) != 1 || entries[0].Name() != "secret.txt" {
			t.Errorf("outside directory now holds %v (%v), want only secret.txt", entries, err)
		}
		if data, err := os.ReadFile(secret); err != nil || string(data) != "secret" {
			t.Errorf("secret = %q, %v", data, err)
		}
		if fi, err := os.Stat(secret); err != nil || !fi.ModTime().Equal(secretInfo.ModTime()) {
			t.Errorf("secret's mtime changed: %v, %v", fi.ModTime(), err)
		}
		for _, p := range []davpath.Path{"/stolen", "/planted"} {
			if _, err := b.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(%s) = %v, want fs.ErrNotExist", p, err)
			}
		}
	})

	t.Run("writing onto an escaping link is refused like reading it", func(t *testing.T) {
		if _, _, err := b.Put(ctx, "/upfile", strings.NewReader("mine"), storage.PutOptions{Size: 4}); !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("Put /upfile = %v, want fs.ErrPermission", err)
		}
		if fi, err := os.Lstat(filepath.Join(served, "upfile")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("/upfile is no longer the link: %v, %v", fi, err)
		}
		if data, _ := os.ReadFile(secret); string(data) != "secret" {
			t.Errorf("secret overwritten: %q", data)
		}
		// Remove refuses an escaping link like every other single-resource write; RemoveAll
		// (the whole-tree fast path) removes links, never their targets.
		if err := b.Remove(ctx, "/etc"); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Remove /etc (an escaping link) = %v, want fs.ErrPermission", err)
		}
		if _, err := os.Lstat(filepath.Join(served, "etc")); err != nil {
			t.Errorf("the link /etc is gone: %v", err)
		}
		if err := b.RemoveAll(ctx, "/up"); err != nil {
			t.Errorf("RemoveAll /up (a link): %v", err)
		}
		if _, err := os.Stat(secret); err != nil {
			t.Errorf("secret removed: %v", err)
		}
		if _, err := os.Stat("/etc/passwd"); err != nil {
			t.Errorf("/etc/passwd: %v", err)
		}
	})
}

// TestDotSegments feeds paths that davpath never produces, to check that os.Root and the name
// checks are a second wall.
func TestDotSegments(t *testing.T) {
	ctx := context.Background()
	base, served, outside := escapeTree(t)
	b, err := osfs.New(served, osfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, p := range []davpath.Path{"/..", "/../outside", "/../outside/secret.txt", "/sub/../../outside/secret.txt", "/.", "/sub/.."} {
		_, err := b.Stat(ctx, p)
		wantRefused(t, "Stat "+string(p), err, base)
		if f, _, err := b.Open(ctx, p); err == nil {
			f.Close()
			t.Errorf("Open(%s) succeeded", p)
		}
		_, _, err = b.Put(ctx, p, strings.NewReader("x"), storage.PutOptions{Size: 1})
		if err == nil {
			t.Errorf("Put(%s) succeeded", p)
		}
		if err := b.Mkcol(ctx, p); err == nil {
			t.Errorf("Mkcol(%s) succeeded", p)
		}
		if err := b.Remove(ctx, p); err == nil {
			t.Errorf("Remove(%s) succeeded", p)
		}
		if err := b.RemoveAll(ctx, p); err == nil {
			t.Errorf("RemoveAll(%s) succeeded", p)
		}
	}
	if data, err := os.ReadFile(filepath.Join(outside, "secret.txt")); err != nil || string(data) != "secret" {
		t.Errorf("secret = %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(served, "sub", "file.txt")); err != nil {
		t.Errorf("served tree damaged: %v", err)
	}
}

func TestTempFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, d := range []string{"sub", "sub/deeper", ".davd-tmp-dir"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	leftovers := []string{".davd-tmp-abc", "sub/.davd-tmp-def", "sub/deeper/.davd-tmp-ghi"}
	for _, name := range append(slices.Clone(leftovers), "keep.txt", "sub/.davd-tmpnot") {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := osfs.New(dir, osfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, name := range leftovers {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("leftover %s not swept: %v", name, err)
		}
	}
	for _, name := range []string{"keep.txt", "sub/.davd-tmpnot"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s swept: %v", name, err)
		}
	}

	// A temporary file that appears later (an in-progress Put) is invisible.
	if err := os.WriteFile(filepath.Join(dir, ".davd-tmp-live"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := names(t, b, davpath.Root); !slices.Equal(got, []string{"keep.txt", "sub"}) {
		t.Errorf("List(/) = %q, want [keep.txt sub]", got)
	}
	for _, p := range []davpath.Path{"/.davd-tmp-live", "/.davd-tmp-dir"} {
		if _, err := b.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want fs.ErrNotExist", p, err)
		}
		if _, _, err := b.Open(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%s) = %v, want fs.ErrNotExist", p, err)
		}
		if err := b.Remove(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Remove(%s) = %v, want fs.ErrNotExist", p, err)
		}
		if _, _, err := b.Put(ctx, p, strings.NewReader("x"), storage.PutOptions{Size: 1}); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Put(%s) = %v, want fs.ErrPermission", p, err)
		}
		if err := b.Mkcol(ctx, p); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Mkcol(%s) = %v, want fs.ErrPermission", p, err)
		}
		if err := b.Rename(ctx, "/keep.txt", p); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Rename onto %s = %v, want fs.ErrPermission", p, err)
		}
		if err := b.CopyFile(ctx, "/keep.txt", p); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("CopyFile onto %s = %v, want fs.ErrPermission", p, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, ".davd-tmp-live")); string(data) != "partial" {
		t.Errorf("live temporary file changed: %q", data)
	}
}

func TestNonResources(t *testing.T) {
	ctx := context.Background()
	b, dir := newFS(t, osfs.Options{})
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fifo", filepath.Join(dir, "tofifo")); err != nil {
		t.Fatal(err)
	}
	// Names no davpath can hold are not listed; a backslash and bytes that are not UTF-8 are
	// ordinary names (issue 15 item 6) and are.
	for _, name := range []string{"bad\x01name", "back\\slash", "del\x7f", "ok.txt", "over\xc0\xaflong", "raw\xff"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := names(t, b, davpath.Root), []string{"back\\slash", "ok.txt", "raw\xff"}; !slices.Equal(got, want) {
		t.Errorf("List(/) = %q, want %q", got, want)
	}
	for _, p := range []davpath.Path{"/fifo", "/tofifo"} {
		if _, err := b.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want fs.ErrNotExist", p, err)
		}
		done := make(chan error, 1)
		go func() {
			f, _, err := b.Open(ctx, p)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open(%s) = %v, want fs.ErrNotExist", p, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Open(%s) blocks", p)
		}
	}
}

// TestOpenSendfile: Open returns a File whose descriptor net/http can hand to sendfile(2)
// (syscall.Conn, as *os.File), and that reads, seeks and closes like one.
func TestOpenSendfile(t *testing.T) {
	ctx := context.Background()
	b, _ := newFS(t, osfs.Options{NoFsync: true})
	if _, _, err := b.Put(ctx, "/f", strings.NewReader("hello"), storage.PutOptions{Size: 5}); err != nil {
		t.Fatal(err)
	}
	f, _, err := b.Open(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := f.(syscall.Conn)
	if !ok {
		t.Fatalf("Open returns %T, without SyscallConn: no sendfile", f)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	var n int
	var perr error
	if err := rc.Read(func(fd uintptr) bool { n, perr = unix.Pread(int(fd), buf, 1); return true }); err != nil || perr != nil {
		t.Fatal(err, perr)
	}
	if string(buf[:n]) != "ello" {
		t.Fatalf("the descriptor reads %q", buf[:n])
	}
	if all, err := io.ReadAll(f); err != nil || string(all) != "hello" {
		t.Fatalf("ReadAll: %q, %v", all, err)
	}
	if pos, err := f.Seek(1, io.SeekStart); err != nil || pos != 1 {
		t.Fatalf("Seek: %d, %v", pos, err)
	}
	if all, _ := io.ReadAll(f); string(all) != "ello" {
		t.Fatalf("after Seek: %q", all)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err == nil {
		t.Error("a second Close did not fail (it could close another file's descriptor)")
	}
	if _, err := f.Read(buf); err == nil {
		t.Error("Read after Close did not fail")
	}
}

func TestCreatedTime(t *testing.T) {
	ctx := context.Background()
	b, _ := newFS(t, osfs.Options{NoFsync: true})
	before := time.Now().Add(-time.Second)
	_, info, err := b.Put(ctx, "/f", strings.NewReader("x"), storage.PutOptions{Size: 1, ModTime: time.Unix(1e9, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Created.IsZero() {
		t.Skip("the file system of the test directory does not report birth times")
	}
	if info.Created.Before(before) || info.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("Created = %v, want about now (ModTime was set to %v)", info.Created, info.ModTime)
	}
	for info, err := range b.List(ctx, davpath.Root) {
		if err != nil || info.Created.IsZero() {
			t.Errorf("List: Created missing: %+v, %v", info, err)
		}
	}
}

func TestErrorsHideHostPath(t *testing.T) {
	ctx := context.Background()
	b, dir := newFS(t, osfs.Options{})
	if err := b.Mkcol(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Put(ctx, "/d/f", strings.NewReader("x"), storage.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	_, err := b.Stat(ctx, "/missing")
	add(err)
	_, _, err = b.Open(ctx, "/d")
	add(err)
	_, _, err = b.Put(ctx, "/missing/f", strings.NewReader("x"), storage.PutOptions{Size: 1})
	add(err)
	_, _, err = b.Put(ctx, "/d", strings.NewReader("x"), storage.PutOptions{Size: 1})
	add(err)
	_, _, err = b.Put(ctx, "/g", strings.NewReader("x"), storage.PutOptions{Size: 5})
	add(err)
	add(b.Mkcol(ctx, "/d"))
	add(b.Remove(ctx, "/d"))
	add(b.Rename(ctx, "/missing", "/x"))
	add(b.Rename(ctx, "/d/f", "/missing/x"))
	add(b.CopyFile(ctx, "/d", "/x"))
	add(b.RemoveAll(ctx, "/missing"))
	add(b.SetModTime(ctx, "/missing", time.Now()))
	for _, err := range b.List(ctx, "/d/f") {
		add(err)
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		if strings.Contains(err.Error(), dir) {
			t.Errorf("case %d: error %q shows the host directory", i, err)
		}
		if !strings.HasPrefix(err.Error(), "osfs: ") {
			t.Errorf("case %d: error %q lacks the osfs prefix", i, err)
		}
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	b, err := osfs.New(dir, osfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(context.Background(), "/x"); err == nil {
		t.Errorf("Stat after Close succeeded")
	}
	if _, err := osfs.New(filepath.Join(dir, "missing"), osfs.Options{}); err == nil {
		t.Errorf("New on a missing directory succeeded")
	}
}
