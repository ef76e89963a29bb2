package osfs

import (
	"errors"
	"io/fs"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/storage"
)

// stat is the part of a statx(2) result that an Info is built from.
type stat struct {
	mode  uint32 // the S_IFMT bits
	size  int64
	mtime int64 // nanoseconds since the epoch
	btime int64 // nanoseconds since the epoch; 0 when the file system does not know it
	ino   uint64
	nlink uint32
	link  bool // reached through a symbolic link
	// ctime (nanoseconds since the epoch) and dev tell the small-file cache that the content
	// it holds is still the file's (cache.go).
	ctime int64
	dev   uint64
}

const statxMask = unix.STATX_TYPE | unix.STATX_INO | unix.STATX_SIZE | unix.STATX_MTIME | unix.STATX_BTIME | unix.STATX_NLINK | unix.STATX_CTIME

// noStatx is set once statx(2) has reported ENOSYS (old kernels, some sandboxes); fstatat(2) is
// used from then on and creation times are left zero.
var noStatx atomic.Bool

// statAt describes name relative to the directory descriptor dirfd (or dirfd itself when name is
// "" and flags has AT_EMPTY_PATH). name must be a single segment; callers pass
// AT_SYMLINK_NOFOLLOW so that a link is reported, never followed.
func statAt(dirfd int, name string, flags int) (stat, error) {
	if !noStatx.Load() {
		var sx unix.Statx_t
		err := retry(func() error { return unix.Statx(dirfd, name, flags|unix.AT_STATX_SYNC_AS_STAT, statxMask, &sx) })
		if err == nil {
			s := stat{
				mode:  uint32(sx.Mode) & unix.S_IFMT,
				size:  int64(sx.Size),
				mtime: sx.Mtime.Sec*1e9 + int64(sx.Mtime.Nsec),
				ino:   sx.Ino,
				nlink: sx.Nlink,
				ctime: sx.Ctime.Sec*1e9 + int64(sx.Ctime.Nsec),
				dev:   unix.Mkdev(sx.Dev_major, sx.Dev_minor),
			}
			if sx.Mask&unix.STATX_BTIME != 0 {
				s.btime = sx.Btime.Sec*1e9 + int64(sx.Btime.Nsec)
			}
			return s, nil
		}
		if !errors.Is(err, unix.ENOSYS) {
			return stat{}, err
		}
		noStatx.Store(true)
	}
	var st unix.Stat_t
	if err := retry(func() error { return unix.Fstatat(dirfd, name, &st, flags) }); err != nil {
		return stat{}, err
	}
	return stat{
		mode:  st.Mode & unix.S_IFMT,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ino:   st.Ino,
		nlink: uint32(st.Nlink),
		ctime: st.Ctim.Nano(),
		dev:   st.Dev,
	}, nil
}

// statFromInfo converts the result of os.Root.Stat (used to follow a symbolic link inside the
// root). The creation time is not available there and is left zero.
func statFromInfo(fi fs.FileInfo) (stat, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return stat{}, false
	}
	return stat{
		mode:  st.Mode & syscall.S_IFMT,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ino:   st.Ino,
		nlink: uint32(st.Nlink),
		ctime: st.Ctim.Nano(),
		dev:   uint64(st.Dev),
	}, true
}

func (s *stat) isDir() bool     { return s.mode == unix.S_IFDIR }
func (s *stat) isReg() bool     { return s.mode == unix.S_IFREG }
func (s *stat) isSymlink() bool { return s.mode == unix.S_IFLNK }

// isResource reports whether the entry is something davd serves: a regular file or a directory.
func (s *stat) isResource() bool { return s.isDir() || s.isReg() }

// info builds the storage.Info of the entry called name.
func (s *stat) info(name string) storage.Info { return s.infoTagged(name, s.etag()) }

// infoTagged is info with the entity tag already made (the small-file cache keeps it).
func (s *stat) infoTagged(name, etag string) storage.Info {
	in := storage.Info{
		Name:    name,
		ModTime: time.Unix(0, s.mtime),
		IsDir:   s.isDir(),
		ETag:    etag,
		Link:    s.link,
	}
	if !in.IsDir {
		in.Size = s.size
	}
	if s.btime != 0 {
		in.Created = time.Unix(0, s.btime)
	}
	return in
}

// etag returns a strong entity tag made of the modification time in nanoseconds, the size and
// the inode number. Put and CopyFile rename a new inode into place, so the tag changes on every
// write even when the client sets the same modification time on the same content.
func (s *stat) etag() string {
	var b [64]byte
	buf := append(b[:0], '"')
	buf = strconv.AppendUint(buf, uint64(s.mtime), 16)
	buf = append(buf, '-')
	buf = strconv.AppendUint(buf, uint64(s.size), 16)
	buf = append(buf, '-')
	buf = strconv.AppendUint(buf, s.ino, 16)
	buf = append(buf, '"')
	return string(buf)
}

// retry repeats a system call interrupted by a signal (network and FUSE file systems).
func retry(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
