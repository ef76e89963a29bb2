package osfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/davpath"
)

// maxLinks bounds the symbolic links one Resolve follows, as os.Root bounds them: past it the
// storage itself answers ELOOP.
const maxLinks = 8

// errLinkLoop reports a path that needs more than maxLinks links to resolve.
var errLinkLoop = fmt.Errorf("%w: too many levels of symbolic links", fs.ErrNotExist)

// Resolve returns the location in the tree that p reaches once the symbolic links on its way,
// the last segment's included, are followed the way os.Root follows them: the path an access
// rule must be checked against when a link may lead across one. A path without links resolves
// to itself. When p does not exist (yet), the longest existing prefix is resolved and the rest
// appended, which is where Put or Mkcol would create it.
//
// Resolve fails with fs.ErrPermission when a link leads out of the root, and with an error
// matching fs.ErrNotExist when links loop or nest deeper than os.Root follows them; callers
// deciding access should refuse in both cases, as the storage would.
//
// Links are resolved with one openat2(2) call that refuses every link: a path without any
// costs that call and a close, and only paths with links take the step-by-step walk. In a
// request whose context carries WithLinkMemo, a member that List has just yielded costs no
// system call (see WithLinkMemo). Like any check made before the operation, the answer can be
// outdated by a concurrent change to the tree on disk.
func (f *FS) Resolve(ctx context.Context, p davpath.Path) (davpath.Path, error) {
	if err := ctx.Err(); err != nil {
		return "", fail("resolve", p, err)
	}
	if p.IsRoot() {
		return p, nil
	}
	if m := memoOf(ctx, f); m != nil {
		if m.listed(p) {
			// List has just described p as no link: it is where its collection leads.
			dir, err := m.resolveDir(f, p.Parent())
			if err != nil {
				return "", err
			}
			return dir.Join(p.Base()), nil
		}
	}
	return f.resolve(p)
}

// resolve is Resolve without the memo.
func (f *FS) resolve(p davpath.Path) (davpath.Path, error) {
	switch f.noLinks(p.Rel(), 0) {
	case nil:
		return p, nil
	case unix.ENOENT:
		// p does not exist; if its parent has no link on its way, p is where it would be made.
		if f.noLinks(p.Parent().Rel(), unix.O_DIRECTORY) == nil {
			return p, nil
		}
	}
	q, err := f.resolveWalk(p)
	if err != nil {
		return "", fail("resolve", p, err)
	}
	return q, nil
}

// noLinks reports whether rel exists beneath the root with no symbolic link on its way, itself
// included: nil if so, the errno of openat2(2) otherwise (ENOSYS when it is unavailable).
func (f *FS) noLinks(rel string, flags int) error {
	if noOpenat2.Load() {
		return unix.ENOSYS
	}
	how := unix.OpenHow{
		Flags:   uint64(unix.O_PATH | unix.O_CLOEXEC | flags),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	}
	var fd int
	var err error
	if cerr := f.rootConn.Control(func(root uintptr) { fd, err = unix.Openat2(int(root), rel, &how) }); cerr != nil {
		return unix.EBADF
	}
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			noOpenat2.Store(true)
		}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return errno
		}
		return unix.EIO
	}
	unix.Close(fd)
	return nil
}

// resolveWalk resolves p one segment at a time from the root: each segment is looked up with
// AT_SYMLINK_NOFOLLOW in the directory resolved so far, and a link's target replaces it. ".."
// in a target goes up from the directory holding the link, which is itself free of links, so
// the result is the kernel's and os.Root's answer.
func (f *FS) resolveWalk(p davpath.Path) (davpath.Path, error) {
	todo := p.Segments()
	cur := davpath.Root
	links := 0
	for len(todo) > 0 {
		seg := todo[0]
		todo = todo[1:]
		switch seg {
		case "", ".":
			continue
		case "..":
			if cur.IsRoot() {
				return "", fmt.Errorf("%w: path escapes the served tree", fs.ErrPermission)
			}
			cur = cur.Parent()
			continue
		}
		var st stat
		var target string
		err := f.inDir(cur, func(dirfd int) error {
			var err error
			if st, err = statAt(dirfd, seg, unix.AT_SYMLINK_NOFOLLOW); err != nil || !st.isSymlink() {
				return err
			}
			target, err = readlinkAt(dirfd, seg)
			return err
		})
		next := cur.Join(seg)
		if err != nil {
			if errors.Is(classify(err), fs.ErrNotExist) {
				// Nothing exists from here on: the rest is where it would be made. A name that
				// is not a plain segment cannot be made through a missing directory.
				for _, s := range todo {
					if s == "" || s == "." || s == ".." {
						break
					}
					next = next.Join(s)
				}
				return next, nil
			}
			return "", err
		}
		if !st.isSymlink() {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", errLinkLoop
		}
		if target == "" {
			return "", fmt.Errorf("%w: empty symbolic link", fs.ErrNotExist)
		}
		if target[0] == '/' {
			// os.Root and RESOLVE_BENEATH refuse absolute targets.
			return "", fmt.Errorf("%w: path escapes the served tree", fs.ErrPermission)
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, nil
}

// readlinkAt returns the target of the symbolic link name in dirfd.
func readlinkAt(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		var n int
		err := retry(func() error {
			var err error
			n, err = unix.Readlinkat(dirfd, name, buf)
			return err
		})
		if err != nil {
			return "", &os.PathError{Op: "readlinkat", Path: name, Err: err}
		}
		if n < size || size >= unix.PathMax {
			return string(buf[:n]), nil
		}
	}
}

// maxMemoDirs bounds the collections a memo remembers the resolution of; past it, it starts
// over.
const maxMemoDirs = 256

// linkMemo is what one request has learnt about links: the member List yielded last, which is
// not a link, and the resolutions of the collections whose members were asked about.
type linkMemo struct {
	mu   sync.Mutex
	fs   *FS          // the FS that filled it; a memo serves one FS
	dir  davpath.Path // the collection List is yielding the members of
	name string       // its member yielded last, when that is not a link; "" otherwise
	dirs map[davpath.Path]davpath.Path
}

type memoKey struct{}

// WithLinkMemo returns a context under which List and Resolve share what they learn about links
// for the length of one request, so that an access check of each member of a listing (a
// PROPFIND, a DELETE or MOVE walk, the browser listing) costs no system call: List has just
// described the member without following it, and its collection's resolution is remembered.
// Without it, every Resolve asks the file system. The memo answers only for the member List
// yielded last, so it never vouches for a name it has not just seen.
func WithLinkMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &linkMemo{})
}

// memoOf returns ctx's memo when it serves f (the first FS to use a memo claims it).
func memoOf(ctx context.Context, f *FS) *linkMemo {
	m, _ := ctx.Value(memoKey{}).(*linkMemo)
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fs == nil {
		m.fs = f
	}
	if m.fs != f {
		return nil
	}
	return m
}

// yielded records that List of dir is about to yield name; link tells whether it is a link.
func (m *linkMemo) yielded(dir davpath.Path, name string, link bool) {
	if link {
		name = ""
	}
	m.mu.Lock()
	m.dir, m.name = dir, name
	m.mu.Unlock()
}

// listed reports whether p is the member List yielded last, and not a link.
func (m *linkMemo) listed(p davpath.Path) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.name != "" && m.name == p.Base() && m.dir == p.Parent()
}

// resolveDir returns where the collection dir leads, remembered for the request.
func (m *linkMemo) resolveDir(f *FS, dir davpath.Path) (davpath.Path, error) {
	m.mu.Lock()
	r, ok := m.dirs[dir]
	m.mu.Unlock()
	if ok {
		return r, nil
	}
	var err error
	if dir.IsRoot() {
		r = dir
	} else if r, err = f.resolve(dir); err != nil {
		return "", err
	}
	m.mu.Lock()
	if m.dirs == nil || len(m.dirs) >= maxMemoDirs {
		m.dirs = map[davpath.Path]davpath.Path{}
	}
	m.dirs[dir] = r
	m.mu.Unlock()
	return r, nil
}
