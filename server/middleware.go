package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/dav/rwcap"
)

// forwardedHeaders are the headers a reverse proxy sets about the original request. The engine
// uses X-Forwarded-Host to accept a Destination naming the public host.
var forwardedHeaders = []string{"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-For", "X-Forwarded-Prefix", "Forwarded"}

// stripForwarded removes the forwarding headers: with no trusted proxy, a client could set them
// to make the engine accept a Destination on a host it does not serve.
func stripForwarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range forwardedHeaders {
			r.Header.Del(h)
		}
		next.ServeHTTP(w, r)
	})
}

// forwarded keeps the forwarding headers only on requests whose peer is a trusted proxy.
func forwarded(trusted []string, next http.Handler) http.Handler {
	prefixes := make([]netip.Prefix, 0, len(trusted))
	for _, s := range trusted {
		p, err := parsePrefix(s)
		if err == nil { // Validate has refused bad entries
			prefixes = append(prefixes, p)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fromTrusted(r.RemoteAddr, prefixes) {
			for _, h := range forwardedHeaders {
				r.Header.Del(h)
			}
		} else if client, ok := forwardedFor(r.Header.Values("X-Forwarded-For"), prefixes); ok {
			// The request's address becomes the client's, for the logs and the login throttle
			// (a proxy's own address would get the proxy banned).
			r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedFor is the client address of an X-Forwarded-For chain: the rightmost entry that is
// not itself a trusted proxy (entries left of it could have been written by the client).
func forwardedFor(values []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var chain []string
	for _, v := range values {
		chain = append(chain, strings.Split(v, ",")...)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(chain[i]))
		if err != nil {
			return netip.Addr{}, false
		}
		a = a.Unmap()
		if !slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) }) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func fromTrusted(remote string, prefixes []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// redirectHTTPS answers every plain-HTTP request with a 308 to the same URL over HTTPS on
// port (omitted when 443). 308 keeps the method and body, so a PUT is not turned into a GET.
func redirectHTTPS(port string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, "/@\\ ") {
			http.Error(w, "Bad Request", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + strings.Trim(host, "[]") + "]"
		}
		if port != "443" {
			host += ":" + port
		}
		uri := r.URL.RequestURI()
		if !strings.HasPrefix(uri, "/") {
			uri = "/"
		}
		http.Redirect(w, r, "https://"+host+uri, http.StatusPermanentRedirect)
	})
}

// transferDeadlines gives each request progress-based deadlines: reading the next piece of the
// body and writing the next piece of the response must each happen within d of the previous
// one (or of the request's start). A long upload or download is never cut while it moves; a
// stalled one is, and so is a handler that never reads a body it was sent. d == 0 disables it.
//
// server/h1 leaves a request's header deadline armed while its body is read, for handlers that
// set none; with d == 0 the operator wants no bound on bodies, and it is cleared here.
func transferDeadlines(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil && r.Body != http.NoBody {
				http.NewResponseController(w).SetReadDeadline(time.Time{})
			}
			next.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		// The controller lives in the writer: one allocation for both.
		pw := &progressWriter{ResponseWriter: w, rc: *http.NewResponseController(w), d: d, last: now}
		rc := &pw.rc
		// Errors mean the connection cannot take deadlines (ErrNotSupported); then the
		// server-wide timeouts are all there is. A request without a body has nothing to read.
		hasBody := r.Body != nil && r.Body != http.NoBody
		if hasBody {
			rc.SetReadDeadline(now.Add(d))
		}
		rc.SetWriteDeadline(now.Add(d))
		if hasBody {
			// Wrap the body in a shallow copy of the request: net/http looks at its own
			// request's Body after the handler (an unread Expect: 100-continue body must not
			// be drained, or a 401 waits for a body the client will never send).
			r = r.WithContext(r.Context())
			r.Body = &progressBody{ReadCloser: r.Body, rc: rc, d: d, last: now}
		}
		next.ServeHTTP(pw, r)
		// Leave the final flush (nearly) the same allowance.
		pw.extend()
	})
}

// extendEvery is the fraction of d after which a deadline is pushed forward again: setting a
// deadline on every small read or write would only cost time.
const extendEvery = 8

type progressBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	d    time.Duration
	last time.Time
}

func (b *progressBody) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(b.last) > b.d/extendEvery {
		b.rc.SetReadDeadline(now.Add(b.d))
		b.last = now
	}
	return b.ReadCloser.Read(p)
}

type progressWriter struct {
	http.ResponseWriter
	rc   http.ResponseController
	d    time.Duration
	last time.Time
	lr   io.LimitedReader // ReadFrom's current chunk, kept here so that it is not an allocation
}

func (w *progressWriter) extend() {
	if now := time.Now(); now.Sub(w.last) > w.d/extendEvery {
		w.rc.SetWriteDeadline(now.Add(w.d))
		w.last = now
	}
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(b)
}

// sendfileChunk is how much of a file one sendfile(2) run may send before the write deadline
// is pushed forward (when it is older than d/extendEvery): at 1 MiB/s, 8 MiB takes 8 s, well
// inside any sane transfer timeout.
const sendfileChunk = 8 << 20

// ReadFrom keeps downloads on the sendfile path (http.ServeContent copies an
// *io.LimitedReader over the file) while extending the deadline between chunks.
func (w *progressWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{w}, r)
	}
	var total int64
	src := r
	remain := int64(-1)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, remain = lr.R, lr.N
		defer func() { lr.N = remain }()
	}
	for remain != 0 {
		w.extend()
		n := int64(sendfileChunk)
		if remain >= 0 && remain < n {
			n = remain
		}
		w.lr = io.LimitedReader{R: src, N: n}
		got, err := rf.ReadFrom(&w.lr)
		w.lr.R = nil
		total += got
		if remain >= 0 {
			remain -= got
		}
		if err != nil {
			return total, err
		}
		if got < n { // end of the source
			break
		}
	}
	return total, nil
}

// WriteVectors passes a vectored write on (package server/h1 sends it in one system call).
func (w *progressWriter) WriteVectors(bufs [][]byte) (int64, error) {
	w.extend()
	return writeVectors(w.ResponseWriter, bufs)
}

// Unwrap exposes the underlying writer to http.ResponseController and rwcap.Find.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// progressWriter sees every write, vectored ones included, to push the deadline forward.
var (
	_ rwcap.VectorWriter = (*progressWriter)(nil)
	_ rwcap.Unwrapper    = (*progressWriter)(nil)
)

// writeVectors writes bufs to w: with the WriteVectors of w's Unwrap chain when it has one,
// else one by one.
func writeVectors(w http.ResponseWriter, bufs [][]byte) (int64, error) {
	if vw, ok := rwcap.Find[rwcap.VectorWriter](w); ok {
		return vw.WriteVectors(bufs)
	}
	each := append(net.Buffers(nil), bufs...) // WriteTo consumes its slice: not the caller's
	return each.WriteTo(writerOnly{w})        // Write by Write
}

// writerOnly hides ReadFrom so io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }

// globalOptions answers "OPTIONS *" (RFC 9110 section 9.3.7: a question about the server, not
// a resource) as net/http's own handler does, 200 with no body, but inside davd's handler
// chain, so that it is under the transfer deadlines like every request; both plain-HTTP
// servers are told to pass it on (DisableGeneralOptionsHandler). Up to 4 KiB of a body is read
// and dropped; a body that is longer, or that cannot be read, is answered with the client's
// error and the connection closed.
func globalOptions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions || r.RequestURI != "*" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Length", "0")
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10)); err != nil {
				w.Header().Set("Connection", "close")
				w.WriteHeader(bodyErrorStatus(err))
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

// bodyErrorStatus is the status of a request whose body could not be read: 413 past a limit,
// 408 when the client stalled past the transfer deadline, else 400 (malformed chunked
// encoding, a body shorter than its Content-Length, a client that left).
func bodyErrorStatus(err error) int {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &ne) && ne.Timeout():
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// clientBodyErrors marks a failure to read the request body as the client's: the engine maps
// a *dav.Error to its status, where an unknown read error would be a 500. What the server
// itself does wrong with a body (reading it after Close) and the engine's own limits
// (*http.MaxBytesError, applied above this body) keep their meaning.
func clientBodyErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// A shallow copy, as in transferDeadlines: net/http looks at its own request's
			// Body after the handler.
			r = r.WithContext(r.Context())
			r.Body = &clientBody{r.Body}
		}
		next.ServeHTTP(w, r)
	})
}

type clientBody struct{ io.ReadCloser }

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, http.ErrBodyReadAfterClose) {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = &dav.Error{Status: bodyErrorStatus(err), Err: fmt.Errorf("reading the request body: %w", err)}
		}
	}
	return n, err
}

// HTTP/1.0 with Transfer-Encoding on net/http (RFC 9112 section 6.1; issue 12, finding 3).
//
// Such a message has faulty framing and its connection must close after it: a front end that
// frames it by the Transfer-Encoding would otherwise have what follows taken for another
// request. server/h1 checks the header block itself. net/http's http.ReadRequest drops the
// field from an HTTP/1.0 request before any handler runs, so nothing in the *http.Request
// shows it; the plain-HTTP net/http server therefore reads its connections through te10Conn,
// which watches the bytes as they arrive for a line ending in " HTTP/1.0" followed, in the
// same block of lines (before an empty line), by a Transfer-Encoding field. rejectFaulty10 then
// answers 400 and closes the connection for an HTTP/1.0 request whose request line was seen
// so. The watch does not frame requests: a request line is matched by its end (a request may
// start in the middle of a line, right after a body), and a match in a body that ended just
// before can only refuse (and close) that client's own connection, never let a request through.

const (
	// te10Tail is how much of the end of each candidate request line is kept to match it.
	te10Tail = 256
	// te10Window is how far back a sighting counts: a request's header is at most
	// maxHeaderBytes plus net/http's 4 KiB of slack behind what has been read, plus its 4 KiB
	// of read-ahead.
	te10Window = maxHeaderBytes + 16<<10
	// te10Open and te10Flagged bound the candidates of one block and the sightings kept;
	// past them, every HTTP/1.0 request in the window is refused.
	te10Open    = 8
	te10Flagged = 16
)

var (
	transferEncodingField = []byte("transfer-encoding:")
	http10Suffix          = []byte(" HTTP/1.0")
)

type te10Sighting struct {
	tail []byte // the end of the request line; nil: any line (the bounds were exceeded)
	off  int64  // where it was seen
}

// te10Scanner follows the lines of a connection's input.
type te10Scanner struct {
	off  int64                           // bytes seen
	n    int                             // length of the current line so far
	head [len("transfer-encoding:")]byte // its first bytes
	tail [te10Tail + 1]byte              // its last bytes (a ring), one more for a '\r'
	open [][]byte                        // candidate request lines of the current block
	over bool                            // the current block had more than te10Open
	seen []te10Sighting
}

func (s *te10Scanner) feed(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if s.n < len(s.head) {
			copy(s.head[s.n:], seg)
		}
		for j, k := max(0, len(seg)-len(s.tail)), 0; j < len(seg); j, k = j+1, k+1 {
			s.tail[(s.n+j)%len(s.tail)] = seg[j]
		}
		s.n += len(seg)
		s.off += int64(len(seg))
		if i < 0 {
			return
		}
		s.endLine()
		s.off++
		p = p[i+1:]
	}
}

// lineEnd returns the last bytes of the current line, without a final '\r'.
func (s *te10Scanner) lineEnd() []byte {
	n := s.n
	last := func(k int) byte { return s.tail[(k)%len(s.tail)] }
	if n > 0 && last(n-1) == '\r' {
		n--
	}
	m := min(n, te10Tail)
	b := make([]byte, m)
	for j := range m {
		b[j] = last(n - m + j)
	}
	return b
}

func (s *te10Scanner) endLine() {
	n := s.n
	defer func() { s.n = 0 }()
	if n == 0 || (n == 1 && s.head[0] == '\r') {
		s.open, s.over = s.open[:0], false // the end of a block
		return
	}
	if n >= len(s.head) && equalFoldASCII(s.head[:], transferEncodingField) {
		if s.over {
			s.sight(nil)
		}
		for _, line := range s.open {
			s.sight(line)
		}
	}
	if n >= len(http10Suffix) {
		if end := s.lineEnd(); bytes.HasSuffix(end, http10Suffix) {
			if len(s.open) == te10Open {
				s.over = true
			} else {
				s.open = append(s.open, end)
			}
		}
	}
}

func (s *te10Scanner) sight(line []byte) {
	s.prune()
	if len(s.seen) == te10Flagged {
		line = nil
		s.seen = s.seen[:len(s.seen)-1]
	}
	s.seen = append(s.seen, te10Sighting{tail: line, off: s.off})
}

func (s *te10Scanner) prune() {
	keep := s.seen[:0]
	for _, f := range s.seen {
		if f.off >= s.off-te10Window {
			keep = append(keep, f)
		}
	}
	s.seen = keep
}

// faulty reports whether the request line line was seen followed by a Transfer-Encoding
// field, recently enough to be the request's.
func (s *te10Scanner) faulty(line string) bool {
	s.prune()
	for _, f := range s.seen {
		switch {
		case f.tail == nil:
			return true
		case len(line) <= len(f.tail):
			if bytes.HasSuffix(f.tail, []byte(line)) {
				return true
			}
		case len(f.tail) == te10Tail && line[len(line)-te10Tail:] == string(f.tail):
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
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

// te10Conn is a connection of the plain-HTTP net/http server, watched by a te10Scanner.
type te10Conn struct {
	net.Conn
	mu   sync.Mutex // net/http's background read may feed while a handler asks
	scan te10Scanner
}

func (c *te10Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.scan.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

func (c *te10Conn) faulty(line string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scan.faulty(line)
}

// ReadFrom keeps net/http's sendfile path (it looks for an io.ReaderFrom on the connection).
func (c *te10Conn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

// CloseWrite keeps net/http's lingering close.
func (c *te10Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type te10Listener struct{ net.Listener }

func (l te10Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &te10Conn{Conn: c}, nil
}

type te10Key struct{}

// te10ConnContext is the http.Server ConnContext that lets rejectFaulty10 find the connection.
func te10ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*te10Conn); ok {
		return context.WithValue(ctx, te10Key{}, tc)
	}
	return ctx
}

// rejectFaulty10 answers 400 and closes the connection for an HTTP/1.0 request that carried
// Transfer-Encoding, on a connection watched by te10Conn (elsewhere it does nothing: server/h1
// refuses such a request itself).
func rejectFaulty10(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
			if tc, ok := r.Context().Value(te10Key{}).(*te10Conn); ok && tc.faulty(r.Method+" "+r.RequestURI+" HTTP/1.0") {
				w.Header().Set("Connection", "close")
				http.Error(w, "Bad Request: Transfer-Encoding in an HTTP/1.0 request", http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
