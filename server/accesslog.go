package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/davd/davd/dav/rwcap"
)

// statusWriter records the status and size of a response for the access log. It keeps
// io.ReaderFrom reachable so that file downloads still use sendfile.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// ReadFrom lets http.ServeContent's io.Copy reach the connection's sendfile path.
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(s.ResponseWriter, r)
	}
	s.bytes += n
	return n, err
}

// WriteVectors passes a vectored write on, counting its bytes.
func (s *statusWriter) WriteVectors(bufs [][]byte) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := writeVectors(s.ResponseWriter, bufs)
	s.bytes += n
	return n, err
}

// Unwrap exposes the underlying writer to http.ResponseController and rwcap.Find.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// statusWriter sees every write, vectored ones included, to count the bytes sent.
var (
	_ rwcap.VectorWriter = (*statusWriter)(nil)
	_ rwcap.Unwrapper    = (*statusWriter)(nil)
)

// logInfo carries what inner handlers learn about a request to its access-log line.
type logInfo struct{ user string }

type logInfoKey struct{}

// setLogUser records the authenticated principal for the access log (set after authentication,
// which runs inside the logging middleware).
func setLogUser(ctx context.Context, user string) {
	if li, ok := ctx.Value(logInfoKey{}).(*logInfo); ok {
		li.user = user
	}
}

// observer writes one access-log line per request (a structured line when lines, a Combined
// Log Format line to combined when set) and records the request in m (when not nil).
type observer struct {
	log      *slog.Logger
	lines    bool
	combined io.Writer
	m        *metrics
	mu       sync.Mutex // serialises writes to combined
}

func (o *observer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		li := &logInfo{}
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r = r.WithContext(r.Context()) // a shallow copy: net/http looks at its own r.Body
			r.Body = body
		}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), logInfoKey{}, li)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		dur := time.Since(start)
		var received int64
		if body != nil {
			received = body.n
		}
		if o.m != nil {
			o.m.observe(r.Method, sw.status, received, sw.bytes, dur)
		}
		if !o.lines {
			return
		}
		if o.combined != nil {
			line := combinedLine(r, li.user, sw.status, sw.bytes, start)
			o.mu.Lock()
			io.WriteString(o.combined, line)
			o.mu.Unlock()
			return
		}
		o.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Int64("received", received),
			slog.Duration("dur", dur),
			slog.String("remote", r.RemoteAddr),
			slog.String("user", li.user),
			slog.String("user_agent", r.UserAgent()),
		)
	})
}

// combinedLine is one line of the Combined Log Format:
// host - user [time] "request line" status bytes "referer" "user agent".
func combinedLine(r *http.Request, user string, status int, bytes int64, t time.Time) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	size := "-"
	if bytes > 0 {
		size = strconv.FormatInt(bytes, 10)
	}
	return fmt.Sprintf("%s - %s [%s] \"%s %s %s\" %d %s \"%s\" \"%s\"\n", host, dash(user),
		t.Format("02/Jan/2006:15:04:05 -0700"), clfEscape(r.Method), clfEscape(r.URL.RequestURI()), clfEscape(r.Proto),
		status, size, clfEscape(r.Referer()), clfEscape(r.UserAgent()))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return clfEscape(s)
}

// clfEscape escapes quotes, backslashes and control bytes, as Apache does, so that a client
// cannot forge a log line.
func clfEscape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// LogHandler is davd's log handler: format "json", or text (slog's key=value) for anything
// else (Config.Validate refuses other values), written to w.
func LogHandler(format string, w io.Writer) slog.Handler {
	if format == "json" {
		return slog.NewJSONHandler(w, nil)
	}
	return slog.NewTextHandler(w, nil)
}
