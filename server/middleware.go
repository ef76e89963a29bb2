package server

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

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
		}
		next.ServeHTTP(w, r)
	})
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
func transferDeadlines(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
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
		pw := &progressWriter{ResponseWriter: w, rc: rc, d: d, last: now}
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
	rc   *http.ResponseController
	d    time.Duration
	last time.Time
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
		got, err := rf.ReadFrom(&io.LimitedReader{R: src, N: n})
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
