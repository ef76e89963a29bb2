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
	"unicode"
	"unicode/utf8"

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

// observed is what the observer keeps of one request: its writer and what handlers tell it.
type observed struct {
	statusWriter
	li logInfo
}

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
	text     io.Writer // when set, structured lines are written here by textLine, not by log
	m        *metrics
	mu       sync.Mutex // serialises writes to combined
}

func (o *observer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ob := &observed{statusWriter: statusWriter{ResponseWriter: w}} // one allocation for both
		sw, li := &ob.statusWriter, &ob.li
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
		end := time.Now()
		dur := end.Sub(start)
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
		if o.text != nil {
			bp := lineBufs.Get().(*[]byte)
			b := textLine((*bp)[:0], end, r.Method, r.URL.EscapedPath(), sw.status, sw.bytes, received, dur, r.RemoteAddr, li.user, r.UserAgent())
			o.mu.Lock()
			o.text.Write(b)
			o.mu.Unlock()
			if cap(b) <= 4<<10 {
				*bp = b
				lineBufs.Put(bp)
			}
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

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// textLine appends to b the access line that slog's TextHandler (LogHandler's text format)
// writes for the same record, byte for byte (TestTextLineIsSlogs compares them): the line
// costs a fraction of slog's formatting, which was 6% of a small GET's CPU time.
func textLine(b []byte, t time.Time, method, path string, status int, bytes, received int64, dur time.Duration, remote, user, agent string) []byte {
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, t)
	b = append(b, " level=INFO msg=request method="...)
	b = appendTextString(b, method)
	b = append(b, " path="...)
	b = appendTextString(b, path)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, " received="...)
	b = strconv.AppendInt(b, received, 10)
	b = append(b, " dur="...)
	b = append(b, dur.String()...)
	b = append(b, " remote="...)
	b = appendTextString(b, remote)
	b = append(b, " user="...)
	b = appendTextString(b, user)
	b = append(b, " user_agent="...)
	b = appendTextString(b, agent)
	return append(b, '\n')
}

// appendRFC3339Millis is slog's time format: RFC 3339 with exactly three digits of
// milliseconds, truncated, in t's location.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefix = len("2006-01-02T15:04:05.000")
	n := len(b)
	b = t.Round(0).Truncate(time.Millisecond).Add(time.Millisecond/10).AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefix], b[n+prefix+1:]...) // the fourth digit, there to keep the zeros
}

// appendTextString is how slog's TextHandler writes a string value: as it is, unless it is
// empty or holds a space, '=', '"', a control byte, a non-printing or space rune or invalid
// UTF-8; then Go-quoted.
func appendTextString(b []byte, s string) []byte {
	if textNeedsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func textNeedsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
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
