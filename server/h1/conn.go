package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"
)

type connState int

const (
	stateNew    connState = iota // accepted, no request read yet
	stateActive                  // reading a request or running its handler
	stateIdle                    // waiting for the next request
)

// conn is one client connection, served by one goroutine: read a request, run the handler,
// finish the response, and again.
type conn struct {
	s      *Server
	rwc    net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	remote string
	since  time.Time // accepted

	// The read side: lr bounds how much the request line and header may read from the socket
	// (net/http's initial read limit); br reads requests and bodies through it.
	lr  io.LimitedReader
	rec recorder
	br  *bufio.Reader
	// The write side: bw writes to the socket through connWriter, which keeps the first error.
	bw   *bufio.Writer
	werr error

	tail [][]byte // written after bw's content by its next flush (flushWith)
	pend []byte   // response body not yet written (see response)
	pp   *[]byte  // pend's pool entry

	lastPOST  bool // the previous request was a POST (leading CRLF tolerance)
	mustClose bool // the request being served must be the connection's last
	// bodyArriving: the connection closes with a request body the client may still be sending.
	bodyArriving bool

	mu    sync.Mutex // guards state against Shutdown
	state connState
}

const (
	bufSize = 4 << 10
	// wbufSize is the write buffer: a file of up to about this size leaves in the same write
	// as its header (ReadFrom).
	wbufSize = 16 << 10
	// pendSize is how much of a response is held before its framing must be decided: a whole
	// response up to this size gets a Content-Length (net/http: 2 KiB), and chunked responses
	// are written in chunks of this size at least.
	pendSize = 4 << 10
	// maxPostHandlerReadBytes is how much of a body the handler left unread is read and
	// dropped to keep the connection, as net/http; more, and the connection is closed.
	maxPostHandlerReadBytes = 256 << 10
	// lingerTime and lingerBytes bound the read-and-drop after a response that closes a
	// connection with a body still arriving (RFC 9112 section 9.6), so the client reads the
	// response before the reset an unread receive buffer would cause.
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 4 << 20
)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, wbufSize) }}
	pendPool   = sync.Pool{New: func() any { b := make([]byte, 0, pendSize); return &b }}
)

// connWriter is the socket side of bw; it records the first write error.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	if tail := c.tail; tail != nil {
		// flushWith: p and tail in one writev(2).
		c.tail = nil
		bufs := make(net.Buffers, 0, 1+len(tail))
		bufs = append(append(bufs, p), tail...)
		n, err := bufs.WriteTo(c.rwc)
		if err != nil {
			if c.werr == nil {
				c.werr = err
			}
			return int(min(n, int64(len(p)))), err
		}
		return len(p), nil
	}
	n, err := c.rwc.Write(p)
	if err != nil && c.werr == nil {
		c.werr = err
	}
	return n, err
}

// flushWith flushes bw followed by p, in one system call: a response's header and a large
// body (or chunk, or a vectored write's buffers) leave together.
func (c *conn) flushWith(p ...[]byte) error {
	if c.bw.Buffered() == 0 {
		bufs := append(net.Buffers(nil), p...) // WriteTo consumes its slice: not the caller's
		_, err := bufs.WriteTo(c.rwc)
		if err != nil && c.werr == nil {
			c.werr = err
		}
		return err
	}
	c.tail = p
	err := c.bw.Flush()
	c.tail = nil
	if err == nil {
		err = c.werr
	}
	return err
}

func (c *conn) serve() {
	if ra := c.rwc.RemoteAddr(); ra != nil {
		c.remote = ra.String()
	}
	c.lr = io.LimitedReader{R: c.rwc, N: math.MaxInt64}
	c.br = readerPool.Get().(*bufio.Reader)
	c.rec.r = &c.lr
	c.br.Reset(&c.rec)
	var w *response
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.s.logf("http: panic serving %v: %v\n%s", c.remote, err, buf)
		}
		if w != nil { // the handler panicked: its writer and body are done too
			w.done = true
			if w.body != nil {
				w.body.closed = true
			}
			w.cancel()
		}
		c.rwc.Close()
		c.cancel()
		c.s.forget(c)
		// A handler that kept a body or writer past its return holds them, not these.
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.release()
	}()
	h := c.s.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	for first := true; ; first = false {
		if !c.await(first) {
			return
		}
		c.acquire()
		req, err := c.readRequest()
		if err != nil {
			c.refuse(err)
			return
		}
		w = newResponse(c, req)
		if !w.expectOK() {
			// answered 417
			w.ownDeadline()
		} else if req.Method == http.MethodOptions && req.RequestURI == "*" && !c.s.DisableGeneralOptionsHandler {
			w.ownDeadline()
			w.globalOptions()
		} else {
			h.ServeHTTP(w, w.req)
		}
		w.finish()
		keep := w.reusable()
		c.bw.Flush()
		if w.wdl {
			c.rwc.SetWriteDeadline(time.Time{})
		}
		w.cancel()
		w = nil
		c.release()
		if !keep {
			if c.werr == nil && c.bodyArriving {
				c.linger()
			}
			return
		}
	}
}

// acquire takes the write buffers for one request: an idle connection holds none.
func (c *conn) acquire() {
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(connWriter{c})
	c.pp = pendPool.Get().(*[]byte)
	c.pend = (*c.pp)[:0]
}

// release gives the write buffers back, once the response is flushed.
func (c *conn) release() {
	if c.bw != nil {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
	if c.pp != nil {
		*c.pp = c.pend[:0]
		pendPool.Put(c.pp)
		c.pp, c.pend = nil, nil
	}
}

// await waits for the first bytes of the next request and arms the header timeout. A
// connection's first request must be read whole within the header timeout of the accept (one
// deadline, set once: a byte arriving just before it expires does not start it again, as
// net/http). A kept-alive connection waits under the idle timeout, which starts at the end of
// the previous response, and its request's header must then arrive within the header timeout
// of its first bytes (as net/http). It returns false when the connection is to be closed: the
// wait failed or the server is shutting down.
func (c *conn) await(first bool) bool {
	s := c.s
	if first {
		c.mu.Lock()
		if s.closing.Load() {
			c.mu.Unlock()
			return false
		}
		if d := s.ReadHeaderTimeout; d > 0 {
			c.rwc.SetReadDeadline(c.since.Add(d))
		}
		c.mu.Unlock()
		if _, err := c.br.Peek(1); err != nil {
			return false
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if s.closing.Load() {
			return false
		}
		c.state = stateActive
		return true
	}
	// Like net/http, a kept-alive connection waits for 4 bytes before it reads a request:
	// a client that sends a stray CRLF or two and closes gets no 400.
	const need = 4
	if c.br.Buffered() < need {
		c.mu.Lock()
		if s.closing.Load() {
			c.mu.Unlock()
			return false
		}
		c.state = stateIdle
		if d := s.idleTimeout(); d > 0 {
			c.rwc.SetReadDeadline(time.Now().Add(d))
		} else {
			c.rwc.SetReadDeadline(time.Time{})
		}
		c.mu.Unlock()
		if _, err := c.br.Peek(need); err != nil {
			return false
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	c.state = stateActive
	if d := s.ReadHeaderTimeout; d > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(d))
	} else {
		c.rwc.SetReadDeadline(time.Time{}) // a handler's deadline from the previous request
	}
	return true
}

// statusError is a request refused before it reaches the handler.
type statusError struct {
	code int
	text string
}

func (e statusError) Error() string { return http.StatusText(e.code) + ": " + e.text }

var errTooLarge = errors.New("h1: request header too large")

// errFaulty10 refuses an HTTP/1.0 request with Transfer-Encoding (RFC 9112 section 6.1).
var errFaulty10 = statusError{http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request"}

// readRequest reads and checks one request: http.ReadRequest, then the checks net/http's server
// makes on top of it.
func (c *conn) readRequest() (*http.Request, error) {
	if c.lastPOST {
		// RFC 9112 section 2.2: a server SHOULD ignore empty lines before a request line
		// (old clients add CRLF after a POST body).
		if n := c.br.Buffered(); n > 0 {
			peek, _ := c.br.Peek(min(n, 4))
			skip := 0
			for skip < len(peek) && (peek[skip] == '\r' || peek[skip] == '\n') {
				skip++
			}
			c.br.Discard(skip)
		}
	}
	// http.ReadRequest takes the Host field out of the header, and with an absolute-form
	// target puts the target's host in req.Host; it drops Transfer-Encoding from an HTTP/1.0
	// request. To check these fields as RFC 9112 sections 3.2 and 6.1 ask, the header block
	// is recorded when the request line is not an origin-form HTTP/1.1 one already in the read
	// buffer (rare), and otherwise looked at in the read buffer if it is still there. The
	// record is the request's only: it is released when the request has been read, so an
	// idle connection does not hold a large header block (issue 12).
	pre, _ := c.br.Peek(c.br.Buffered())
	origin := originForm11(pre)
	c.rec.reads = 0
	if !origin {
		c.rec.buf = append(c.rec.buf[:0], pre...)
		c.rec.on = true
	}
	defer func() { c.rec.buf = nil }()
	c.lr.N = c.s.maxHeaderBytes() + 4096
	req, err := http.ReadRequest(c.br)
	hit := c.lr.N <= 0
	c.lr.N = math.MaxInt64
	c.rec.on = false
	if err != nil {
		if hit {
			return nil, errTooLarge
		}
		return nil, err
	}
	c.lastPOST = req.Method == http.MethodPost
	// The HTTP/2 preface ("PRI * HTTP/2.0") reaches the handler, as in net/http; other
	// versions than 1.x do not.
	h2preface := req.Method == "PRI" && req.RequestURI == "*" && req.ProtoMajor == 2 && req.ProtoMinor == 0
	if req.ProtoMajor != 1 && !h2preface {
		return nil, statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	var block []byte // the request's header block as received, when known
	switch {
	case !origin:
		block = c.rec.buf
	case c.rec.reads == 0: // nothing was read: the buffer still holds the request
		block = pre
	}
	host, haveHost := req.Host, req.Host != ""
	if (req.URL.Host != "" || req.Host == "") && block != nil {
		host, haveHost = field(block, "Host")
	}
	// RFC 9112 section 6.3: a request with both Transfer-Encoding and Content-Length may be
	// an attempt at request smuggling; it is framed by the Transfer-Encoding alone (as
	// http.ReadRequest does, which drops the Content-Length), and the server MUST close the
	// connection after responding. net/http keeps it open. When the header block is not at
	// hand, a chunked request closes its connection anyway.
	c.mustClose = false
	if len(req.TransferEncoding) > 0 {
		if _, ok := field(block, "Content-Length"); ok || block == nil {
			c.mustClose = true
		}
	}
	// RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing,
	// with or without a Content-Length, and the connection must close after it. Behind a
	// front end that frames it by the Transfer-Encoding, what follows would be taken for
	// another request. http.ReadRequest has dropped the field (its framing is the
	// Content-Length, if any); the recorded block still has it. It is refused, and nothing
	// after it is read as a request.
	if !req.ProtoAtLeast(1, 1) {
		if _, ok := field(block, "Transfer-Encoding"); ok || block == nil {
			return nil, errFaulty10
		}
	}
	if !haveHost && req.ProtoAtLeast(1, 1) && req.Method != http.MethodConnect && !(h2preface && len(req.Header) == 0) {
		return nil, statusError{http.StatusBadRequest, "missing required Host header"}
	}
	if !validHost(host) {
		return nil, statusError{http.StatusBadRequest, "malformed Host header"}
	}
	for k, vv := range req.Header {
		if !validFieldName(k) {
			return nil, statusError{http.StatusBadRequest, "invalid header name"}
		}
		for _, v := range vv {
			if !validFieldValue(v) {
				return nil, statusError{http.StatusBadRequest, "invalid header value"}
			}
		}
	}
	// The header deadline stays armed: the body is read under it unless the handler sets a
	// read deadline of its own (http.ResponseController), as davd's transfer deadlines do. A
	// connection is never left without a deadline by the server itself.
	req.RemoteAddr = c.remote
	return req, nil
}

// recorder keeps what is read through it while on.
type recorder struct {
	r     io.Reader
	on    bool
	reads int
	buf   []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.reads++
	if r.on {
		r.buf = append(r.buf, p[:n]...)
	}
	return n, err
}

// originForm11 reports whether b starts with a whole request line whose target is
// origin-form ("/...") and whose version is HTTP/1.1.
func originForm11(b []byte) bool {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return false
	}
	line := bytes.TrimSuffix(b[:nl], []byte("\r"))
	sp := bytes.IndexByte(line, ' ')
	return sp >= 0 && sp+1 < len(line) && line[sp+1] == '/' && bytes.HasSuffix(line, []byte(" HTTP/1.1"))
}

// field finds the first field called name in the header block that starts b (request line,
// fields, empty line), as textproto reads it: names case-insensitive, values trimmed,
// continuation lines joined with a space. (ReadRequest has refused a block with two Host
// fields.)
func field(b []byte, name string) (value string, ok bool) {
	first := true
	inField := false
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			nl = len(b)
		}
		line := b[:nl]
		b = b[min(nl+1, len(b)):]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if first {
			first = false
			continue
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if inField {
				value += " " + string(bytes.Trim(line, " \t"))
			}
			continue
		}
		if ok {
			break
		}
		k, v, found := bytes.Cut(line, []byte(":"))
		if found && equalFold(string(k), name) {
			value, ok, inField = string(bytes.Trim(v, " \t")), true, true
		}
	}
	return value, ok
}

// refuse answers a request that could not be read, as net/http does, and the connection closes.
func (c *conn) refuse(err error) {
	const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	if d := c.s.ReadHeaderTimeout; d > 0 {
		// A client that never reads its responses must not hold the connection.
		c.rwc.SetWriteDeadline(time.Now().Add(d))
	}
	var se statusError
	switch {
	case err == errTooLarge:
		const msg = "431 Request Header Fields Too Large"
		c.bw.WriteString("HTTP/1.1 " + msg + errorHeaders + msg)
		c.bw.Flush()
		c.linger()
	case unsupportedTE(err):
		// RFC 9112 section 6.1: a server that receives a transfer coding it does not
		// understand SHOULD respond with 501. The coding is not echoed.
		c.bw.WriteString("HTTP/1.1 501 Not Implemented" + errorHeaders + "Unsupported transfer encoding")
		c.bw.Flush()
	case isCommonNetReadError(err):
		// the client went, or timed out: no answer
	case errors.As(err, &se):
		status := fmt.Sprintf("%d %s: %s", se.code, http.StatusText(se.code), se.text)
		c.bw.WriteString("HTTP/1.1 " + status + errorHeaders + status)
		c.bw.Flush()
		if se == errFaulty10 {
			c.linger() // its body may be on the way: let the client read the answer
		}
	default:
		const msg = "400 Bad Request"
		c.bw.WriteString("HTTP/1.1 " + msg + errorHeaders + msg)
		c.bw.Flush()
	}
}

// unsupportedTE reports whether ReadRequest refused the request's Transfer-Encoding (an
// unknown coding, or more than one field): net/http's unexported *unsupportedTEError.
func unsupportedTE(err error) bool {
	if fmt.Sprintf("%T", err) == "*http.unsupportedTEError" {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "unsupported transfer encoding") || strings.HasPrefix(msg, "too many transfer encodings")
}

func isCommonNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// linger closes the write side and reads what the client still sends, for a bounded time, so
// that closing a socket with unread data does not reset the connection before the client has
// read the response (net/http's closeWriteAndWait).
func (c *conn) linger() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.rwc.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(c.rwc, lingerBytes))
}

// validHost reports whether h is a plausible Host: the bytes of RFC 3986's host and port
// (net/http's httpguts.ValidHostHeader).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostByte[h[i]] {
			return false
		}
	}
	return true
}

// validFieldName reports whether k is an RFC 9110 token.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !tokenByte[k[i]] {
			return false
		}
	}
	return true
}

// validFieldValue reports whether v has no control character other than tab (RFC 9110
// section 5.5).
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

var hostByte, tokenByte [256]bool

func init() {
	for _, r := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" {
		hostByte[r], tokenByte[r] = true, true
	}
	for _, r := range "!$%&'()*+,-.:;=[]_~" {
		hostByte[r] = true
	}
	for _, r := range "!#$%&'*+-.^_`|~" {
		tokenByte[r] = true
	}
}
