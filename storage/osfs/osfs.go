package osfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// Compile-time guards: FS implements the Backend and every optional fast path.
var (
	_ storage.Backend     = (*FS)(nil)
	_ storage.Renamer     = (*FS)(nil)
	_ storage.Copier      = (*FS)(nil)
	_ storage.TreeRemover = (*FS)(nil)
	_ storage.Quota       = (*FS)(nil)
	_ storage.MtimeSetter = (*FS)(nil)
)

// tempPrefix starts the name of every temporary file of an in-progress Put or CopyFile.
const tempPrefix = ".davd-tmp-"

// listBatch is the number of directory entries read at a time by List, so that memory stays flat
// however large the directory.
const listBatch = 256

// Options tunes an FS. The zero value is the safe default.
type Options struct {
	// NoFsync skips fsync(2) of new content and of the directories that name it. A crash may
	// then lose acknowledged writes (never mix old and new content). Meant for tests and
	// benchmarks, or file systems that are themselves volatile.
	NoFsync bool
	// FsyncObserved, when set, is told how long each fsync(2) of new content took.
	FsyncObserved func(time.Duration)
	// NoFileCache turns off the small-file cache (cache.go).
	NoFileCache bool
}

// FS is a storage.Backend over one local directory tree. It is safe for concurrent use.
type FS struct {
	root     *os.Root
	rootDir  *os.File        // the root directory, for *at calls on its direct members
	rootConn syscall.RawConn // rootDir's descriptor, held for the duration of each call
	opt      Options

	// write writes new content; tests replace it to simulate a full disk.
	write func(fd int, b []byte) (int, error)

	// cache: this FS's settings of the small-file cache (cache.go).
	cache cacheOpts

	// watch vouches for listings (ListVersion); created on first use.
	watch     *watcher
	watchOnce sync.Once
}

// New serves the directory dir, which must exist. It removes temporary files that a crash left
// behind in the tree.
func New(dir string, opt Options) (*FS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("osfs: %w", err)
	}
	d, err := root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("osfs: %w", err)
	}
	rc, err := d.SyscallConn()
	if err != nil {
		d.Close()
		root.Close()
		return nil, fmt.Errorf("osfs: %w", err)
	}
	f := &FS{root: root, rootDir: d, rootConn: rc, opt: opt, write: writeFD}
	f.cache = cacheOpts{id: fsIDs.Add(1), settle: cacheSettle, off: opt.NoFileCache}
	f.sweep()
	return f, nil
}

// Close releases the directory descriptors. Calls made after Close fail.
func (f *FS) Close() error {
	return errors.Join(f.watch.close(), f.rootDir.Close(), f.root.Close())
}

// sweep removes the temporary files of Puts interrupted by a crash. It walks the whole tree once;
// directories it cannot read are skipped.
func (f *FS) sweep() {
	_ = fs.WalkDir(f.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && isTemp(d.Name()) {
			_ = f.root.Remove(name)
		}
		return nil
	})
}

// isTemp reports whether name is reserved for temporary files.
func isTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// hidden reports whether a directory entry called name is not a resource: a temporary file, or a
// name that no canonical path can have. The second test is defence in depth: davpath never
// produces ".", ".." or a name with a slash, which single-segment *at calls must never see.
func hidden(name string) bool { return isTemp(name) || !davpath.ValidName(name) }

// parentError marks a failure to open the collection that contains the target of an operation,
// so that writes can report storage.ErrParentMissing.
type parentError struct{ err error }

func (e *parentError) Error() string { return e.err.Error() }
func (e *parentError) Unwrap() error { return e.err }

// inDir runs fn with a descriptor of the collection dir, valid for the duration of fn. A failure
// to open dir is returned as a *parentError.
func (f *FS) inDir(dir davpath.Path, fn func(dirfd int) error) error {
	if dir.IsRoot() {
		var ferr error
		if err := f.rootConn.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
			return &parentError{err}
		}
		return ferr
	}
	// The directory's descriptor is used bare for the length of fn: an *os.File would cost an
	// fcntl(2), a finalizer and a closure per write request.
	if fd, answered, err := f.openat2(dir.Rel(), os.O_RDONLY|syscall.O_DIRECTORY); answered {
		if err != nil {
			return &parentError{err}
		}
		defer unix.Close(fd)
		return fn(fd)
	}
	d, err := f.root.OpenFile(dir.Rel(), os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return &parentError{err}
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return &parentError{err}
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return &parentError{err}
	}
	return ferr
}

// classify turns a system error into the storage vocabulary. Errors that do not come from the
// file system (context, request body, Check) pass through unchanged. os.Root reports a path that
// would leave the root with an error that is not an errno; that becomes fs.ErrPermission.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var pass interface{ passthrough() }
	if errors.As(err, &pass) {
		return err
	}
	var pe *parentError
	if errors.As(err, &pe) {
		err = pe.err
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		var pathErr *fs.PathError
		var linkErr *os.LinkError
		if errors.As(err, &pathErr) || errors.As(err, &linkErr) {
			if errors.Is(err, os.ErrClosed) {
				return os.ErrClosed
			}
			return fmt.Errorf("%w: path escapes the served tree", fs.ErrPermission)
		}
		return err
	}
	switch errno {
	case unix.ENOSPC:
		return fmt.Errorf("%w: %w", storage.ErrInsufficientStorage, errno)
	case unix.EDQUOT:
		// The file system's own quota (of davd's user): the same answer as davd's quotas.
		return fmt.Errorf("%w: %w", storage.ErrQuotaExceeded, errno)
	case unix.ENOTEMPTY:
		// Not %w: syscall.ENOTEMPTY also matches fs.ErrExist, which means something else here.
		return fmt.Errorf("%w: %v", storage.ErrNotEmpty, errno)
	case unix.ENOTDIR, unix.ELOOP:
		// A member of the path is not a collection, or links loop: nothing is there.
		return fmt.Errorf("%w: %v", fs.ErrNotExist, errno)
	case unix.EISDIR:
		return fmt.Errorf("%w: %v", storage.ErrIsDir, errno)
	case unix.EXDEV:
		return fmt.Errorf("%w: %v", storage.ErrCrossDevice, errno)
	case unix.EROFS:
		return fmt.Errorf("%w: %v", fs.ErrPermission, errno)
	}
	return errno
}

// fail wraps err for the caller: "osfs: <op> <path>: <cause>". It never names the host directory.
func fail(op string, p davpath.Path, err error) error {
	return fmt.Errorf("osfs: %s %s: %w", op, p, classify(err))
}

// failParent reports a write whose parent collection could not be opened: missing, or not a
// collection, is storage.ErrParentMissing.
func failParent(op string, p davpath.Path, err error) error {
	c := classify(err)
	if errors.Is(c, fs.ErrNotExist) {
		return fmt.Errorf("osfs: %s %s: %w: %v", op, p, storage.ErrParentMissing, c)
	}
	return fmt.Errorf("osfs: %s %s: %w", op, p, c)
}

// follow resolves the symbolic link at p through os.Root, which refuses targets outside the root.
func (f *FS) follow(p davpath.Path) (stat, error) {
	fi, err := f.root.Stat(p.Rel())
	if err != nil {
		return stat{}, err
	}
	st, ok := statFromInfo(fi)
	if !ok {
		return stat{}, fs.ErrNotExist
	}
	st.link = true
	return st, nil
}

// lookup describes p without following a final symbolic link; dirfd is p's parent. A link is
// then resolved through os.Root.
func (f *FS) lookupAt(dirfd int, p davpath.Path) (stat, error) {
	st, err := statAt(dirfd, p.Base(), unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && st.isSymlink() {
		st, err = f.follow(p)
	}
	return st, err
}

// Stat describes the resource at p.
func (f *FS) Stat(ctx context.Context, p davpath.Path) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fail("stat", p, err)
	}
	var st stat
	var err error
	if p.IsRoot() {
		err = f.inDir(davpath.Root, func(fd int) error {
			st, err = statAt(fd, "", unix.AT_EMPTY_PATH)
			return err
		})
	} else {
		if hidden(p.Base()) {
			return storage.Info{}, fail("stat", p, fs.ErrNotExist)
		}
		err = f.inDir(p.Parent(), func(fd int) error {
			st, err = f.lookupAt(fd, p)
			return err
		})
	}
	if err != nil {
		return storage.Info{}, fail("stat", p, err)
	}
	if !st.isResource() {
		return storage.Info{}, fail("stat", p, fs.ErrNotExist)
	}
	return st.info(p.Base()), nil
}

// List yields the members of the collection p. It reads the directory listBatch entries at a time
// and describes each with one statx(2) relative to the directory descriptor, so a listing costs
// one system call per member and memory does not grow with the directory. Members that are not
// resources (temporary files, invalid names, FIFOs, links that escape or dangle) are skipped.
// The context is checked once per batch.
func (f *FS) List(ctx context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(storage.Info{}, fail("list", p, err))
			return
		}
		d, err := f.open(p.Rel(), os.O_RDONLY|syscall.O_DIRECTORY)
		if err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				// Either p is a file, or a member of its path is.
				if in, serr := f.Stat(ctx, p); serr == nil && !in.IsDir {
					err = storage.ErrNotDir
				}
			}
			yield(storage.Info{}, fail("list", p, err))
			return
		}
		defer d.Close()
		dirfd := int(d.Fd())
		memo := memoOf(ctx, f)
		unsafeMember := false
		for {
			names, rerr := d.Readdirnames(listBatch)
			for _, name := range names {
				if hidden(name) {
					continue
				}
				st, err := statAt(dirfd, name, unix.AT_SYMLINK_NOFOLLOW)
				if err != nil {
					continue // removed since it was read, or not describable
				}
				if !unsafeMember && (st.isSymlink() || (st.isReg() && st.nlink > 1)) {
					// Changes made through the other path would raise no event on p.
					unsafeMember = true
					f.markUnsafe(p)
				}
				if st.isSymlink() {
					if st, err = f.follow(p.Join(name)); err != nil {
						continue
					}
				}
				if !st.isResource() {
					continue
				}
				if memo != nil {
					memo.yielded(p, name, st.link)
				}
				if !yield(st.info(name), nil) {
					return
				}
			}
			if rerr == io.EOF {
				return
			}
			if rerr != nil {
				yield(storage.Info{}, fail("list", p, rerr))
				return
			}
			if err := ctx.Err(); err != nil {
				yield(storage.Info{}, fail("list", p, err))
				return
			}
		}
	}
}

// Open opens the non-collection resource p for reading. The file is an *os.File, so net/http
// can send it with sendfile(2); the Info comes from fstat of the opened file, so it describes
// exactly the content being read.
func (f *FS) Open(ctx context.Context, p davpath.Path) (storage.File, storage.Info, error) {
	if err := ctx.Err(); err == nil && !p.IsRoot() && !hidden(p.Base()) {
		if m, st, etag, ok := f.cachedOpen(p.Rel()); ok {
			return m, st.infoTagged(p.Base(), etag), nil
		}
	}
	if fd, answered, err := f.openRegularFD(ctx, p); answered {
		if err != nil {
			return nil, storage.Info{}, fail("open", p, err)
		}
		st, err := statAt(fd, "", unix.AT_EMPTY_PATH)
		if err == nil {
			err = regularOnly(st)
		}
		if err != nil {
			unix.Close(fd)
			return nil, storage.Info{}, fail("open", p, err)
		}
		if m, ok := f.fill(p.Rel(), fd, st); ok {
			unix.Close(fd)
			return m, st.info(p.Base()), nil
		}
		return &file{fd: fd, name: p.Rel()}, st.info(p.Base()), nil
	}
	file, st, err := f.openRegular(ctx, p)
	if err != nil {
		return nil, storage.Info{}, fail("open", p, err)
	}
	return file, st.info(p.Base()), nil
}

// openRegularFD is Open's fast path: the bare descriptor from openat2, or answered false when
// os.Root must decide (openRegular).
func (f *FS) openRegularFD(ctx context.Context, p davpath.Path) (fd int, answered bool, err error) {
	if err := ctx.Err(); err != nil {
		return -1, true, err
	}
	if p.IsRoot() {
		return -1, true, storage.ErrIsDir
	}
	if hidden(p.Base()) {
		return -1, true, fs.ErrNotExist
	}
	return f.openat2(p.Rel(), os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY)
}

// regularOnly refuses what Open must not serve: collections, and anything but regular files.
func regularOnly(st stat) error {
	switch {
	case st.isDir():
		return storage.ErrIsDir
	case !st.isReg():
		return fs.ErrNotExist
	}
	return nil
}

// openRegular opens p, which must be a regular file, and describes it.
func (f *FS) openRegular(ctx context.Context, p davpath.Path) (*os.File, stat, error) {
	if err := ctx.Err(); err != nil {
		return nil, stat{}, err
	}
	if p.IsRoot() {
		return nil, stat{}, storage.ErrIsDir
	}
	if hidden(p.Base()) {
		return nil, stat{}, fs.ErrNotExist
	}
	// O_NONBLOCK: opening a FIFO must not wait for a writer. It has no effect on regular files.
	file, err := f.open(p.Rel(), os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY)
	if err != nil {
		return nil, stat{}, err
	}
	st, err := fstat(file)
	if err == nil {
		err = regularOnly(st)
	}
	if err != nil {
		file.Close()
		return nil, stat{}, err
	}
	return file, st, nil
}

// fstat describes an open file.
func fstat(file *os.File) (stat, error) {
	rc, err := file.SyscallConn()
	if err != nil {
		return stat{}, err
	}
	var st stat
	var serr error
	if err := rc.Control(func(fd uintptr) { st, serr = statAt(int(fd), "", unix.AT_EMPTY_PATH) }); err != nil {
		return stat{}, err
	}
	return st, serr
}
