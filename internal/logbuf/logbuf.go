// Package logbuf batches log lines into fewer writes.
//
// An access log writes one line per request. Written one write(2) each, at 30,000 small GETs a
// second that is a sixth of the server's system calls (issue 16; measured on the 2-core
// benchmark machine, where a system call costs about 1 µs of hypervisor work). A Writer's
// Lazy side buffers such lines and writes them together, at most Delay after the first of them:
// under load a few hundred writes a second, whatever the request rate, as nginx's
// `access_log … buffer= flush=` does. A line written while the Writer is idle still goes out at
// once, so a single request's line shows up as it did before.
//
// The Writer itself (Write) is for every other line: it writes what is buffered and the line
// together, at once, so lines keep their order and a warning is never held back.
//
// What is buffered is lost if the process dies by SIGKILL or a crash: at most Delay of access
// lines. Close (davd calls it on every orderly exit) writes them.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// maxBuffered is the most a Lazy side holds before it writes at once.
const maxBuffered = 64 << 10

// Writer writes to an underlying io.Writer, at once (Write) or batched (Lazy).
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	delay  time.Duration
	buf    []byte
	timer  *time.Timer
	armed  bool // a window is open: lazy lines wait for its end
	closed bool
}

// New returns a Writer on w whose lazy lines wait at most delay.
func New(w io.Writer, delay time.Duration) *Writer {
	b := &Writer{w: w, delay: delay}
	b.timer = time.AfterFunc(time.Hour, b.tick)
	b.timer.Stop()
	return b
}

// Write writes what is buffered and p, in that order, in one write.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	if err := b.flushLocked(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Lazy returns the batched side of b: a line written to it goes out at once when b is idle, or
// else with the others at most the delay later.
func (b *Writer) Lazy() io.Writer { return lazy{b} }

type lazy struct{ b *Writer }

func (l lazy) Write(p []byte) (int, error) {
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if !b.armed {
		// Idle: this line goes now, and the lines that follow it within the delay wait.
		b.armed = true
		b.timer.Reset(b.delay)
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= maxBuffered {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// tick ends a window: what it buffered is written and a new window opens, or, when nothing
// came, b is idle again.
func (b *Writer) tick() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if len(b.buf) == 0 {
		b.armed = false
		return
	}
	b.flushLocked()
	b.timer.Reset(b.delay)
}

// Flush writes what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *Writer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	if cap(b.buf) > 4*maxBuffered {
		b.buf = nil // a burst's buffer is not kept
	} else {
		b.buf = b.buf[:0]
	}
	return err
}

// Close writes what is buffered; later lines, lazy or not, are written at once.
func (b *Writer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.timer.Stop()
	return b.flushLocked()
}
