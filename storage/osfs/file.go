package osfs

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// file is a regular file open for reading (Open), held by its bare descriptor: a GET spares
// the fcntl(2), the epoll_ctl(2) and the finalizer of an *os.File, and net/http still finds the
// descriptor for sendfile(2) through SyscallConn. It is used by one request at a time.
type file struct {
	fd     int
	name   string
	closed bool
}

func (f *file) Read(p []byte) (int, error) {
	if f.closed {
		return 0, os.ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: f.name, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *file) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, os.ErrClosed
	}
	n, err := unix.Seek(f.fd, offset, whence)
	if err != nil {
		return 0, &os.PathError{Op: "seek", Path: f.name, Err: err}
	}
	return n, nil
}

func (f *file) Close() error {
	if f.closed {
		return os.ErrClosed
	}
	f.closed = true
	return unix.Close(f.fd)
}

// SyscallConn hands the descriptor to net/http's sendfile path.
func (f *file) SyscallConn() (syscall.RawConn, error) {
	if f.closed {
		return nil, os.ErrClosed
	}
	return rawConn{f}, nil
}

// rawConn runs callbacks on a regular file's descriptor, which is always ready.
type rawConn struct{ f *file }

func (c rawConn) Control(fn func(fd uintptr)) error { fn(uintptr(c.f.fd)); return nil }
func (c rawConn) Read(fn func(fd uintptr) bool) error {
	if !fn(uintptr(c.f.fd)) {
		return errNotReady
	}
	return nil
}
func (c rawConn) Write(fn func(fd uintptr) bool) error {
	if !fn(uintptr(c.f.fd)) {
		return errNotReady
	}
	return nil
}

var errNotReady = errors.New("osfs: regular file not ready")
