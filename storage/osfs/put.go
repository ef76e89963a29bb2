package osfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// bufSize is the copy buffer of Put: large writes keep the number of system calls low.
const bufSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// copyChunk bounds one copy_file_range round in CopyFile, so that cancellation is noticed.
const copyChunk = 64 << 20

// bodyError marks a failure to read the request body, which is not a storage failure.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "reading body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }
func (e *bodyError) passthrough()  {}

// checkError carries the error of PutOptions.Check unchanged to the caller.
type checkError struct{ err error }

func (e *checkError) Error() string { return e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }
func (e *checkError) passthrough()  {}

// target checks that p can receive new content in the directory dirfd: it must not be a
// collection (or a link to one). It reports whether p is new. Any other link (dangling, escaping
// or to a file) is replaced by the new file, which stays inside the root.
func (f *FS) target(dirfd int, p davpath.Path) (created bool, err error) {
	st, err := statAt(dirfd, p.Base(), unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case err != nil:
		return false, err
	case st.isSymlink():
		t, err := f.follow(p)
		switch {
		case err == nil && t.isDir():
			return false, storage.ErrIsDir
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			// A link that leaves the root is refused like its target, never replaced.
			return false, err
		}
	case st.isDir():
		return false, storage.ErrIsDir
	}
	return false, nil
}

// tempFile creates a new temporary file in the directory dirfd.
func tempFile(dirfd int) (*os.File, string, error) {
	for range 16 {
		name := tempPrefix + strconv.FormatUint(rand.Uint64(), 36)
		var fd int
		err := retry(func() (err error) {
			fd, err = unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
			return err
		})
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return os.NewFile(uintptr(fd), name), name, nil
	}
	return nil, "", fs.ErrExist
}

// commit finishes a temporary file written in dirfd: modification time, fsync, close, the
// caller's last check, and the rename over name. On any failure the temporary file is removed
// and name is untouched. It returns the description of the new content.
func (f *FS) commit(dirfd int, tmp *os.File, tmpName, name string, mtime time.Time, check func() error) (st stat, err error) {
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		if err != nil {
			_ = unix.Unlinkat(dirfd, tmpName, 0)
		}
	}()
	if !mtime.IsZero() {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime.UnixNano())}
		if err := unix.UtimesNanoAt(dirfd, tmpName, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return stat{}, err
		}
	}
	if !f.opt.NoFsync {
		if err := tmp.Sync(); err != nil {
			return stat{}, err
		}
	}
	if st, err = fstat(tmp); err != nil {
		return stat{}, err
	}
	err, tmp = tmp.Close(), nil
	if err != nil {
		return stat{}, err
	}
	if check != nil {
		if err := check(); err != nil {
			return stat{}, &checkError{err}
		}
	}
	if err := unix.Renameat(dirfd, tmpName, dirfd, name); err != nil {
		return stat{}, err
	}
	f.syncDir(dirfd)
	return st, nil
}

// syncDir makes a new or replaced name in dirfd durable. The content itself is already synced,
// and the rename is atomic either way, so a failure here is not reported.
func (f *FS) syncDir(dirfd int) {
	if !f.opt.NoFsync {
		_ = unix.Fsync(dirfd)
	}
}

// Put atomically creates or replaces the regular file p with the contents of r: it writes a
// temporary file next to p and renames it into place.
func (f *FS) Put(ctx context.Context, p davpath.Path, r io.Reader, opt storage.PutOptions) (created bool, info storage.Info, err error) {
	if err := ctx.Err(); err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	if p.IsRoot() {
		return false, storage.Info{}, fail("put", p, storage.ErrIsDir)
	}
	name := p.Base()
	if hidden(name) {
		return false, storage.Info{}, fail("put", p, fs.ErrPermission)
	}
	var st stat
	err = f.inDir(p.Parent(), func(dirfd int) error {
		if created, err = f.target(dirfd, p); err != nil {
			return err
		}
		tmp, tmpName, err := tempFile(dirfd)
		if err != nil {
			return err
		}
		n, err := f.copyBody(ctx, tmp, r, opt.Size)
		if err == nil && opt.Size >= 0 && n != opt.Size {
			err = fmt.Errorf("%w: announced %d bytes", storage.ErrShortBody, opt.Size)
		}
		if err != nil {
			tmp.Close()
			_ = unix.Unlinkat(dirfd, tmpName, 0)
			return err
		}
		st, err = f.commit(dirfd, tmp, tmpName, name, opt.ModTime, opt.Check)
		return err
	})
	var pe *parentError
	if errors.As(err, &pe) {
		return false, storage.Info{}, failParent("put", p, err)
	}
	if err != nil {
		return false, storage.Info{}, fail("put", p, err)
	}
	return created, st.info(name), nil
}

// copyBody copies r to dst through a pooled buffer, filling the buffer before each write. When
// size is known, it reads at most one byte more, enough to tell a longer body.
func (f *FS) copyBody(ctx context.Context, dst *os.File, r io.Reader, size int64) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m := 0
		var rerr error
		for m < len(buf) && rerr == nil {
			var k int
			k, rerr = r.Read(buf[m:])
			m += k
		}
		if m > 0 {
			w, err := f.write(dst, buf[:m])
			n += int64(w)
			if err != nil {
				return n, err
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, &bodyError{rerr}
		}
	}
}

// CopyFile copies the regular file src to dst, atomically like Put. It asks the file system for
// a reflink (FICLONE) first and falls back to copy_file_range(2), so the data need not pass
// through user space. The copy is a new resource with a new modification time.
func (f *FS) CopyFile(ctx context.Context, src, dst davpath.Path) error {
	in, _, err := f.openRegular(ctx, src)
	if err != nil {
		return fail("copy", src, err)
	}
	defer in.Close()
	if dst.IsRoot() {
		return fail("copy", dst, storage.ErrIsDir)
	}
	if hidden(dst.Base()) {
		return fail("copy", dst, fs.ErrPermission)
	}
	err = f.inDir(dst.Parent(), func(dirfd int) error {
		if _, err := f.target(dirfd, dst); err != nil {
			return err
		}
		tmp, tmpName, err := tempFile(dirfd)
		if err != nil {
			return err
		}
		if err := copyData(ctx, tmp, in); err != nil {
			tmp.Close()
			_ = unix.Unlinkat(dirfd, tmpName, 0)
			return err
		}
		_, err = f.commit(dirfd, tmp, tmpName, dst.Base(), time.Time{}, nil)
		return err
	})
	var pe *parentError
	if errors.As(err, &pe) {
		return failParent("copy", dst, err)
	}
	if err != nil {
		return fail("copy", dst, err)
	}
	return nil
}

// copyData copies the whole of in to out: a reflink when the file system can share extents, else
// copy_file_range(2) in chunks (through (*os.File).ReadFrom) with a cancellation check between
// chunks.
func copyData(ctx context.Context, out, in *os.File) error {
	if clone(out, in) == nil {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.CopyN(out, in, copyChunk); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// clone shares in's extents with out (btrfs, XFS, bcachefs).
func clone(out, in *os.File) error {
	orc, err := out.SyscallConn()
	if err != nil {
		return err
	}
	irc, err := in.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	err = orc.Control(func(ofd uintptr) {
		err := irc.Control(func(ifd uintptr) { cerr = unix.IoctlFileClone(int(ofd), int(ifd)) })
		if cerr == nil {
			cerr = err
		}
	})
	if err != nil {
		return err
	}
	return cerr
}
