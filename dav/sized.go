package dav

import (
	"io"
	"syscall"

	"github.com/davd/davd/storage"
)

// sizedFile spares http.ServeContent its two lseek(2) calls per GET: it already knows the size
// from the Open (storage.Info), so Seek(0, io.SeekEnd) is answered without moving, and the seek
// back to the start is free while nothing has been read.
type sizedFile struct {
	storage.File
	size int64
	// atStart: the real offset is 0; atEnd: a pretended seek to the end is pending.
	atStart, atEnd bool
}

// sizedConn is a sizedFile whose file has a descriptor (a local file): it keeps net/http's
// sendfile(2) path, which looks for syscall.Conn.
type sizedConn struct {
	*sizedFile
	sc syscall.Conn
}

// SyscallConn exposes the file's descriptor, the test net/http makes before sendfile(2).
func (s sizedConn) SyscallConn() (syscall.RawConn, error) { return s.sc.SyscallConn() }

// withSize wraps f for http.ServeContent.
func withSize(f storage.File, size int64) io.ReadSeeker {
	sf := &sizedFile{File: f, size: size, atStart: true}
	if sc, ok := f.(syscall.Conn); ok {
		return sizedConn{sf, sc}
	}
	return sf
}

// Seek answers ServeContent's two probes, to the end for the size and back to the start,
// without a system call; any other seek (a Range request) reaches the file.
func (f *sizedFile) Seek(offset int64, whence int) (int64, error) {
	switch {
	case offset == 0 && whence == io.SeekEnd:
		f.atEnd = true
		return f.size, nil
	case offset == 0 && whence == io.SeekStart && f.atStart:
		f.atEnd = false
		return 0, nil
	}
	f.atEnd = false
	n, err := f.File.Seek(offset, whence)
	f.atStart = err == nil && n == 0
	return n, err
}

// Read performs a pretended seek to the end for real first, so a read after it returns EOF as
// the file would.
func (f *sizedFile) Read(p []byte) (int, error) {
	if f.atEnd {
		if _, err := f.File.Seek(0, io.SeekEnd); err != nil {
			return 0, err
		}
		f.atEnd, f.atStart = false, f.size == 0
	}
	n, err := f.File.Read(p)
	if n > 0 {
		f.atStart = false
	}
	return n, err
}
