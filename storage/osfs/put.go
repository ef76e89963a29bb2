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
	"sync/atomic"
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

// tmpFile is the temporary file of an upload or copy in progress, held by its bare descriptor:
// an *os.File would cost an fcntl(2) and a cleanup per upload.
type tmpFile struct {
	fd   int
	name string
}

// tempFile creates a new temporary file in the directory dirfd.
func tempFile(dirfd int) (tmpFile, error) {
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
			return tmpFile{fd: -1}, err
		}
		return tmpFile{fd: fd, name: name}, nil
	}
	return tmpFile{fd: -1}, fs.ErrExist
}

// close closes the descriptor, once.
func (t *tmpFile) close() error {
	if t.fd < 0 {
		return nil
	}
	err := unix.Close(t.fd)
	t.fd = -1
	return err
}

// discard closes and removes the temporary file.
func (t *tmpFile) discard(dirfd int) {
	t.close()
	_ = unix.Unlinkat(dirfd, t.name, 0)
}

// writeFD writes all of b to the descriptor fd (FS.write's default).
func writeFD(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := unix.Write(fd, b[n:])
		if k > 0 {
			n += k
		}
		switch {
		case err == unix.EINTR:
		case err != nil:
			return n, err
		case k == 0:
			return n, io.ErrShortWrite
		}
	}
	return n, nil
}

// smallPut is the largest announced body that Put writes before it looks at the name it
// replaces: the name is then claimed with renameat2(RENAME_NOREPLACE), and only a name that
// exists is looked at. Most small uploads are new names, and so save a statx(2); a collection
// in the way is found after the upload, which costs at most this many bytes.
const smallPut = 64 << 10

// noRenameNoreplace is set once renameat2(RENAME_NOREPLACE) turned out to be unavailable (old
// kernel, a file system without it): small Puts then look before they write, as large ones do.
var noRenameNoreplace atomic.Bool

// commit finishes a temporary file written in dirfd: modification time, fsync, close and the
// rename over p's name. With claim, the name is expected to be new
// and is claimed without replacing anything; if it exists after all, target decides whether it
// may be replaced, and the rename goes ahead over it. created reports whether the name was new
// (always false without claim: the caller has asked target). On any failure the temporary file
// is removed and p is untouched. st describes the new content.
func (f *FS) commit(dirfd int, tmp *tmpFile, p davpath.Path, mtime time.Time, claim bool) (st stat, created bool, err error) {
	defer func() {
		if err != nil {
			tmp.discard(dirfd)
		}
	}()
	if !mtime.IsZero() {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime.UnixNano())}
		if err := unix.UtimesNanoAt(dirfd, tmp.name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return stat{}, false, err
		}
	}
	if !f.opt.NoFsync {
		start := time.Now()
		if err := retry(func() error { return unix.Fsync(tmp.fd) }); err != nil {
			return stat{}, false, err
		}
		if f.opt.FsyncObserved != nil {
			f.opt.FsyncObserved(time.Since(start))
		}
	}
	if st, err = statAt(tmp.fd, "", unix.AT_EMPTY_PATH); err != nil {
		return stat{}, false, err
	}
	if err := tmp.close(); err != nil {
		return stat{}, false, err
	}
	if claim {
		err := unix.Renameat2(dirfd, tmp.name, dirfd, p.Base(), unix.RENAME_NOREPLACE)
		if err == nil {
			f.syncDir(dirfd)
			return st, true, nil
		}
		if err == unix.EINVAL || err == unix.ENOSYS {
			noRenameNoreplace.Store(true)
		} else if err != unix.EEXIST {
			return stat{}, false, err
		}
		if created, err = f.target(dirfd, p); err != nil {
			return stat{}, false, err
		}
	}
	if err := unix.Renameat(dirfd, tmp.name, dirfd, p.Base()); err != nil {
		return stat{}, false, err
	}
	f.syncDir(dirfd)
	return st, created, nil
}

// syncDir makes a new or replaced name in dirfd durable. The content itself is already synced,
// and the rename is atomic either way, so a failure here is not reported.
func (f *FS) syncDir(dirfd int) {
	if !f.opt.NoFsync {
		_ = unix.Fsync(dirfd)
	}
}

// Put atomically creates or replaces the regular file p with the contents of r: it writes a
// temporary file next to p and renames it into place. A large or unannounced body is written
// only once p is known to be replaceable; a small one first (see smallPut).
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
	claim := opt.Size >= 0 && opt.Size <= smallPut && !noRenameNoreplace.Load()
	var st stat
	err = f.inDir(p.Parent(), func(dirfd int) error {
		if !claim {
			if created, err = f.target(dirfd, p); err != nil {
				return err
			}
		}
		tmp, err := tempFile(dirfd)
		if err != nil {
			return err
		}
		n, err := f.copyBody(ctx, tmp.fd, r, opt.Size)
		if err == nil && opt.Size >= 0 && n != opt.Size {
			err = fmt.Errorf("%w: announced %d bytes", storage.ErrShortBody, opt.Size)
		}
		if err != nil {
			tmp.discard(dirfd)
			return err
		}
		var claimed bool
		st, claimed, err = f.commit(dirfd, &tmp, p, opt.ModTime, claim)
		created = created || claimed
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
func (f *FS) copyBody(ctx context.Context, dst int, r io.Reader, size int64) (int64, error) {
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
	in, st, err := f.openRegular(ctx, src)
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
		tmp, err := tempFile(dirfd)
		if err != nil {
			return err
		}
		if err := copyData(ctx, tmp.fd, in, st.size); err != nil {
			tmp.discard(dirfd)
			return err
		}
		_, _, err = f.commit(dirfd, &tmp, dst, time.Time{}, false)
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

// copyData copies the whole of in (of size bytes) to the descriptor out, as copyFD does.
func copyData(ctx context.Context, out int, in *os.File, size int64) error {
	rc, err := in.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(ifd uintptr) { cerr = copyFD(ctx, out, int(ifd), size) }); err != nil {
		return err
	}
	return cerr
}
