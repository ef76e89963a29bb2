package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/davd/davd/dav/rwcap"
)

// response is the http.ResponseWriter of one request.
//
// The body is held in the connection's pend buffer until the framing must be decided: when it
// outgrows the buffer, when the handler flushes, or when the handler returns (then the whole
// body is known and gets a Content-Length). Until then nothing is written, so the header can
// still be completed (Content-Length, Content-Type sniffing, Connection) as net/http does.
type response struct {
	c      *conn
	req    *http.Request
	body   *body // nil: the request has no body
	hdr    http.Header
	cancel context.CancelFunc

	status      int
	wroteHeader bool  // WriteHeader was called (or implied)
	sent        bool  // the status line and header are in the connection's writer
	done        bool  // the handler returned
	clen        int64 // the response's Content-Length, -1 while unknown
	written     int64 // body bytes the handler wrote
	chunked     bool
	head        bool
	closeAfter  bool // the connection closes after this response
	canContinue bool // the request body still owes the client its 100 Continue
	wdl         bool // the handler set a write deadline
	fullDuplex  bool // the handler reads the body while it writes (EnableFullDuplex)

	lr io.LimitedReader // ReadFrom's copy of a small body into the buffer, here so as not to allocate

	wantsClose       bool // from the request, before the handler may change its header
	wants10KeepAlive bool
}

func newResponse(c *conn, req *http.Request) *response {
	ctx, cancel := context.WithCancel(c.ctx)
	orig := req
	req = req.WithContext(ctx)
	w := &response{c: c, req: req, hdr: make(http.Header), cancel: cancel, clen: -1, head: req.Method == http.MethodHead, closeAfter: c.mustClose}
	connection := first(req.Header["Connection"])
	w.wantsClose = req.Close || hasToken(connection, "close")
	w.wants10KeepAlive = req.ProtoMajor == 1 && req.ProtoMinor == 0 && hasToken(connection, "keep-alive")
	if req.Body != nil && req.Body != http.NoBody {
		w.body = &body{w: w, src: req.Body, orig: orig}
		req.Body = w.body
	}
	c.bodyArriving = false
	return w
}

// expectOK handles Expect (RFC 9110 section 10.1.1): 100-continue arms the interim response
// sent on the body's first read; any other expectation gets 417 and reports false.
func (w *response) expectOK() bool {
	e := first(w.req.Header["Expect"])
	if e == "" {
		return true
	}
	if hasToken(e, "100-continue") {
		if w.req.ProtoAtLeast(1, 1) && w.req.ContentLength != 0 && w.body != nil {
			w.canContinue = true
			w.body.expect = true
		}
		return true
	}
	w.hdr["Connection"] = []string{"close"}
	w.WriteHeader(http.StatusExpectationFailed)
	return false
}

// WriteVectors writes bufs as the body, as a Write of their concatenation would, but when the
// response has a Content-Length it sends them with the header in one writev(2), uncopied
// (package dav's cached listings).
func (w *response) WriteVectors(bufs [][]byte) (int64, error) {
	if w.done {
		return 0, errDone
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.clen < 0 || w.head || w.chunked || !bodyAllowedForStatus(w.status) || (!w.sent && w.sniffs()) {
		each := append(net.Buffers(nil), bufs...) // WriteTo consumes its slice: not the caller's
		return each.WriteTo(writerOnly{w})        // Write by Write
	}
	w.canContinue = false
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	w.written += total
	if w.written > w.clen {
		return 0, http.ErrContentLength
	}
	if !w.sent {
		w.commit(false, nil)
	}
	if err := w.c.flushWith(bufs...); err != nil {
		return 0, err
	}
	return total, nil
}

// ownDeadline bounds the writing of an answer the server makes itself, without the handler
// (which sets deadlines of its own): by the header timeout, so that a client that never reads
// cannot hold the connection.
func (w *response) ownDeadline() {
	if d := w.c.s.ReadHeaderTimeout; d > 0 {
		w.SetWriteDeadline(time.Now().Add(d))
	}
}

// globalOptions answers "OPTIONS *" (RFC 9110 section 9.3.7, a question about the server, not
// a resource) as net/http does, without the handler: 200, no body. A body over 4 KiB closes
// the connection. The body is read under the header deadline, which is still armed.
func (w *response) globalOptions() {
	w.hdr["Content-Length"] = []string{"0"}
	if w.body != nil {
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, w.body, 4<<10)); err != nil {
			w.closeAfter = true
		}
	}
}

func (w *response) Header() http.Header { return w.hdr }

func (w *response) WriteHeader(code int) {
	if w.done {
		return
	}
	if w.wroteHeader {
		w.c.s.logf("http: superfluous response.WriteHeader call (status %d after %d)", code, w.status)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 101 || code > 199 {
		w.canContinue = false // a final answer, or an explicit 100: no automatic 100 Continue
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// An interim response goes out now, with the header as it is (RFC 9110 section 15.2).
		bw := w.c.bw
		writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code)
		writeFields(bw, w.hdr, true)
		bw.WriteString("\r\n")
		bw.Flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := first(w.hdr["Content-Length"]); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.clen = v
		} else {
			w.c.s.logf("http: invalid Content-Length of %q", cl)
			delete(w.hdr, "Content-Length")
		}
	}
}

var errDone = errors.New("h1: response used after its handler returned")

func (w *response) Write(p []byte) (int, error) {
	if w.done {
		return 0, errDone
	}
	w.canContinue = false
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.clen != -1 && w.written > w.clen {
		return 0, http.ErrContentLength
	}
	c := w.c
	if !w.sent {
		if len(c.pend)+len(p) <= cap(c.pend) {
			c.pend = append(c.pend, p...)
			return len(p), nil
		}
		w.commit(false, p)
	}
	if w.head {
		return len(p), nil
	}
	if !w.chunked {
		if len(p) > c.bw.Available() && c.bw.Buffered() > 0 {
			// What is buffered (the header, often) and p leave in one writev.
			if err := c.flushWith(p); err != nil {
				return 0, err
			}
			return len(p), nil
		}
		return c.bw.Write(p)
	}
	// Chunks are at least pendSize long, however small the writes.
	if len(c.pend)+len(p) <= cap(c.pend) {
		c.pend = append(c.pend, p...)
		return len(p), nil
	}
	w.writeChunk(c.pend)
	c.pend = c.pend[:0]
	if len(p) < cap(c.pend) {
		c.pend = append(c.pend, p...)
	} else {
		w.writeChunk(p)
	}
	if c.werr != nil {
		return 0, c.werr
	}
	return len(p), nil
}

func (w *response) writeChunk(p []byte) {
	if len(p) == 0 {
		return
	}
	bw := w.c.bw
	var b [16]byte
	bw.Write(strconv.AppendInt(b[:0], int64(len(p)), 16))
	bw.WriteString("\r\n")
	if len(p) > bw.Available() {
		w.c.flushWith(p)
	} else {
		bw.Write(p)
	}
	bw.WriteString("\r\n")
}

// commit decides the framing and puts the status line and header into the connection's writer,
// followed by the held body unless it is chunked. final: the handler has returned, so the held
// body is the whole body. next is the write that did not fit (for Content-Type sniffing).
// This follows net/http's chunkWriter.writeHeader rule for rule.
func (w *response) commit(final bool, next []byte) {
	w.sent = true
	c, h, code := w.c, w.hdr, w.status
	p := c.pend
	te := first(h["Transfer-Encoding"])
	hasTE := te != ""
	allowed := bodyAllowedForStatus(code)
	var setCL, setCT, setConn string

	if final && !hasTE && allowed && h["Content-Length"] == nil && (!w.head || len(p) > 0) {
		w.clen = int64(len(p))
		setCL = strconv.Itoa(len(p))
	}
	hasCL := w.clen != -1
	if w.wants10KeepAlive && (w.head || hasCL || !allowed) {
		if _, ok := h["Connection"]; !ok {
			setConn = "keep-alive"
		}
	} else if !w.req.ProtoAtLeast(1, 1) || w.wantsClose {
		w.closeAfter = true
	}
	if first(h["Connection"]) == "close" || c.s.closing.Load() || w.req.ProtoMajor != 1 {
		w.closeAfter = true
	}
	if b := w.body; b != nil && b.expect && !b.sawEOF {
		// The client waits for 100 Continue, or its body was not read to the end: whatever
		// follows on the wire is not known to be a request.
		w.closeAfter = true
	}
	if b := w.body; b != nil && !w.closeAfter && !b.sawEOF && !w.fullDuplex {
		// A body the handler left: read and drop up to maxPostHandlerReadBytes of it to keep
		// the connection; beyond that, close it (clients that send their whole request before
		// reading the response must not be left blocked).
		_, err := io.CopyN(io.Discard, b.src, maxPostHandlerReadBytes+1)
		switch err {
		case nil:
			w.closeAfter = true
		case io.EOF:
			b.sawEOF = true
		default:
			w.closeAfter = true
		}
	}

	if allowed {
		if _, have := h["Content-Type"]; !have && first(h["Content-Encoding"]) == "" && !hasTE {
			sniff := p
			if len(sniff) < sniffLen && len(next) > 0 {
				sniff = append(sniff[:len(sniff):len(sniff)], next[:min(len(next), sniffLen-len(sniff))]...)
			}
			if len(sniff) > 0 {
				setCT = http.DetectContentType(sniff)
			}
		}
	} else {
		// RFC 9110 sections 8.6 and 15.4.5: no Content-Length on 1xx and 204, no body
		// metadata on 304.
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
		if code == http.StatusNotModified {
			delete(h, "Content-Type")
		}
	}
	if hasCL && hasTE && te != "identity" {
		c.s.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.clen)
		delete(h, "Content-Length")
		hasCL = false
		w.clen = -1
	}
	switch {
	case w.head || !allowed || code == http.StatusNoContent:
		delete(h, "Transfer-Encoding")
	case hasCL:
		delete(h, "Transfer-Encoding")
	case w.req.ProtoAtLeast(1, 1):
		delete(h, "Transfer-Encoding")
		if te == "identity" {
			w.closeAfter = true // delimited by the close
		} else {
			w.chunked = true
			delete(h, "Content-Length")
		}
	default:
		// HTTP/1.0 and no length: delimited by the close.
		w.closeAfter = true
		delete(h, "Transfer-Encoding")
	}
	if w.closeAfter {
		delete(h, "Connection")
		setConn = ""
		if w.req.ProtoAtLeast(1, 1) {
			setConn = "close"
		}
	}

	bw := c.bw
	writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code)
	writeFields(bw, h, false)
	if setCL != "" {
		bw.WriteString("Content-Length: " + setCL + "\r\n")
	}
	if setCT != "" {
		bw.WriteString("Content-Type: " + setCT + "\r\n")
	}
	if setConn != "" {
		bw.WriteString("Connection: " + setConn + "\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if !w.chunked {
		if !w.head && len(p) > 0 {
			bw.Write(p)
		}
		c.pend = p[:0]
	}
}

const sniffLen = 512

// Flush sends what the handler wrote so far.
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush with its error (for http.ResponseController).
func (w *response) FlushError() error {
	if w.done {
		return errDone
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		w.commit(false, nil)
	}
	if w.chunked {
		w.writeChunk(w.c.pend)
		w.c.pend = w.c.pend[:0]
	}
	return w.c.bw.Flush()
}

// Bodies of files go by sendfile(2) at every size past the write buffer. A 32 KiB copy was
// used from 1 MiB up after the measurement of 2026-12-05 (sendfile 1.4–1.9 GB/s, the copy
// 2.0–2.3 GB/s); on 2026-12-07, same VM, 1 GiB on tmpfs, curl, 5 interleaved runs each, the
// copy gave 2.39–2.69 GB/s and sendfile 3.28–4.30 GB/s (median 3.51), and the shared referee
// put davd's copy at 2.8 GB/s beside x/net/webdav's sendfile at 4.5 GB/s. sendfile copies
// nothing in user space, so it is kept for every size.

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writerOnly hides ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// ReadFrom copies src to the body. A body that fits in the write buffer is read into it and
// leaves in one write with the header; a bigger one goes by sendfile(2) or splice(2) when src
// allows it (a file, or an *io.LimitedReader over one), through a buffer otherwise. When the
// Content-Type must be sniffed,
// the first 512 bytes go through Write first, as net/http does.
func (w *response) ReadFrom(src io.Reader) (n int64, err error) {
	if w.done {
		return 0, errDone
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	c := w.c
	rf, ok := c.rwc.(io.ReaderFrom)
	if !ok {
		return io.CopyBuffer(writerOnly{w}, src, *bp)
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		if w.sniffs() {
			n0, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(src, sniffLen), *bp)
			n += n0
			if err != nil || n0 < sniffLen {
				return n, err
			}
		} else if w.clen >= 0 {
			w.commit(false, nil)
			if remain := w.clen - w.written; !w.chunked && !w.head && bodyAllowedForStatus(w.status) &&
				remain <= int64(c.bw.Available()) {
				w.lr = io.LimitedReader{R: src, N: remain}
				n0, err := c.bw.ReadFrom(&w.lr)
				w.lr.R = nil
				w.written += n0
				return n + n0, err
			}
		}
	}
	if err := w.FlushError(); err != nil {
		return n, err
	}
	if w.chunked || w.head || !bodyAllowedForStatus(w.status) {
		n0, err := io.CopyBuffer(writerOnly{w}, src, *bp)
		return n + n0, err
	}
	var n0 int64
	if w.clen < 0 {
		n0, err = rf.ReadFrom(src)
	} else {
		// Never more than the declared length: one *io.LimitedReader (sendfile looks through
		// one, not two).
		remain := w.clen - w.written
		send := rf.ReadFrom
		if lr, ok := src.(*io.LimitedReader); ok {
			in := *lr
			in.N = min(in.N, remain)
			n0, err = send(&in)
			lr.N -= n0
		} else {
			n0, err = send(&io.LimitedReader{R: src, N: remain})
		}
	}
	w.written += n0
	if err != nil && c.werr == nil {
		c.werr = err // the connection is out of step with the declared length
	}
	return n + n0, err
}

// sniffs reports whether the response's Content-Type is to be detected from its body.
func (w *response) sniffs() bool {
	if !bodyAllowedForStatus(w.status) {
		return false
	}
	_, have := w.hdr["Content-Type"]
	return !have && first(w.hdr["Content-Encoding"]) == "" && first(w.hdr["Transfer-Encoding"]) == ""
}

// ReadFromSniffless marks a writer whose ReadFrom reads nothing ahead when the Content-Type is
// set (package dav then does not flush the header before the copy).
func (w *response) ReadFromSniffless() {}

// The capabilities the dav engine looks for (package rwcap).
var (
	_ rwcap.VectorWriter = (*response)(nil)
	_ rwcap.Sniffless    = (*response)(nil)
)

// SetReadDeadline sets the connection's read deadline (http.ResponseController).
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rwc.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline (http.ResponseController); it is
// cleared after the response.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.wdl = true
	return w.c.rwc.SetWriteDeadline(t)
}

// EnableFullDuplex lets the handler go on reading the request body after the response has
// started (http.ResponseController): what it leaves unread then closes the connection.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		w.commit(true, nil)
	}
	c := w.c
	if w.chunked {
		w.writeChunk(c.pend)
		c.bw.WriteString("0\r\n\r\n")
	}
	c.pend = c.pend[:0]
	w.done = true
	if b := w.body; b != nil {
		b.closed = true
		if b.sawEOF {
			b.src.Close()
		} else if !b.expect || b.continued {
			c.bodyArriving = true
		}
	}
}

// reusable reports whether the connection may serve another request (net/http's
// shouldReuseConnection).
func (w *response) reusable() bool {
	switch {
	case w.closeAfter, w.c.werr != nil:
		return false
	case !w.head && w.clen != -1 && bodyAllowedForStatus(w.status) && w.clen != w.written:
		return false // short of its Content-Length: the client would wait for the rest
	case w.body != nil && !w.body.sawEOF:
		return false
	}
	return true
}

// body is the request body as the handler sees it. Close does not read the rest (net/http's
// own body would drain it all when read through http.ReadRequest); what is left is dealt with
// when the response starts.
type body struct {
	w         *response
	src       io.ReadCloser
	orig      *http.Request // as http.ReadRequest returned it
	expect    bool          // the client sent Expect: 100-continue
	continued bool          // and got its 100 Continue
	closed    bool
	sawEOF    bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if w := b.w; w.canContinue {
		w.canContinue = false
		b.continued = true
		bw := w.c.bw
		bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := bw.Flush(); err != nil {
			return 0, err
		}
	}
	n, err := b.src.Read(p)
	if err == io.EOF && !b.sawEOF {
		b.sawEOF = true
		// A chunked body's trailer lands in the request http.ReadRequest made; the handler has
		// the copy WithContext made (a declared trailer's map is shared already).
		if b.orig.Trailer != nil {
			b.w.req.Trailer = b.orig.Trailer
		}
	}
	return n, err
}

func (b *body) Close() error {
	b.closed = true
	return nil
}

func bodyAllowedForStatus(code int) bool {
	switch {
	case code >= 100 && code <= 199:
		return false
	case code == http.StatusNoContent, code == http.StatusNotModified:
		return false
	}
	return true
}

func writeStatusLine(bw *bufio.Writer, is11 bool, code int) {
	if is11 {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	var b [8]byte
	bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
	if text := http.StatusText(code); text != "" {
		bw.WriteByte(' ')
		bw.WriteString(text)
	} else {
		bw.WriteString(" status code ")
		bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
	}
	bw.WriteString("\r\n")
}

// writeFields writes h, skipping names that are not tokens and, for an interim response,
// the length fields. Line breaks in values become spaces (no response splitting) and values
// are trimmed, as net/http.
func writeFields(bw *bufio.Writer, h http.Header, interim bool) {
	for k, vv := range h {
		if !validFieldName(k) {
			continue
		}
		if interim && (k == "Content-Length" || k == "Transfer-Encoding") {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
}

func writeValue(bw *bufio.Writer, v string) {
	i, j := 0, len(v)
	for i < j && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
		i++
	}
	for j > i && (v[j-1] == ' ' || v[j-1] == '\t' || v[j-1] == '\r' || v[j-1] == '\n') {
		j--
	}
	v = v[i:j]
	for k := 0; k < len(v); k++ {
		if v[k] == '\r' || v[k] == '\n' {
			bw.WriteString(v[:k])
			bw.WriteByte(' ')
			v = v[k+1:]
			k = -1
		}
	}
	bw.WriteString(v)
}

func first(vv []string) string {
	if len(vv) == 0 {
		return ""
	}
	return vv[0]
}

// hasToken reports whether token occurs in v case-insensitively, bounded by the start or end
// of v, spaces, tabs or commas (net/http's hasToken, for Connection and Expect).
func hasToken(v, token string) bool {
	for sp := 0; sp+len(token) <= len(v); sp++ {
		if sp > 0 && !tokenBoundary(v[sp-1]) {
			continue
		}
		if end := sp + len(token); end != len(v) && !tokenBoundary(v[end]) {
			continue
		}
		if equalFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func tokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

type dateCache struct {
	sec int64
	s   string
}

var dateNow atomic.Pointer[dateCache]

// httpDate is the Date header of now, formatted once a second.
func httpDate() string {
	now := time.Now()
	if d := dateNow.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &dateCache{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	dateNow.Store(d)
	return d.s
}
