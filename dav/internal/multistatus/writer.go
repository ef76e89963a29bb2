// Package multistatus writes RFC 4918 §13 207 Multi-Status bodies by hand, streaming.
//
// Once Start has been called the Writer owns the response: the status line and headers are sent,
// and every later failure must become its own <D:response> entry. Close always writes the
// closing tag, so a client never sees a truncated or corrupted document. Memory stays flat: each
// response is assembled in one reused buffer and handed to a buffered writer.
package multistatus

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/davd/davd/dav/rwcap"
)

// Prologue and epilogue of every 207 body. The DAV: namespace is bound to the "D" prefix on the
// root element: the Windows Mini-Redirector mishandles a default namespace (golang/go#11177).
const (
	prologue = `<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:multistatus xmlns:D="DAV:">`
	epilogue = "</D:multistatus>\n"
)

var bufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// Writer streams one multistatus body.
type Writer struct {
	w       http.ResponseWriter
	bw      *bufio.Writer
	started bool
	closed  bool
	err     error
	// Buf is scratch space callers may use to assemble one response before Write.
	Buf     []byte
	scratch *[]byte
}

// scratchPool recycles the per-response scratch buffers (Buf).
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// New returns a Writer for w. Nothing is sent until Start.
func New(w http.ResponseWriter) *Writer {
	bp := scratchPool.Get().(*[]byte)
	return &Writer{w: w, Buf: (*bp)[:0], scratch: bp}
}

// SetLength announces that exactly n bytes of responses will be written, so the body is sent
// with a Content-Length instead of chunked. It must be called before the first Write.
func (m *Writer) SetLength(n int64) {
	m.w.Header().Set("Content-Length", strconv.FormatInt(int64(len(prologue))+n+int64(len(epilogue)), 10))
}

// Start sends the 207 status and the prologue. It never sets a Location header (RFC 4918 §13).
func (m *Writer) Start() {
	if m.started {
		return
	}
	m.started = true
	h := m.w.Header()
	h.Del("Location")
	h.Set("Content-Type", "application/xml; charset=utf-8")
	m.w.WriteHeader(http.StatusMultiStatus)
	m.bw = bufPool.Get().(*bufio.Writer)
	m.bw.Reset(m.w)
	_, m.err = m.bw.WriteString(prologue)
}

// Write appends an already assembled <D:response> element (usually built in Buf).
func (m *Writer) Write(p []byte) {
	m.Start()
	if m.err != nil {
		return
	}
	_, m.err = m.bw.Write(p)
}

// WriteAll writes a whole body of already assembled responses and closes the document: in one
// vectored write (prologue, chunks, epilogue) when the response writer takes one, else through
// the buffered writer. Nothing may have been written before; SetLength usually has been.
// The vectored write is found as rwcap.Find finds it: package server/h1 offers it, and the
// server's middlewares in front of h1 pass it on.
func (m *Writer) WriteAll(chunks [][]byte) error {
	vw, ok := rwcap.Find[rwcap.VectorWriter](m.w)
	if !ok || m.started {
		for _, c := range chunks {
			m.Write(c)
		}
		return m.Close()
	}
	m.started = true
	h := m.w.Header()
	h.Del("Location")
	h.Set("Content-Type", "application/xml; charset=utf-8")
	m.w.WriteHeader(http.StatusMultiStatus)
	bufs := make([][]byte, 0, len(chunks)+2)
	bufs = append(bufs, []byte(prologue))
	bufs = append(bufs, chunks...)
	bufs = append(bufs, []byte(epilogue))
	_, m.err = vw.WriteVectors(bufs)
	m.closed = true
	m.release()
	if m.err != nil {
		m.err = fmt.Errorf("%w: %w", ErrStarted, m.err)
	}
	return m.err
}

// Err returns the first write error (usually a client that went away); callers stop walking.
func (m *Writer) Err() error { return m.err }

// ErrStarted marks a failure of a 207 already under way (usually a client that went away): the
// status has been sent, so the failure can only be logged, never answered.
var ErrStarted = errors.New("multistatus: response already started")

// Close writes the closing tag and flushes. It is safe to call more than once. A write failure
// is returned wrapped in ErrStarted.
func (m *Writer) Close() error {
	if m.closed {
		return m.err
	}
	m.closed = true
	m.Start()
	if m.err == nil {
		_, m.err = m.bw.WriteString(epilogue)
	}
	if m.err == nil {
		m.err = m.bw.Flush()
	}
	m.bw.Reset(io.Discard)
	bufPool.Put(m.bw)
	m.bw = nil
	m.release()
	if m.err != nil {
		m.err = fmt.Errorf("%w: %w", ErrStarted, m.err)
	}
	return m.err
}

// release gives the scratch buffer back.
func (m *Writer) release() {
	if m.scratch != nil && cap(m.Buf) <= 64<<10 {
		*m.scratch = m.Buf[:0]
		scratchPool.Put(m.scratch)
	}
	m.Buf, m.scratch = nil, nil
}

// StatusLine appends "HTTP/1.1 <code> <text>" for a D:status element.
func StatusLine(dst []byte, code int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	return append(dst, http.StatusText(code)...)
}

// AppendStatusResponse appends a <D:response> with one href and a status, and optionally an
// RFC 4918 §16 condition element (e.g. "lock-token-submitted") with hrefs inside, and a
// responsedescription. The href must already be escaped for XML (davpath escaping produces no
// XML-special characters).
func AppendStatusResponse(dst []byte, href string, code int, cond string, condHrefs []string) []byte {
	dst = append(dst, "<D:response><D:href>"...)
	dst = append(dst, href...)
	dst = append(dst, "</D:href><D:status>"...)
	dst = StatusLine(dst, code)
	dst = append(dst, "</D:status>"...)
	if cond != "" {
		dst = append(dst, "<D:error><D:"...)
		dst = append(dst, cond...)
		if len(condHrefs) == 0 {
			dst = append(dst, "/>"...)
		} else {
			dst = append(dst, '>')
			for _, h := range condHrefs {
				dst = append(dst, "<D:href>"...)
				dst = append(dst, h...)
				dst = append(dst, "</D:href>"...)
			}
			dst = append(dst, "</D:"...)
			dst = append(dst, cond...)
			dst = append(dst, '>')
		}
		dst = append(dst, "</D:error>"...)
	}
	return append(dst, "</D:response>"...)
}
