package osfs

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/davpath"
)

// Mkcol creates the collection p.
func (f *FS) Mkcol(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("mkcol", p, err)
	}
	if p.IsRoot() {
		return fail("mkcol", p, fs.ErrExist)
	}
	if hidden(p.Base()) {
		return fail("mkcol", p, fs.ErrPermission)
	}
	err := f.inDir(p.Parent(), func(dirfd int) error {
		// mkdirat(2) never follows a final link: a dangling one is EEXIST, as it should be.
		if err := unix.Mkdirat(dirfd, p.Base(), 0o777); err != nil {
			return err
		}
		f.syncDir(dirfd)
		return nil
	})
	var pe *parentError
	if errors.As(err, &pe) {
		return failParent("mkcol", p, err)
	}
	if err != nil {
		return fail("mkcol", p, err)
	}
	return nil
}

// Remove removes the regular file, link or empty collection p.
func (f *FS) Remove(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("remove", p, err)
	}
	if p.IsRoot() {
		return fail("remove", p, fs.ErrPermission)
	}
	if hidden(p.Base()) {
		return fail("remove", p, fs.ErrNotExist)
	}
	err := f.inDir(p.Parent(), func(dirfd int) error {
		if err := f.refuseEscapingLink(dirfd, p); err != nil {
			return err
		}
		return unlinkAt(dirfd, p.Base())
	})
	if err != nil {
		return fail("remove", p, err)
	}
	return nil
}

// refuseEscapingLink fails with the link's error when p is a symbolic link leaving the root:
// such a link is not a resource (Stat and Open refuse it), so no write may touch it either.
func (f *FS) refuseEscapingLink(dirfd int, p davpath.Path) error {
	st, err := statAt(dirfd, p.Base(), unix.AT_SYMLINK_NOFOLLOW)
	if err != nil || !st.isSymlink() {
		return nil // unlinkat reports a missing name itself
	}
	if _, err := f.follow(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// unlinkAt removes name (a file, a link or an empty directory) from dirfd.
func unlinkAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == unix.EISDIR {
		err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		if err == unix.EEXIST {
			err = unix.ENOTEMPTY
		}
	}
	return err
}

// Rename moves src to dst with renameat(2), replacing a non-collection or an empty collection at
// dst. Both parents are resolved through os.Root and the rename itself names single segments.
func (f *FS) Rename(ctx context.Context, src, dst davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("rename", src, err)
	}
	switch {
	case src.IsRoot() || dst.IsRoot() || src.Contains(dst) || dst.Contains(src):
		// Moving a collection into itself, or over one of its ancestors, is forbidden
		// (RFC 4918 §9.9.4: 403 when source and destination overlap).
		if src == dst {
			_, err := f.Stat(ctx, src)
			return err
		}
		return fail("rename", src, fs.ErrPermission)
	case hidden(src.Base()):
		return fail("rename", src, fs.ErrNotExist)
	case hidden(dst.Base()):
		return fail("rename", dst, fs.ErrPermission)
	}
	var dstParentErr bool
	err := f.inDir(src.Parent(), func(sfd int) error {
		err := f.inDir(dst.Parent(), func(dfd int) error {
			err := unix.Renameat(sfd, src.Base(), dfd, dst.Base())
			if err == unix.EISDIR || err == unix.ENOTDIR {
				// The two differ in kind (file onto collection or the reverse): remove dst,
				// which must be a file or an empty collection, and try again.
				if err = unlinkAt(dfd, dst.Base()); err == nil {
					err = unix.Renameat(sfd, src.Base(), dfd, dst.Base())
				}
			}
			if err == unix.EEXIST {
				err = unix.ENOTEMPTY
			}
			if err != nil {
				return err
			}
			f.syncDir(dfd)
			return nil
		})
		var pe *parentError
		if errors.As(err, &pe) {
			dstParentErr = true
			return pe.err
		}
		if err == nil {
			f.syncDir(sfd)
		}
		return err
	})
	if dstParentErr {
		return failParent("rename", dst, err)
	}
	if err != nil {
		return fail("rename", src, err)
	}
	return nil
}

// RemoveAll removes p and everything below it through os.Root, which never follows a link out of
// the tree (a link is removed, not its target).
func (f *FS) RemoveAll(ctx context.Context, p davpath.Path) error {
	if err := ctx.Err(); err != nil {
		return fail("removeall", p, err)
	}
	if p.IsRoot() {
		return fail("removeall", p, fs.ErrPermission)
	}
	if hidden(p.Base()) {
		return fail("removeall", p, fs.ErrNotExist)
	}
	if _, err := f.root.Lstat(p.Rel()); err != nil {
		return fail("removeall", p, err)
	}
	if err := f.root.RemoveAll(p.Rel()); err != nil {
		return fail("removeall", p, err)
	}
	return nil
}

// Quota reports the figures of the file system that holds p (RFC 4331): available is what an
// unprivileged user may still write, used is everything allocated on the file system.
func (f *FS) Quota(ctx context.Context, p davpath.Path) (available, used int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, fail("quota", p, err)
	}
	var sf unix.Statfs_t
	statfs := func(fd int) error { return retry(func() error { return unix.Fstatfs(fd, &sf) }) }
	err = f.inDir(p, statfs)
	if err != nil && !p.IsRoot() {
		err = f.inDir(p.Parent(), statfs)
	}
	if err != nil {
		return 0, 0, fail("quota", p, err)
	}
	bsize := int64(sf.Bsize)
	return int64(sf.Bavail) * bsize, int64(sf.Blocks-sf.Bfree) * bsize, nil
}

// SetModTime sets the modification time of p (following a link inside the root); the access time
// is left alone.
func (f *FS) SetModTime(ctx context.Context, p davpath.Path, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return fail("setmodtime", p, err)
	}
	if !p.IsRoot() && hidden(p.Base()) {
		return fail("setmodtime", p, fs.ErrNotExist)
	}
	if err := f.root.Chtimes(p.Rel(), time.Time{}, t); err != nil {
		return fail("setmodtime", p, err)
	}
	return nil
}
