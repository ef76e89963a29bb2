package osfs

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

var _ storage.TreeCopier = (*FS)(nil)

// errLinkInTree makes CopyTree hand a tree with symbolic links back to the engine's walk.
var errLinkInTree = errors.New("osfs: symbolic link in the tree")

// noReflink is set once FICLONE was refused as unsupported: tmpfs and ext4 refuse it for every
// file, so it is not tried again for each one.
var noReflink atomic.Bool

// CopyTree copies the collection src to the new collection dst with one descriptor per
// directory: every member is opened and created relative to its directory (openat, mkdirat),
// with no path lookup from the root per file and no temporary name. dst is new, so nothing is
// replaced; a failure leaves a partial dst for the engine to remove.
func (f *FS) CopyTree(ctx context.Context, src, dst davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("copytree", src, err)
	}
	if dst.IsRoot() || hidden(dst.Base()) {
		return fail("copytree", dst, storage.ErrParentMissing)
	}
	sd, err := f.open(src.Rel(), os.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fail("copytree", src, err)
	}
	defer sd.Close()
	if err := f.Mkcol(ctx, dst); err != nil {
		return err
	}
	dd, err := f.open(dst.Rel(), os.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fail("copytree", dst, err)
	}
	defer dd.Close()
	if err := f.copyDir(ctx, sd, int(dd.Fd()), 0); err != nil {
		return fail("copytree", src, err)
	}
	return nil
}

// maxCopyDepth bounds the recursion (directories cannot loop without links, which are refused).
const maxCopyDepth = 512

func (f *FS) copyDir(ctx context.Context, sd *os.File, dfd, depth int) error {
	if depth > maxCopyDepth {
		return unix.ELOOP
	}
	sfd := int(sd.Fd())
	files := make([]string, 0, listBatch)
	for {
		ents, rerr := sd.ReadDir(listBatch)
		if err := ctx.Err(); err != nil {
			return err
		}
		files = files[:0]
		for _, e := range ents {
			name := e.Name()
			if hidden(name) {
				continue
			}
			switch t := e.Type(); {
			case t&os.ModeSymlink != 0:
				return errLinkInTree
			case t.IsDir():
				if err := unix.Mkdirat(dfd, name, 0o777); err != nil {
					return err
				}
				if err := f.copySubdir(ctx, sfd, dfd, name, depth); err != nil {
					return err
				}
			case t.IsRegular():
				files = append(files, name)
			}
		}
		if err := f.copyMembers(ctx, sfd, dfd, files); err != nil {
			return err
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if !f.opt.NoFsync {
		_ = unix.Fsync(dfd)
	}
	return nil
}

// copyWorkers bounds how many files of one directory CopyTree copies at once. The work is in
// the kernel (inode creation, page copies, or a disk's queue), so it goes on in parallel on
// several cores; copyPerWorker files at least make a second worker worth its start.
var copyWorkers = min(runtime.GOMAXPROCS(0), 4)

const copyPerWorker = 16

// copyMembers copies the regular files names of the directory sfd into dfd, on up to
// copyWorkers goroutines. The first failure stops the rest and is returned.
func (f *FS) copyMembers(ctx context.Context, sfd, dfd int, names []string) error {
	var (
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
	)
	work := func() {
		for !failed.Load() {
			i := int(next.Add(1) - 1)
			if i >= len(names) {
				return
			}
			err := ctx.Err()
			if err == nil {
				err = f.copyMember(ctx, sfd, dfd, names[i])
			}
			if err != nil {
				errOnce.Do(func() { first = err })
				failed.Store(true)
				return
			}
		}
	}
	if workers := min(copyWorkers, len(names)/copyPerWorker); workers > 1 {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(work)
		}
		wg.Wait()
	} else {
		work()
	}
	return first
}

func (f *FS) copySubdir(ctx context.Context, sfd, dfd int, name string, depth int) error {
	s, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	sub := os.NewFile(uintptr(s), name)
	defer sub.Close()
	d, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	return f.copyDir(ctx, sub, d, depth+1)
}

// copyMember copies one regular file with raw descriptors: a reflink when the file system can,
// else copy_file_range(2) until the size read from fstat is reached.
func (f *FS) copyMember(ctx context.Context, sfd, dfd int, name string) error {
	in, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(in)
	var st unix.Stat_t
	if err := unix.Fstat(in, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil // replaced by something that is not a resource meanwhile
	}
	out, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return err
	}
	err = copyFD(ctx, out, in, st.Size)
	if err == nil && !f.opt.NoFsync {
		err = unix.Fsync(out)
	}
	if cerr := unix.Close(out); err == nil {
		err = cerr
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, name, 0)
	}
	return err
}

// copyFD copies size bytes of in to out: a reflink when the file system can share extents, else
// copy_file_range(2) in rounds of at most copyChunk, with a cancellation check between rounds,
// else (across file systems, or one that cannot) through a buffer.
func copyFD(ctx context.Context, out, in int, size int64) error {
	if size == 0 {
		return nil
	}
	if !noReflink.Load() {
		err := unix.IoctlFileClone(out, in)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
			noReflink.Store(true)
		}
	}
	var done int64
	for done < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := unix.CopyFileRange(in, nil, out, nil, int(min(size-done, copyChunk)), 0)
		switch {
		case err == unix.EINTR:
			continue
		case done == 0 && (err == unix.EXDEV || err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP):
			return bufferCopy(ctx, out, in)
		case err != nil:
			return err
		case n == 0:
			return nil // the file shrank meanwhile
		}
		done += int64(n)
	}
	return nil
}

// bufferCopy copies in to out from where each stands to in's end, through a pooled buffer.
func bufferCopy(ctx context.Context, out, in int) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := unix.Read(in, *bp)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return nil
		}
		if _, err := writeFD(out, (*bp)[:n]); err != nil {
			return err
		}
	}
}
