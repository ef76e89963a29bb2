package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzAgainstNetHTTP feeds the same bytes to this server and to net/http's, each over an
// in-memory connection, with a handler that echoes what it was given, and requires the same
// sequence of responses (status and body). The framing may differ (this server gives a
// Content-Length to responses up to 4 KiB, net/http up to 2 KiB); what a client reads may not.
func FuzzAgainstNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /x?y HTTP/1.1\r\nHost: a\r\n\r\nGET /z HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"PUT /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"PUT /e HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 3\r\n\r\nabc",
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX y: z\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET http://h/p HTTP/1.1\r\nHost: a\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n",
		"GET /?status=204 HTTP/1.1\r\nHost: a\r\n\r\nGET /?status=304 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /?status=101 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /?big=1 HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(7))
	}
	f.Add([]byte("PUT /t HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabcGET /s HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(0))
	f.Add([]byte("GET / HTTP/1.1\r\nHost:\r\n\r\n"), uint8(3))
	// step > 0: the client's bytes arrive step at a time (a header split over reads).
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		if len(in) > 64<<10 {
			return
		}
		ours := exchange(t, in, int(step), func(h http.Handler, ln net.Listener) (func() error, func()) {
			s := &Server{Handler: h, MaxHeaderBytes: 8 << 10, ErrorLog: quiet}
			return func() error { return s.Serve(ln) }, func() { s.Close() }
		})
		theirs := exchange(t, in, int(step), func(h http.Handler, ln net.Listener) (func() error, func()) {
			s := &http.Server{Handler: h, MaxHeaderBytes: 8 << 10, ErrorLog: quiet}
			return func() error { return s.Serve(ln) }, func() { s.Close() }
		})
		if why := closesEarlyInput(in, step); why != "" {
			if !closesEarly(ours, theirs) {
				t.Fatalf("input %q, step %d (%s)\nh1:       %s\nnet/http: %s (h1's answers should be net/http's first ones, the last one possibly a 400)",
					in, step, why, strings.Join(ours, " | "), strings.Join(theirs, " | "))
			}
			return
		}
		if !slices.Equal(ours, theirs) {
			t.Fatalf("input %q, step %d\nh1:       %s\nnet/http: %s", in, step, strings.Join(ours, " | "), strings.Join(theirs, " | "))
		}
	})
}

// The inputs on which h1 closes the connection where net/http goes on (the deviations the
// package comment lists). The patterns look at field lines only: a line that starts a header
// block's field, followed by other field lines of the same block (no empty line between).
var (
	// RFC 9112 section 6.3: a request with both Transfer-Encoding and Content-Length.
	smuggle = regexp.MustCompile(`(?im)^(?:transfer-encoding:[^\n]*\n(?:[^\r\n][^\n]*\n)*?content-length:|content-length:[^\n]*\n(?:[^\r\n][^\n]*\n)*?transfer-encoding:)`)
	// RFC 9112 section 6.1: an HTTP/1.0 request with Transfer-Encoding (answered 400).
	te10 = regexp.MustCompile(`(?im)HTTP/1\.0\r?\n(?:[^\r\n][^\n]*\n)*?transfer-encoding:`)
	// A chunked request whose header block did not arrive in one read (step > 0).
	chunked = regexp.MustCompile(`(?im)^transfer-encoding:`)
	// An empty Host field in a header that did not arrive in one read: 400 from h1 (net/http:
	// accepted).
	emptyHost = regexp.MustCompile(`(?im)^host:[ \t]*\r?$`)
)

// closesEarlyInput names the deviation in has, or "".
func closesEarlyInput(in []byte, step uint8) string {
	switch {
	case smuggle.Match(in):
		return "Transfer-Encoding with Content-Length"
	case te10.Match(in):
		return "HTTP/1.0 with Transfer-Encoding"
	case step > 0 && chunked.Match(in):
		return "chunked, header in pieces"
	case step > 0 && emptyHost.Match(in):
		return "empty Host, header in pieces"
	}
	return ""
}

// closesEarly reports whether h1's answers are net/http's first ones, the last possibly a 400
// where net/http answered something else or nothing: h1 refused a request and closed.
func closesEarly(ours, theirs []string) bool {
	for i, a := range ours {
		last := i == len(ours)-1
		switch {
		case i < len(theirs) && a == theirs[i]:
		case last && strings.HasPrefix(a, "400 "):
		default:
			return false
		}
	}
	return true
}

var quiet = log.New(io.Discard, "", 0)

// echo answers with what the handler was given; ?status=N answers N; ?big=1 writes 10 KiB.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	q := r.URL.Query()
	if q.Get("big") != "" {
		w.Write(bytes.Repeat([]byte("0123456789"), 1024))
		return
	}
	if s := q.Get("status"); s != "" {
		var code int
		fmt.Sscan(s, &code)
		if code >= 200 && code <= 999 {
			w.WriteHeader(code)
		}
	}
	fmt.Fprintf(w, "%s %q %s host=%q cl=%d te=%q body=%q err=%v trailer=%q",
		r.Method, r.RequestURI, r.Proto, r.Host, r.ContentLength, r.TransferEncoding, body, err != nil, r.Trailer)
}

// exchange serves in over one in-memory connection and returns the responses read back.
func exchange(t *testing.T, in []byte, step int, start func(http.Handler, net.Listener) (func() error, func())) []string {
	c := &memConn{in: bytes.NewReader(in), step: step, closed: make(chan struct{})}
	ln := &oneListener{c: c, done: make(chan struct{})}
	serve, stop := start(http.HandlerFunc(echo), ln)
	served := make(chan struct{})
	go func() {
		serve()
		close(served)
	}()
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("input %q: the connection was not closed within 10 s", in)
	}
	stop()
	<-served
	return responses(in, c.out.Bytes())
}

// responses renders the responses in out as "status body", reading each as the answer to the
// next request in in (HEAD responses have no body).
func responses(in, out []byte) []string {
	var methods []string
	rr := bufio.NewReader(bytes.NewReader(in))
	for range 64 {
		req, err := http.ReadRequest(rr)
		if err != nil {
			break
		}
		methods = append(methods, req.Method)
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			break
		}
	}
	br := bufio.NewReader(bytes.NewReader(out))
	var answers []string
	for i := 0; i < 64; {
		if _, err := br.Peek(1); err != nil {
			break
		}
		m := http.MethodGet
		if i < len(methods) {
			m = methods[i]
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			answers = append(answers, fmt.Sprintf("[unreadable: %v]", err))
			break
		}
		body, err := io.ReadAll(resp.Body)
		a := fmt.Sprintf("%d %q", resp.StatusCode, body)
		if err != nil {
			a += fmt.Sprintf(" [body: %v]", err)
		}
		answers = append(answers, a)
		if resp.StatusCode >= 200 {
			i++
		}
	}
	return answers
}

// memConn is a net.Conn whose peer sent in (step bytes per read, 0: as much as asked) and then
// closed its side; what the server writes is kept in out. Deadlines are accepted and ignored:
// nothing here blocks.
type memConn struct {
	in     *bytes.Reader
	step   int
	mu     sync.Mutex
	out    bytes.Buffer
	once   sync.Once
	closed chan struct{}
}

func (c *memConn) Read(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.step > 0 && len(p) > c.step {
		p = p[:c.step]
	}
	return c.in.Read(p)
}

func (c *memConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) LocalAddr() net.Addr                { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr               { return memAddr{} }
func (c *memConn) SetDeadline(time.Time) error        { return nil }
func (c *memConn) SetReadDeadline(time.Time) error    { return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "192.0.2.1:1234" }

// oneListener hands out c once, then blocks until closed.
type oneListener struct {
	c    net.Conn
	mu   sync.Mutex
	used bool
	once sync.Once
	done chan struct{}
}

func (l *oneListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.used {
		l.used = true
		l.mu.Unlock()
		return l.c, nil
	}
	l.mu.Unlock()
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneListener) Addr() net.Addr { return memAddr{} }
