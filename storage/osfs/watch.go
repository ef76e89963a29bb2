package osfs

import (
	"context"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// FS vouches for listings with inotify(7), so the dav engine may reuse a rendered PROPFIND.
var _ storage.ListVersioner = (*FS)(nil)

// maxWatches bounds the directories watched; past it, listings are simply not vouched for.
const maxWatches = 8192

const watchMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM |
	unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR

// watcher tracks, per watched directory, a version that changes whenever the directory, its
// membership or a member's metadata may have changed, by this process or any other.
//
// Why it never vouches for stale data:
//   - The kernel queues an inotify event before the system call that made the change returns,
//     and ListVersion drains the queue before answering, so a change that completed before the
//     call is always counted.
//   - A directory is watched through /proc/self/fd of a descriptor opened through os.Root, and
//     its device and inode are checked on every call, so a path that now names another
//     directory (an ancestor was renamed) is watched anew.
//   - Every member collection is watched too, and its events also change its parent's version
//     (the parent's listing shows the member's modification time).
//   - A directory with a member that is a symbolic link or a file with several hard links is not
//     vouched for: a change made through another path would raise no event here. List reports
//     such members (markUnsafe); any later event on the directory clears the mark, and the next
//     List sets it again if it still applies.
//   - On a queue overflow every version changes.
type watcher struct {
	mu     sync.Mutex
	fd     int
	byPath map[davpath.Path]*watched
	byWD   map[int32]*watched
	seq    uint64
	buf    []byte
}

type watched struct {
	p        davpath.Path
	wd       int32
	dev, ino uint64
	ver      uint64
	// unsafe: List saw a member whose changes might raise no event here; cleared by the next
	// event (List sets it again if it still applies).
	unsafe bool
	// blind: a member collection could not be watched; sticky while the watch lives.
	blind bool
}

// watcherOf returns the FS's watcher, creating it on first use; nil when inotify is unavailable.
func (f *FS) watcherOf() *watcher {
	f.watchOnce.Do(func() {
		fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			return
		}
		f.watch = &watcher{fd: fd, byPath: map[davpath.Path]*watched{}, byWD: map[int32]*watched{}, buf: make([]byte, 64<<10)}
	})
	return f.watch
}

func (w *watcher) close() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return unix.Close(w.fd)
}

func (w *watcher) bump() uint64 { w.seq++; return w.seq }

// ListVersion implements storage.ListVersioner.
func (f *FS) ListVersion(ctx context.Context, p davpath.Path) (uint64, bool) {
	w := f.watcherOf()
	if w == nil || ctx.Err() != nil {
		return 0, false
	}
	// What p names now, resolved as every operation resolves it (its parent beneath the root,
	// then the last segment itself, not followed): a watched directory that was moved, or an
	// ancestor renamed, makes the identity differ even though the watch saw nothing.
	var st unix.Stat_t
	name, flags := p.Base(), unix.AT_SYMLINK_NOFOLLOW
	if p.IsRoot() {
		name, flags = ".", 0
	}
	err := f.inDir(p.Parent(), func(dirfd int) error {
		return retry(func() error { return unix.Fstatat(dirfd, name, &st, flags) })
	})
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.drain(f)
	d := w.byPath[p]
	if d != nil && (d.dev != st.Dev || d.ino != st.Ino) {
		w.forget(d)
		d = nil
	}
	if d == nil {
		dir, err := f.open(p.Rel(), os.O_RDONLY|syscall.O_DIRECTORY)
		if err != nil {
			return 0, false
		}
		defer dir.Close()
		var dst unix.Stat_t
		if unix.Fstat(int(dir.Fd()), &dst) != nil || dst.Dev != st.Dev || dst.Ino != st.Ino {
			return 0, false // changed in between
		}
		if d = w.add(p, dir, &st); d == nil {
			return 0, false
		}
		// Watch the member collections before anyone lists p, so that no change to them is
		// missed; a member that cannot be watched leaves p unvouched.
		ents, err := dir.ReadDir(-1)
		if err != nil {
			d.blind = true
		}
		for _, e := range ents {
			if e.IsDir() && !hidden(e.Name()) && !w.addChild(f, p.Join(e.Name())) {
				d.blind = true
			}
		}
		w.drain(f)
		if w.byPath[p] != d {
			return 0, false // p went away while it was being scanned
		}
	}
	if d.unsafe || d.blind {
		return 0, false
	}
	return d.ver, true
}

// add watches the open directory dir as p.
func (w *watcher) add(p davpath.Path, dir *os.File, st *unix.Stat_t) *watched {
	if len(w.byPath) >= maxWatches {
		return nil
	}
	wd, err := unix.InotifyAddWatch(w.fd, "/proc/self/fd/"+strconv.Itoa(int(dir.Fd())), watchMask)
	if err != nil {
		return nil
	}
	if old := w.byWD[int32(wd)]; old != nil {
		// The same directory under another path (a bind mount or a rename we have not seen):
		// inotify hands back the same descriptor. Keep one record.
		w.forget(old)
		wd, err = unix.InotifyAddWatch(w.fd, "/proc/self/fd/"+strconv.Itoa(int(dir.Fd())), watchMask)
		if err != nil {
			return nil
		}
	}
	d := &watched{p: p, wd: int32(wd), dev: st.Dev, ino: st.Ino, ver: w.bump()}
	w.byPath[p] = d
	w.byWD[d.wd] = d
	return d
}

// addChild watches the member collection p unless it already is.
func (w *watcher) addChild(f *FS, p davpath.Path) bool {
	if w.byPath[p] != nil {
		return true
	}
	dir, err := f.root.OpenFile(p.Rel(), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer dir.Close()
	var st unix.Stat_t
	if unix.Fstat(int(dir.Fd()), &st) != nil {
		return false
	}
	return w.add(p, dir, &st) != nil
}

// forget stops tracking d.
func (w *watcher) forget(d *watched) {
	delete(w.byPath, d.p)
	if w.byWD[d.wd] == d {
		delete(w.byWD, d.wd)
		_, _ = unix.InotifyRmWatch(w.fd, uint32(d.wd))
	}
	if parent := w.byPath[d.p.Parent()]; parent != nil && !d.p.IsRoot() {
		parent.ver = w.bump()
	}
}

// markUnsafe records that p has a member whose changes might raise no event on p.
func (f *FS) markUnsafe(p davpath.Path) {
	w := f.watch
	if w == nil {
		return
	}
	w.mu.Lock()
	if d := w.byPath[p]; d != nil {
		d.unsafe = true
	}
	w.mu.Unlock()
}

// drain reads every queued event without blocking and updates the versions.
func (w *watcher) drain(f *FS) {
	for {
		n, err := unix.Read(w.fd, w.buf)
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			nameBytes := w.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			w.event(f, ev, cString(nameBytes))
		}
	}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func (w *watcher) event(f *FS, ev *unix.InotifyEvent, name string) {
	if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
		for _, d := range w.byPath {
			d.ver = w.bump()
			d.unsafe = false
		}
		return
	}
	d := w.byWD[ev.Wd]
	if d == nil {
		return
	}
	d.ver, d.unsafe = w.bump(), false
	if !d.p.IsRoot() {
		if parent := w.byPath[d.p.Parent()]; parent != nil {
			parent.ver = w.bump()
		}
	}
	switch {
	case ev.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_UNMOUNT) != 0:
		w.forget(d)
	case ev.Mask&unix.IN_ISDIR != 0 && ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 && davpath.ValidName(name) && !hidden(name):
		if !w.addChild(f, d.p.Join(name)) {
			d.blind = true
		}
	}
}
