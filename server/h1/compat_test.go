package h1_test

// A differential test of h1.Server against net/http's http.Server: every case starts one of
// each on loopback with the same handler, sends both the same raw bytes over TCP, and compares
// what a client sees (statuses, bodies, framing, Content-Type, whether the connection is closed
// after the last response) and what the handler saw. The cases where h1 differs from net/http
// on purpose assert h1's behaviour instead, and say why.
//
// Then a few tests of h1 alone: ReadHeaderTimeout, IdleTimeout, Shutdown, Close and the
// request context.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davd/davd/server/h1"
)

const (
	// ioTimeout bounds every network operation that is expected to succeed.
	ioTimeout = 5 * time.Second
	// closeWait is how long a connection must stay quiet after the last expected response to
	// count as kept open (a closing server sends its FIN at once).
	closeWait = 750 * time.Millisecond
	// maxHeaderBytes is both servers' MaxHeaderBytes.
	maxHeaderBytes = 4096
)

// seen is what a handler observed of one request. All fields are comparable.
type seen struct {
	Method, RequestURI, Path, Host, Proto string
	ContentLength                         int64
	TransferEncoding                      string
	Close                                 bool
	Header                                string // fmt of r.Header (keys sorted)
	HasRemoteAddr, HasLocalAddr           bool
	Body                                  string // what the handler read of the body
	BodyErr                               string // the error that ended the read, if not EOF
	Trailer                               string // r.Trailer after the body was read; "" when nil
	Note                                  string // case-specific observations
}

func (s *seen) note(format string, args ...any) {
	if s.Note != "" {
		s.Note += "; "
	}
	s.Note += fmt.Sprintf(format, args...)
}

func (s seen) String() string {
	s.Body = short(s.Body)
	type plain seen
	return fmt.Sprintf("%+v", plain(s))
}

// caseHandler is a case's handler; it records what it observes in s.
type caseHandler func(w http.ResponseWriter, r *http.Request, s *seen, e *env)

// env is the http.Handler of one server of one case: it runs the case's handler and keeps
// what each request looked like.
type env struct {
	h    caseHandler
	gate chan struct{} // closed by the client once it got the first flushed bytes

	mu   sync.Mutex
	seen []seen
}

func (e *env) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seen{
		Method:           r.Method,
		RequestURI:       r.RequestURI,
		Path:             r.URL.Path,
		Host:             r.Host,
		Proto:            r.Proto,
		ContentLength:    r.ContentLength,
		TransferEncoding: strings.Join(r.TransferEncoding, ","),
		Close:            r.Close,
		Header:           fmt.Sprint(r.Header),
		HasRemoteAddr:    r.RemoteAddr != "",
	}
	_, s.HasLocalAddr = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	defer func() { // also when the handler panics
		e.mu.Lock()
		e.seen = append(e.seen, s)
		e.mu.Unlock()
	}()
	e.h(w, r, &s, e)
}

func (e *env) observed() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.seen...)
}

// readBody reads all of r's body into s.
func readBody(r *http.Request, s *seen) error {
	b, err := io.ReadAll(r.Body)
	s.Body = string(b)
	if err != nil {
		s.BodyErr = err.Error()
	}
	if r.Trailer != nil {
		s.Trailer = fmt.Sprint(r.Trailer)
	}
	return err
}

// echo reads the body and answers with what it got (400 when the body could not be read).
func echo(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
	if err := readBody(r, s); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s host=%s body=%q", r.Method, r.RequestURI, r.Host, s.Body)
}

// writes answers with body, in one Write, and records what Write returned.
func writes(body string) caseHandler {
	return func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
		n, err := io.WriteString(w, body)
		s.note("write n=%d err=%v", n, err)
	}
}

// resp is one final response as the client read it. All fields are comparable.
type resp struct {
	Status        int
	Proto         string
	ContentLength string // the header's value; "(absent)" when there is none
	Chunked       bool
	ContentType   string // the header's value; "(absent)" when there is none
	Close         bool   // Connection: close (or HTTP/1.0 without keep-alive)
	Connection    string // what is left of the Connection header (http.ReadResponse drops "close")
	Header        string // all of the header but Date, keys sorted
	Body          string
	BodyErr       string // the error that cut the body short, if any
}

func (r resp) String() string {
	r.Body = short(r.Body)
	type plain resp
	return fmt.Sprintf("%+v", plain(r))
}

func short(s string) string {
	if len(s) <= 100 {
		return s
	}
	return fmt.Sprintf("%q…(%d bytes)", s[:40], len(s))
}

func headerValue(h http.Header, k string) string {
	v, ok := h[k]
	if !ok {
		return "(absent)"
	}
	return strings.Join(v, ", ")
}

func headerString(h http.Header) string {
	h = h.Clone()
	delete(h, "Date")
	return fmt.Sprint(h)
}

// result is what one server did with one case.
type result struct {
	Interim []int // 1xx status codes, in order
	Resps   []resp
	// End is how the connection stood after the last response: "open", "closed" (EOF or
	// reset), "timeout" (a response expected within ioTimeout did not come) or "garbage: …".
	End      string
	Followup int // status of GET /ok on a new connection after the exchange (0: not done / failed)
	Seen     []seen

	logs string // the server's ErrorLog
}

func (r *result) statuses() []int {
	var s []int
	for _, rr := range r.Resps {
		s = append(s, rr.Status)
	}
	return s
}

type compatCase struct {
	name string
	req  string   // raw bytes, written at once (from a goroutine: a large body must not block)
	more []string // written after req, each after a pause: a request that arrives in pieces
	h    caseHandler

	head     bool   // the responses are to HEAD requests
	body100  string // written once a 100 Continue arrives
	gate     bool   // read 5 bytes of the first body, then close the handler's gate
	followup bool   // then GET /ok on a new connection

	// What net/http does (checks the case itself; h1 must then do the same).
	status []int
	closed bool

	check     func(t *testing.T, name string, r *result) // more assertions, run on both results
	deviation func(t *testing.T, std, h *result)         // when set, replaces h1 == net/http
}

// faulty10Deviation: h1 answers an HTTP/1.0 request with Transfer-Encoding 400 without calling
// the handler, and closes the connection (net/http ignores the field).
func faulty10Deviation(t *testing.T, std, h *result) {
	t.Helper()
	if got := h.statuses(); !reflect.DeepEqual(got, []int{400}) || h.End != "closed" {
		t.Errorf("h1: statuses %v (%s), want [400] and closed", got, h.End)
	}
	if len(h.Seen) != 0 {
		t.Errorf("h1: the handler saw %v", h.Seen)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type stopper interface {
	Shutdown(context.Context) error
	Close() error
}

type running struct {
	addr   string
	srv    stopper
	served chan error
}

func start(kind string, h http.Handler, logw io.Writer) (*running, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := log.New(logw, "", 0)
	rs := &running{addr: ln.Addr().String(), served: make(chan error, 1)}
	var serve func(net.Listener) error
	switch kind {
	case "net/http":
		s := &http.Server{Handler: h, MaxHeaderBytes: maxHeaderBytes, ErrorLog: l}
		rs.srv, serve = s, s.Serve
	case "h1":
		s := &h1.Server{Handler: h, MaxHeaderBytes: maxHeaderBytes, ErrorLog: l}
		rs.srv, serve = s, s.Serve
	default:
		panic(kind)
	}
	go func() { rs.served <- serve(ln) }()
	return rs, nil
}

// stop shuts the server down gracefully and checks that Serve returned http.ErrServerClosed.
func (rs *running) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := rs.srv.Shutdown(ctx); err != nil {
		rs.srv.Close()
		return fmt.Errorf("Shutdown: %v", err)
	}
	select {
	case err := <-rs.served:
		if err != http.ErrServerClosed {
			return fmt.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	case <-time.After(ioTimeout):
		return errors.New("Serve did not return after Shutdown")
	}
	return nil
}

// classify names how a read ended: "closed" (EOF or reset), "timeout" or the error.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "garbage: " + err.Error()
}

// runCase runs c against a fresh server of kind.
func runCase(c *compatCase, kind string) (result, error) {
	logs := &syncBuffer{}
	e := &env{h: c.h, gate: make(chan struct{})}
	rs, err := start(kind, e, logs)
	if err != nil {
		return result{}, err
	}
	res, xerr := exchange(rs.addr, c, e.gate)
	if c.followup {
		res.Followup = getOK(rs.addr)
	}
	serr := rs.stop()
	res.Seen = e.observed()
	res.logs = logs.String()
	return res, errors.Join(xerr, serr)
}

// exchange sends c.req on a new connection and reads the responses: as many as net/http is
// expected to send with the usual deadline, then any more with a short one, which also tells
// whether the connection is still open.
func exchange(addr string, c *compatCase, gate chan struct{}) (res result, err error) {
	var gateOnce sync.Once
	openGate := func() { gateOnce.Do(func() { close(gate) }) }
	defer openGate()

	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return res, err
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		conn.SetWriteDeadline(time.Now().Add(ioTimeout))
		// This fails when the server closes before reading all of it (413 case): the
		// responses tell what happened.
		conn.Write([]byte(c.req))
		for _, p := range c.more {
			time.Sleep(50 * time.Millisecond)
			conn.Write([]byte(p))
		}
	}()
	defer func() {
		conn.Close()
		<-wrote
	}()

	br := bufio.NewReader(conn)
	method := http.MethodGet
	if c.head {
		method = http.MethodHead
	}
	want := len(c.status)
	for i := 0; i < want+5; i++ {
		d := ioTimeout
		if len(res.Resps) >= want {
			d = closeWait
		}
		conn.SetReadDeadline(time.Now().Add(d))
		r, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			res.End = classify(err)
			if res.End == "timeout" && len(res.Resps) >= want {
				res.End = "open"
			}
			return res, nil
		}
		if r.StatusCode < 200 {
			res.Interim = append(res.Interim, r.StatusCode)
			if r.StatusCode == http.StatusContinue && c.body100 != "" {
				<-wrote
				conn.SetWriteDeadline(time.Now().Add(ioTimeout))
				if _, err := io.WriteString(conn, c.body100); err != nil {
					return res, fmt.Errorf("writing the body after 100 Continue: %v", err)
				}
			}
			continue
		}
		rr := resp{
			Status:        r.StatusCode,
			Proto:         r.Proto,
			ContentLength: headerValue(r.Header, "Content-Length"),
			Chunked:       len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked",
			ContentType:   headerValue(r.Header, "Content-Type"),
			Close:         r.Close,
			Connection:    r.Header.Get("Connection"),
			Header:        headerString(r.Header),
		}
		var body []byte
		if c.gate && len(res.Resps) == 0 {
			first := make([]byte, 5)
			n, _ := io.ReadFull(r.Body, first)
			body = first[:n]
			openGate()
		}
		rest, err := io.ReadAll(r.Body)
		rr.Body = string(append(body, rest...))
		if err != nil {
			rr.BodyErr = classify(err)
		}
		res.Resps = append(res.Resps, rr)
		if err != nil {
			res.End = classify(err)
			return res, nil
		}
	}
	res.End = "garbage: too many responses"
	return res, nil
}

// getOK answers the status of GET /ok on a new connection (0 when there is none).
func getOK(addr string) int {
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return 0
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(conn, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return 0
	}
	r, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, r.Body)
	return r.StatusCode
}

const get = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"

var modTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// text is n bytes of printable text.
func text(n int) string {
	const line = "The quick brown fox jumps over the lazy dog, 0123456789.\n"
	return strings.Repeat(line, n/len(line)+1)[:n]
}

func compatCases(t *testing.T) []compatCase {
	content := text(1000)
	big := text(100 << 10)
	file := filepath.Join(t.TempDir(), "f.txt")
	fileContent := text(200 << 10)
	if err := os.WriteFile(file, []byte(fileContent), 0o644); err != nil {
		t.Fatal(err)
	}
	serveFile := func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
		f, err := os.Open(file)
		if err != nil {
			s.note("open: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "f.txt", modTime, f)
	}
	wantBody := func(i int, body string) func(*testing.T, string, *result) {
		return func(t *testing.T, name string, r *result) {
			if i >= len(r.Resps) {
				return // the status check reports it
			}
			if got := r.Resps[i].Body; got != body {
				t.Errorf("%s: response %d body = %s, want %s", name, i, short(got), short(body))
			}
		}
	}
	wantNote := func(note string) func(*testing.T, string, *result) {
		return func(t *testing.T, name string, r *result) {
			if len(r.Seen) == 0 || r.Seen[0].Note != note {
				t.Errorf("%s: handler saw %v, want the note %q", name, r.Seen, note)
			}
		}
	}
	oneMiB := strings.Repeat("x", 1<<20)

	return []compatCase{
		{
			name:   "simple GET",
			req:    "GET /a%20b?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
			h:      echo,
			status: []int{200},
		},
		{
			name:   "HEAD",
			req:    "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n",
			h:      writes("hello, head"),
			head:   true,
			status: []int{200},
		},
		{
			name:   "HEAD, handler writes 100 KiB",
			req:    "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n" + "HEAD /h2 HTTP/1.1\r\nHost: x\r\n\r\n",
			h:      writes(big),
			head:   true,
			status: []int{200, 200},
		},
		{
			name:   "keep-alive, 3 pipelined requests",
			req:    "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: y\r\n\r\n",
			h:      echo,
			status: []int{200, 200, 200},
		},
		{
			name:   "HTTP/1.0",
			req:    "GET /old HTTP/1.0\r\n\r\n" + get,
			h:      echo,
			status: []int{200},
			closed: true,
		},
		{
			name:   "HTTP/1.0 keep-alive",
			req:    "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /old2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			h:      echo,
			status: []int{200, 200},
		},
		{
			// No Content-Length known and no chunking in HTTP/1.0: the end of the body is
			// the end of the connection.
			name:   "HTTP/1.0 keep-alive, handler writes 100 KiB",
			req:    "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get,
			h:      writes(big),
			status: []int{200},
			closed: true,
			check:  wantBody(0, big),
		},
		{
			name:   "Connection: close",
			req:    "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + get,
			h:      echo,
			status: []int{200},
			closed: true,
		},
		{
			name: "handler sets Connection: close",
			req:  "GET /c HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("Connection", "close")
				io.WriteString(w, "bye")
			},
			status: []int{200},
			closed: true,
		},
		{
			name:   "PUT with Content-Length",
			req:    "PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get,
			h:      echo,
			status: []int{200, 200},
		},
		{
			name: "PUT chunked, extensions and trailers",
			req: "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5;ext=1\r\nhello\r\n6;name=\"v\";x\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n" + get,
			h:      echo,
			status: []int{200, 200},
			check:  wantBody(0, `PUT /c host=x body="hello world"`),
		},
		{
			name:   "chunked, bad chunk size",
			req:    "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" + get,
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name: "Content-Length and Transfer-Encoding (smuggling)",
			req: "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"3\r\nabc\r\n0\r\n\r\n" + get,
			h:      echo,
			status: []int{200, 200},
			// Intended deviation: both frame the body by the Transfer-Encoding, but RFC 9112
			// section 6.3 says the server MUST close the connection after responding to such a
			// request; net/http serves the pipelined GET, h1 answers the POST with
			// Connection: close and closes.
			deviation: func(t *testing.T, std, h *result) {
				if got := h.statuses(); !reflect.DeepEqual(got, []int{200}) || h.End != "closed" {
					t.Errorf("h1: statuses %v (%s), want [200] and closed", got, h.End)
					return
				}
				if r := h.Resps[0]; r.Body != std.Resps[0].Body || !r.Close {
					t.Errorf("h1: %v; net/http's first: %v", r, std.Resps[0])
				}
				if len(h.Seen) != 1 || h.Seen[0].Body != "abc" {
					t.Errorf("h1: handler saw %v", h.Seen)
				}
			},
		},
		{
			name:   "two different Content-Length",
			req:    "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" + get,
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "two equal Content-Length",
			req:    "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + get,
			h:      echo,
			status: []int{200, 200},
		},
		{
			name:   "Content-Length: +3",
			req:    "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc" + get,
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "Transfer-Encoding: gzip, chunked",
			req:    "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			h:      echo,
			status: []int{501},
			closed: true,
		},
		{
			name:   "Transfer-Encoding: identity",
			req:    "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nabc",
			h:      echo,
			status: []int{501},
			closed: true,
		},
		{
			name:   "two Transfer-Encoding fields",
			req:    "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			h:      echo,
			status: []int{501},
			closed: true,
		},
		{
			// net/http ignores Transfer-Encoding in HTTP/1.0 (issue 12785): no body.
			// Intended deviation (RFC 9112 section 6.1): h1 answers 400 and closes.
			name:      "HTTP/1.0 with Transfer-Encoding: chunked",
			req:       "POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			h:         echo,
			status:    []int{200},
			closed:    true,
			deviation: faulty10Deviation,
		},
		{
			// net/http frames it by the Content-Length and serves the trailing GET (issue 12,
			// finding 3: a smuggled request behind a front end that frames by the TE).
			name:      "HTTP/1.0 keep-alive with Transfer-Encoding and Content-Length",
			req:       "PUT /t HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc" + get,
			h:         echo,
			status:    []int{200, 200},
			closed:    false,
			deviation: faulty10Deviation,
		},
		{
			name:      "HTTP/1.0 keep-alive with Transfer-Encoding, header in pieces",
			req:       "PUT /t HTTP/1.0\r\nHost: x\r\n",
			more:      []string{"Connection: keep-alive\r\nTransfer-", "Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc" + get},
			h:         echo,
			status:    []int{200, 200},
			closed:    false,
			deviation: faulty10Deviation,
		},
		{
			name:   "HTTP/2.0 request line",
			req:    "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
			h:      echo,
			status: []int{505},
			closed: true,
		},
		{
			name:   "HTTP/1.7 request line",
			req:    "GET /seven HTTP/1.7\r\nHost: x\r\n\r\n" + get,
			h:      echo,
			status: []int{200, 200},
		},
		{
			name:   "HTTP/0.9 request line",
			req:    "GET / HTTP/0.9\r\nHost: x\r\n\r\n",
			h:      echo,
			status: []int{505},
			closed: true,
		},
		{
			name:   "HTTP/0.9 simple request (no version)",
			req:    "GET /\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "bare LF line endings",
			req:    "GET /lf HTTP/1.1\nHost: x\nX-A: b\n\nPUT /lf2 HTTP/1.1\nHost: x\nContent-Length: 2\n\nok",
			h:      echo,
			status: []int{200, 200},
		},
		{
			name:   "leading CRLF before the first request",
			req:    "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "CRLF after a POST body",
			req:    "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\r\n" + get,
			h:      echo,
			status: []int{200, 200},
		},
		{
			name:   "invalid method characters",
			req:    "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "space inside a header name",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX y: z\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "space before the colon",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX :z\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "control character in a value",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "DEL in a value",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "NUL in a value",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "tab and obs-text in a value",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb\xe9\r\n\r\n",
			h:      echo,
			status: []int{200},
		},
		{
			name:   "obs-fold continuation line",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n  b\r\n\r\n",
			h:      echo,
			status: []int{200},
		},
		{
			name:   "two Host headers",
			req:    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "Host: a b",
			req:    "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "missing Host",
			req:    "GET / HTTP/1.1\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:      "empty Host",
			req:       "GET / HTTP/1.1\r\nHost:\r\n\r\n",
			h:         echo,
			status:    []int{200},
			deviation: emptyHostDeviation,
		},
		{
			name:      "empty Host, header in two pieces",
			req:       "GET / HTTP/1.1\r\nHo",
			more:      []string{"st:\r\n\r\n"},
			h:         echo,
			status:    []int{200},
			deviation: emptyHostDeviation,
		},
		{
			name:   "absolute-form without a Host header, in two pieces",
			req:    "GET http://example.com/abs HTTP/1.1\r\nX-A: b\r\n",
			more:   []string{"\r\n"},
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "absolute-form with a malformed Host header, in two pieces",
			req:    "GET http://example.com/abs HTTP/1.1\r\nHost: a",
			more:   []string{" b\r\n\r\n"},
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "absolute-form with an empty Host header",
			req:    "GET http://example.com/abs HTTP/1.1\r\nHost:\r\n\r\n",
			h:      echo,
			status: []int{200},
		},
		{
			name:   "absolute-form, Host header continued on a second line",
			req:    "GET http://example.com/abs HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "request line in two pieces",
			req:    "GE",
			more:   []string{"T /split HTTP/1.1\r\nHost: x\r\n\r\n"},
			h:      echo,
			status: []int{200},
		},
		{
			name:   "CONNECT, authority-form",
			req:    "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
			h:      writes("tunnel? no"),
			status: []int{200},
		},
		{
			name:   "CONNECT with a Host header",
			req:    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			h:      writes("tunnel? no"),
			status: []int{200},
		},
		{
			name:   "HTTP/2 preface",
			req:    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
			h:      writes("pri"),
			status: []int{200},
			closed: true,
		},
		{
			name:   "absolute-form request-target",
			req:    "GET http://example.com/abs?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
			h:      echo,
			status: []int{200},
		},
		{
			name:   "absolute-form without a Host header",
			req:    "GET http://example.com/abs HTTP/1.1\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "absolute-form with a malformed Host header",
			req:    "GET http://example.com/abs HTTP/1.1\r\nHost: a b\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "OPTIONS *",
			req:    "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h:      echo,
			status: []int{200, 200},
		},
		{
			name:   "header larger than MaxHeaderBytes",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n",
			h:      echo,
			status: []int{431},
			closed: true,
		},
		{
			name:    "Expect: 100-continue, handler reads the body",
			req:     "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
			body100: "hello",
			h:       echo,
			status:  []int{200},
			check: func(t *testing.T, name string, r *result) {
				if !reflect.DeepEqual(r.Interim, []int{100}) {
					t.Errorf("%s: 1xx responses %v, want [100]", name, r.Interim)
				}
			},
		},
		{
			name:    "Expect: 100-continue, handler answers 401 without reading",
			req:     "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
			body100: "hello",
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				http.Error(w, "who are you", http.StatusUnauthorized)
			},
			status: []int{401},
			// net/http answers with Connection: close but then waits for the body (which
			// the client never sends, as it got no 100) before closing: "open" here.
			closed: false,
			check: func(t *testing.T, name string, r *result) {
				if len(r.Interim) != 0 {
					t.Errorf("%s: 1xx responses %v, want none", name, r.Interim)
				}
				if len(r.Resps) > 0 && !r.Resps[0].Close {
					t.Errorf("%s: %v, want Connection: close", name, r.Resps[0])
				}
			},
			// Not a deviation of h1 but of net/http from what the connection needs: the
			// connection is done with (Connection: close) and h1 may close it at once, or
			// wait as net/http does. Everything else must be as net/http.
			deviation: func(t *testing.T, std, h *result) {
				if h.End != "closed" && h.End != std.End {
					t.Errorf("h1: connection %s after the 401, want closed (or as net/http: %s)", h.End, std.End)
				}
				hh := *h
				hh.End = std.End
				compareResults(t, std, &hh)
			},
		},
		{
			name:   "Expect: 100-continue on a GET without body",
			req:    "GET /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n" + get,
			h:      echo,
			status: []int{200, 200},
		},
		{
			name:   "Expect: something-else",
			req:    "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\nhello",
			h:      echo,
			status: []int{417},
			closed: true,
		},
		{
			name:   "handler writes nothing",
			req:    "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h:      func(http.ResponseWriter, *http.Request, *seen, *env) {},
			status: []int{200, 200},
			check: func(t *testing.T, name string, r *result) {
				if len(r.Resps) > 0 && (r.Resps[0].ContentLength != "0" || r.Resps[0].ContentType != "(absent)") {
					t.Errorf("%s: %v, want Content-Length: 0 and no Content-Type", name, r.Resps[0])
				}
			},
		},
		{
			name:   "10 bytes without Content-Type",
			req:    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			h:      writes("hello, you"),
			status: []int{200},
			check: func(t *testing.T, name string, r *result) {
				if len(r.Resps) > 0 && (r.Resps[0].ContentLength != "10" || r.Resps[0].ContentType != "text/plain; charset=utf-8") {
					t.Errorf("%s: %v, want Content-Length: 10, sniffed text/plain", name, r.Resps[0])
				}
			},
		},
		{
			name:   "handler writes 100 KiB",
			req:    "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h:      writes(big),
			status: []int{200, 200},
			check: func(t *testing.T, name string, r *result) {
				wantBody(0, big)(t, name, r)
				if len(r.Resps) > 0 && !r.Resps[0].Chunked {
					t.Errorf("%s: %v, want chunked", name, r.Resps[0])
				}
			},
		},
		{
			name:   "handler writes 3000 bytes",
			req:    "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h:      writes(text(3000)),
			status: []int{200, 200},
			// Intended deviation: net/http decides the framing after 2 KiB (so chunks 3000
			// bytes), h1 may hold up to 4 KiB and send a Content-Length instead.
			deviation: func(t *testing.T, std, h *result) {
				if !reflect.DeepEqual(h.statuses(), std.statuses()) || h.End != std.End {
					t.Errorf("h1: statuses %v (%s), net/http %v (%s)", h.statuses(), h.End, std.statuses(), std.End)
					return
				}
				r := h.Resps[0]
				if r.Body != text(3000) || r.BodyErr != "" {
					t.Errorf("h1: body %s (%s)", short(r.Body), r.BodyErr)
				}
				if !r.Chunked && r.ContentLength != "3000" {
					t.Errorf("h1: %v: neither chunked nor Content-Length: 3000", r)
				}
				if r.ContentType != std.Resps[0].ContentType {
					t.Errorf("h1: Content-Type %q, net/http %q", r.ContentType, std.Resps[0].ContentType)
				}
			},
		},
		{
			name: "Content-Length set, fewer bytes written",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("Content-Length", "10")
				n, err := io.WriteString(w, "abc")
				s.note("write n=%d err=%v", n, err)
			},
			status: []int{200},
			closed: true,
		},
		{
			name: "more bytes written than Content-Length",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("Content-Length", "5")
				n, err := io.WriteString(w, "abc")
				s.note("write1 n=%d err=%v", n, err)
				n, err = io.WriteString(w, "defgh")
				s.note("write2 n=%d ErrContentLength=%v", n, errors.Is(err, http.ErrContentLength))
			},
			status: []int{200},
			closed: true,
			check:  wantNote("write1 n=3 err=<nil>; write2 n=0 ErrContentLength=true"),
		},
		{
			name: "io.Copy from a file past Content-Length",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				f, err := os.Open(file)
				if err != nil {
					s.note("open: %v", err)
					return
				}
				defer f.Close()
				w.Header().Set("Content-Length", "5")
				n, err := io.Copy(w, f)
				s.note("copy n=%d ErrContentLength=%v", n, errors.Is(err, http.ErrContentLength))
			},
			status: []int{200},
			closed: true,
		},
		{
			name: "io.Copy from a file, no Content-Length",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				f, err := os.Open(file)
				if err != nil {
					s.note("open: %v", err)
					return
				}
				defer f.Close()
				n, err := io.Copy(w, f)
				s.note("copy n=%d err=%v", n, err)
			},
			status: []int{200, 200},
			check:  wantBody(0, fileContent),
		},
		{
			name: "io.Copy from a file, with Content-Length",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				f, err := os.Open(file)
				if err != nil {
					s.note("open: %v", err)
					return
				}
				defer f.Close()
				w.Header().Set("Content-Type", "text/x-file")
				w.Header().Set("Content-Length", fmt.Sprint(len(fileContent)))
				n, err := io.Copy(w, f)
				s.note("copy n=%d err=%v", n, err)
			},
			status: []int{200, 200},
			check:  wantBody(0, fileContent),
		},
		{
			name: "WriteHeader(204) with Content-Length",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				if r.URL.Path == "/next" {
					return
				}
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Content-Type", "text/x-foo")
				w.WriteHeader(http.StatusNoContent)
				n, err := io.WriteString(w, "x")
				s.note("write n=%d ErrBodyNotAllowed=%v", n, errors.Is(err, http.ErrBodyNotAllowed))
			},
			status: []int{204, 200},
			check: func(t *testing.T, name string, r *result) {
				if len(r.Resps) > 0 && r.Resps[0].ContentLength != "(absent)" {
					t.Errorf("%s: %v, want no Content-Length", name, r.Resps[0])
				}
			},
		},
		{
			name: "304 with Content-Type",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				if r.URL.Path == "/next" {
					return
				}
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("ETag", `"x"`)
				w.WriteHeader(http.StatusNotModified)
			},
			status: []int{304, 200},
			check: func(t *testing.T, name string, r *result) {
				if len(r.Resps) > 0 && (r.Resps[0].ContentType != "(absent)" || r.Resps[0].ContentLength != "(absent)") {
					t.Errorf("%s: %v, want no Content-Type and no Content-Length", name, r.Resps[0])
				}
			},
		},
		{
			name: "Flush mid-body",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			gate: true,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, e *env) {
				if r.URL.Path == "/next" {
					io.WriteString(w, "next")
					return
				}
				io.WriteString(w, "part1")
				_, isFlusher := w.(http.Flusher)
				err := http.NewResponseController(w).Flush()
				s.note("Flusher=%v Flush err=%v", isFlusher, err)
				select {
				case <-e.gate:
					s.note("client got part1 before part2")
				case <-time.After(3 * time.Second):
					s.note("part1 did not reach the client")
				}
				io.WriteString(w, "part2")
			},
			status: []int{200, 200},
			check: func(t *testing.T, name string, r *result) {
				wantNote("Flusher=true Flush err=<nil>; client got part1 before part2")(t, name, r)
				wantBody(0, "part1part2")(t, name, r)
			},
		},
		{
			name: "ServeContent with Range on a bytes.Reader",
			req:  "GET /f.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				http.ServeContent(w, r, "f.txt", modTime, strings.NewReader(content))
			},
			status: []int{206, 200},
			check:  wantBody(0, content[2:6]),
		},
		{
			name:   "ServeContent on a file",
			req:    "GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h:      serveFile,
			status: []int{200, 200},
			check:  wantBody(0, fileContent),
		},
		{
			name:   "ServeContent on a file with Range",
			req:    "GET /f.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-150000\r\n\r\n" + get,
			h:      serveFile,
			status: []int{206, 200},
			check:  wantBody(0, fileContent[1000:150001]),
		},
		{
			name:   "ServeContent on a file, HEAD",
			req:    "HEAD /f.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /f.txt HTTP/1.1\r\nHost: x\r\n\r\n",
			h:      serveFile,
			head:   true,
			status: []int{200, 200},
		},
		{
			name: "1 MiB PUT answered 413 without reading",
			req:  fmt.Sprintf("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(oneMiB), oneMiB),
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				http.Error(w, "too big", http.StatusRequestEntityTooLarge)
			},
			status: []int{413},
			closed: true,
		},
		{
			name: "handler reads half of a 100 KiB body",
			req:  fmt.Sprintf("PUT /half HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(big), big) + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				if r.URL.Path == "/next" {
					echo(w, r, s, nil)
					return
				}
				n, err := io.ReadFull(r.Body, make([]byte, len(big)/2))
				s.note("read n=%d err=%v", n, err)
				fmt.Fprintf(w, "read %d", n)
			},
			status: []int{200, 200},
		},
		{
			name:   "chunked body unread",
			req:    "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get,
			h:      writes("ignored"),
			status: []int{200, 200},
		},
		{
			name: "HEAD, io.Copy from a file",
			req:  "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
			head: true,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				f, err := os.Open(file)
				if err != nil {
					s.note("open: %v", err)
					return
				}
				defer f.Close()
				n, err := io.Copy(w, f)
				s.note("copy n=%d err=%v", n, err)
			},
			status: []int{200, 200},
		},
		{
			name: "handler closes a small body unread",
			req:  "PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				s.note("close: %v", r.Body.Close())
				io.WriteString(w, "closed")
			},
			status: []int{200, 200},
		},
		{
			name: "handler closes a 1 MiB body unread",
			req:  fmt.Sprintf("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(oneMiB), oneMiB),
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				s.note("close: %v", r.Body.Close())
				io.WriteString(w, "closed")
			},
			status: []int{200},
			closed: true,
		},
		{
			name: "103 Early Hints",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				if r.URL.Path == "/next" {
					return
				}
				w.Header().Set("Link", "</s.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Set("Content-Type", "text/x-final")
				io.WriteString(w, "final")
			},
			status: []int{200, 200},
			check: func(t *testing.T, name string, r *result) {
				if !reflect.DeepEqual(r.Interim, []int{103}) {
					t.Errorf("%s: 1xx responses %v, want [103]", name, r.Interim)
				}
			},
		},
		{
			name: "WriteHeader twice",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.WriteHeader(http.StatusAccepted)
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "x")
			},
			status: []int{202, 202},
		},
		{
			name: "unknown status 599",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.WriteHeader(599)
				io.WriteString(w, "odd")
			},
			status: []int{599, 599},
		},
		{
			name: "handler sets Transfer-Encoding: chunked",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("Transfer-Encoding", "chunked")
				io.WriteString(w, "abc")
			},
			status: []int{200, 200},
		},
		{
			name: "handler sets Transfer-Encoding: identity",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("Transfer-Encoding", "identity")
				io.WriteString(w, "abc")
			},
			status: []int{200},
			closed: true,
		},
		{
			name: "handler sets an invalid Content-Length",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("Content-Length", "abc")
				io.WriteString(w, "hello")
			},
			status: []int{200, 200},
			// Intended deviation: both drop the invalid value; net/http then chunks (its
			// snapshot of the header still holds the bad field when it frames), h1 frames
			// the 5 bytes with a Content-Length of its own. The client reads the same.
			deviation: func(t *testing.T, std, h *result) {
				if !reflect.DeepEqual(h.statuses(), std.statuses()) || h.End != std.End {
					t.Errorf("h1: statuses %v (%s), net/http %v (%s)", h.statuses(), h.End, std.statuses(), std.End)
					return
				}
				if r := h.Resps[0]; r.Body != "hello" || r.BodyErr != "" || (!r.Chunked && r.ContentLength != "5") {
					t.Errorf("h1: %v", r)
				}
			},
		},
		{
			name: "handler sets Content-Length and Transfer-Encoding: chunked",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Transfer-Encoding", "chunked")
				io.WriteString(w, "hello")
			},
			status: []int{200, 200},
		},
		{
			name: "HEAD, handler sets Content-Length, writes nothing",
			req:  "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
			head: true,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("Content-Length", "100")
			},
			status: []int{200, 200},
		},
		{
			name:   "HEAD, handler writes nothing",
			req:    "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
			head:   true,
			h:      func(http.ResponseWriter, *http.Request, *seen, *env) {},
			status: []int{200, 200},
		},
		{
			name:   "HTTP/1.0 HEAD",
			req:    "HEAD / HTTP/1.0\r\n\r\n",
			head:   true,
			h:      writes("hello"),
			status: []int{200},
			closed: true,
		},
		{
			name: "Flush before writing",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.(http.Flusher).Flush()
				io.WriteString(w, "hello")
			},
			status: []int{200, 200},
		},
		{
			name:   "HTTP/1.0 with Expect: 100-continue",
			req:    "PUT /e HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
			h:      echo,
			status: []int{200},
			closed: true,
		},
		{
			name: "response header with a line break in a value and an invalid name",
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				w.Header().Set("X-Evil", "a\r\nInjected: yes")
				w.Header()["Bad Name"] = []string{"v"}
				w.Header().Set("X-Trim", "  v  ")
				w.Header().Add("X-Multi", "1")
				w.Header().Add("X-Multi", "2")
				io.WriteString(w, "ok")
			},
			status: []int{200, 200},
		},
		{
			name:   "header between MaxHeaderBytes and its 4 KiB slack",
			req:    "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 6000) + "\r\n\r\n",
			h:      echo,
			status: []int{200},
		},
		{
			name:   "Host with @",
			req:    "GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:   "Host with a non-ASCII byte",
			req:    "GET / HTTP/1.1\r\nHost: ex\xe9mple.com\r\n\r\n",
			h:      echo,
			status: []int{400},
			closed: true,
		},
		{
			name:     "handler panics with http.ErrAbortHandler",
			req:      "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			followup: true,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				if r.URL.Path == "/panic" {
					panic(http.ErrAbortHandler)
				}
				io.WriteString(w, "ok")
			},
			closed: true,
			check: func(t *testing.T, name string, r *result) {
				if r.Followup != 200 {
					t.Errorf("%s: GET /ok on a new connection after the panic: %d, want 200", name, r.Followup)
				}
				if strings.Contains(r.logs, "panic") {
					t.Errorf("%s: http.ErrAbortHandler was logged: %q", name, r.logs)
				}
			},
		},
		{
			name: "ResponseController EnableFullDuplex",
			req:  "PUT /rc HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, e *env) {
				s.note("EnableFullDuplex=%v", http.NewResponseController(w).EnableFullDuplex())
				echo(w, r, s, e)
			},
			status: []int{200, 200},
		},
		{
			name: "ResponseController Hijack",
			req:  "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n",
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				conn, brw, err := http.NewResponseController(w).Hijack()
				s.note("Hijack ErrNotSupported=%v", errors.Is(err, http.ErrNotSupported))
				if err != nil {
					http.Error(w, "no hijack", http.StatusNotImplemented)
					return
				}
				defer conn.Close()
				brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
				brw.Flush()
			},
			status: []int{200},
			closed: true,
			// Intended deviation: h1 has no Hijack; the handler is told so
			// (http.ErrNotSupported) and can answer normally.
			deviation: func(t *testing.T, std, h *result) {
				if len(h.Seen) != 1 || h.Seen[0].Note != "Hijack ErrNotSupported=true" {
					t.Errorf("h1: handler saw %v, want Hijack to fail with http.ErrNotSupported", h.Seen)
				}
				if got := h.statuses(); !reflect.DeepEqual(got, []int{501}) {
					t.Errorf("h1: statuses %v, want the handler's own 501", got)
				}
			},
		},
		{
			name:     "handler panics",
			req:      "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			followup: true,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				if r.URL.Path == "/panic" {
					panic("boom")
				}
				io.WriteString(w, "ok")
			},
			closed: true,
			check: func(t *testing.T, name string, r *result) {
				if r.Followup != 200 {
					t.Errorf("%s: GET /ok on a new connection after the panic: %d, want 200", name, r.Followup)
				}
				if !strings.Contains(r.logs, "panic") || !strings.Contains(r.logs, "boom") {
					t.Errorf("%s: the panic was not logged: %q", name, r.logs)
				}
			},
		},
		{
			name:     "handler panics after Flush",
			req:      "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n" + get,
			followup: true,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, _ *env) {
				io.WriteString(w, "partial")
				if r.URL.Path == "/panic" {
					w.(http.Flusher).Flush()
					panic("boom")
				}
			},
			status: []int{200},
			closed: true,
			check: func(t *testing.T, name string, r *result) {
				if r.Followup != 200 {
					t.Errorf("%s: GET /ok on a new connection after the panic: %d, want 200", name, r.Followup)
				}
			},
		},
		{
			name: "ResponseController deadlines",
			req:  "PUT /rc HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get,
			h: func(w http.ResponseWriter, r *http.Request, s *seen, e *env) {
				rc := http.NewResponseController(w)
				errR := rc.SetReadDeadline(time.Now().Add(ioTimeout))
				errW := rc.SetWriteDeadline(time.Now().Add(ioTimeout))
				s.note("SetReadDeadline=%v SetWriteDeadline=%v", errR, errW)
				echo(w, r, s, e)
			},
			status: []int{200, 200},
			check:  wantNote("SetReadDeadline=<nil> SetWriteDeadline=<nil>"),
		},
	}
}

// emptyHostDeviation checks the "Host:" (empty field) cases. Intended deviation:
// http.ReadRequest cannot tell "Host:" from no Host at all, so h1 may refuse both with 400
// (net/http accepts the empty field). An h1 that tells them apart must do exactly as net/http.
func emptyHostDeviation(t *testing.T, std, h *result) {
	t.Helper()
	if !reflect.DeepEqual(h.statuses(), []int{400}) {
		compareResults(t, std, h)
		return
	}
	t.Logf("h1 refuses the empty Host with 400 (intended deviation)")
	if h.End != "closed" {
		t.Errorf("h1: connection %s after the 400, want closed", h.End)
	}
	if len(h.Seen) != 0 {
		t.Errorf("h1: handler called: %v", h.Seen)
	}
}

func TestCompat(t *testing.T) {
	cases := compatCases(t)
	type outcome struct {
		std, h1       result
		stdErr, h1Err error
	}
	out := make([]outcome, len(cases))
	// Run the cases concurrently: most of the time is spent waiting to see that a connection
	// stays open.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 48)
	for i := range cases {
		o := &out[i]
		wg.Add(2)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o.std, o.stdErr = runCase(&cases[i], "net/http")
		}()
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o.h1, o.h1Err = runCase(&cases[i], "h1")
		}()
	}
	wg.Wait()

	for i := range cases {
		c, o := &cases[i], &out[i]
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("request: %s", short(fmt.Sprintf("%q", c.req)))
					t.Logf("net/http: %+v", o.std)
					t.Logf("h1:       %+v", o.h1)
				}
			}()
			if o.stdErr != nil {
				t.Errorf("net/http: %v", o.stdErr)
			}
			if o.h1Err != nil {
				t.Errorf("h1: %v", o.h1Err)
			}
			// The case's own expectations, on net/http.
			if got := o.std.statuses(); !reflect.DeepEqual(got, c.status) {
				t.Errorf("net/http: statuses %v, the case expects %v", got, c.status)
			}
			wantEnd := "open"
			if c.closed {
				wantEnd = "closed"
			}
			if o.std.End != wantEnd {
				t.Errorf("net/http: connection %s after the responses, the case expects %s", o.std.End, wantEnd)
			}
			if c.check != nil {
				c.check(t, "net/http", &o.std)
				c.check(t, "h1", &o.h1)
			}
			if c.deviation != nil {
				c.deviation(t, &o.std, &o.h1)
				return
			}
			compareResults(t, &o.std, &o.h1)
		})
	}
}

// compareResults reports every way h differs from std.
func compareResults(t *testing.T, std, h *result) {
	t.Helper()
	if !reflect.DeepEqual(std.Interim, h.Interim) {
		t.Errorf("1xx responses: net/http %v, h1 %v", std.Interim, h.Interim)
	}
	if len(std.Resps) != len(h.Resps) {
		t.Errorf("number of responses: net/http %d %v, h1 %d %v", len(std.Resps), std.statuses(), len(h.Resps), h.statuses())
	}
	for i := 0; i < len(std.Resps) && i < len(h.Resps); i++ {
		if std.Resps[i] != h.Resps[i] {
			t.Errorf("response %d:\n net/http %v\n h1       %v", i, std.Resps[i], h.Resps[i])
		}
	}
	if std.End != h.End {
		t.Errorf("connection after the responses: net/http %s, h1 %s", std.End, h.End)
	}
	if std.Followup != h.Followup {
		t.Errorf("GET /ok on a new connection: net/http %d, h1 %d", std.Followup, h.Followup)
	}
	if len(std.Seen) != len(h.Seen) {
		t.Errorf("handler calls: net/http %d, h1 %d", len(std.Seen), len(h.Seen))
	}
	for i := 0; i < len(std.Seen) || i < len(h.Seen); i++ {
		switch {
		case i >= len(h.Seen):
			t.Errorf("request %d, seen by net/http's handler only: %v", i, std.Seen[i])
		case i >= len(std.Seen):
			t.Errorf("request %d, seen by h1's handler only: %v", i, h.Seen[i])
		case std.Seen[i] != h.Seen[i]:
			t.Errorf("request %d as the handler saw it:\n net/http %v\n h1       %v", i, std.Seen[i], h.Seen[i])
		}
	}
}

// Tests of h1 alone.

// serveH1 serves s on a loopback listener until the test ends.
func serveH1(t *testing.T, s *h1.Server) (addr string, served <-chan error) {
	t.Helper()
	if s.ErrorLog == nil {
		s.ErrorLog = log.New(io.Discard, "", 0)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch, done := make(chan error, 1), make(chan struct{})
	go func() {
		ch <- s.Serve(ln)
		close(done)
	}()
	t.Cleanup(func() {
		s.Close()
		select {
		case <-done:
		case <-time.After(ioTimeout):
			t.Error("Serve did not return after Close")
		}
	})
	return ln.Addr().String(), ch
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func send(t *testing.T, conn net.Conn, s string) {
	t.Helper()
	conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(conn, s); err != nil {
		t.Fatal(err)
	}
}

// readResponse reads one response and its body.
func readResponse(t *testing.T, conn net.Conn, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(ioTimeout))
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("reading a response body: %v", err)
	}
	return r, string(b)
}

// waitClosed reads what conn still sends until the server closes it, for at most d; it returns
// how long that took and whether the connection was closed (and not timed out).
func waitClosed(conn net.Conn, br *bufio.Reader, d time.Duration) (time.Duration, []byte, bool) {
	t0 := time.Now()
	conn.SetReadDeadline(t0.Add(d))
	b, err := io.ReadAll(br)
	if err == nil || classify(err) == "closed" {
		return time.Since(t0), b, true
	}
	return time.Since(t0), b, false
}

func okHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

func TestH1ReadHeaderTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr, _ := serveH1(t, &h1.Server{Handler: http.HandlerFunc(okHandler), ReadHeaderTimeout: timeout})

	for _, sent := range []string{"GET / HT", ""} {
		conn := dial(t, addr)
		if sent != "" {
			send(t, conn, sent)
		}
		took, b, closed := waitClosed(conn, bufio.NewReader(conn), ioTimeout)
		if !closed {
			t.Errorf("after %q: not closed in %v", sent, ioTimeout)
			continue
		}
		if took < timeout/2 || took > 10*timeout {
			t.Errorf("after %q: closed after %v, want about %v", sent, took, timeout)
		}
		if len(b) > 0 {
			t.Logf("after %q: the server sent %q before closing", sent, b)
		}
	}

	// A request sent in time is served; the header timeout does not limit the handler.
	conn := dial(t, addr)
	br := bufio.NewReader(conn)
	send(t, conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r, body := readResponse(t, conn, br); r.StatusCode != 200 || body != "ok" {
		t.Errorf("got %d %q, want 200 ok", r.StatusCode, body)
	}
}

func TestH1IdleTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr, _ := serveH1(t, &h1.Server{Handler: http.HandlerFunc(okHandler), IdleTimeout: timeout})
	conn := dial(t, addr)
	br := bufio.NewReader(conn)
	for i := 0; i < 2; i++ { // kept alive while in use
		send(t, conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if r, body := readResponse(t, conn, br); r.StatusCode != 200 || body != "ok" || r.Close {
			t.Fatalf("got %d %q close=%v, want 200 ok, kept alive", r.StatusCode, body, r.Close)
		}
		time.Sleep(timeout / 4)
	}
	took, b, closed := waitClosed(conn, br, ioTimeout)
	if !closed {
		t.Fatalf("idle connection not closed in %v", ioTimeout)
	}
	if took < timeout/2 || took > 10*timeout {
		t.Errorf("idle connection closed after %v, want about %v", took, timeout)
	}
	if len(b) > 0 {
		t.Errorf("the server sent %q on an idle connection", b)
	}
}

func TestH1Shutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	slowBody := text(20 << 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			io.WriteString(w, "fast")
			return
		}
		close(started)
		select {
		case <-release:
		case <-time.After(ioTimeout):
		}
		io.WriteString(w, slowBody)
	})
	s := &h1.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	addr, served := serveH1(t, s)

	idle := dial(t, addr)
	idleBR := bufio.NewReader(idle)
	send(t, idle, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	if r, body := readResponse(t, idle, idleBR); r.StatusCode != 200 || body != "fast" {
		t.Fatalf("got %d %q", r.StatusCode, body)
	}

	busy := dial(t, addr)
	busyBR := bufio.NewReader(busy)
	send(t, busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-started:
	case <-time.After(ioTimeout):
		t.Fatal("the slow handler did not start")
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()

	// The idle connection is closed at once.
	if _, b, closed := waitClosed(idle, idleBR, 2*time.Second); !closed || len(b) > 0 {
		t.Errorf("idle connection: closed=%v, sent %q; want closed, nothing sent", closed, b)
	}
	// New connections are refused.
	refused := false
	for i := 0; i < 100 && !refused; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Error("a new connection is still accepted after Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}

	// The request in flight gets its whole response; then its connection is closed.
	close(release)
	if r, body := readResponse(t, busy, busyBR); r.StatusCode != 200 || body != slowBody {
		t.Errorf("in-flight request: %d, body %s; want 200 and the whole body", r.StatusCode, short(body))
	}
	if _, b, closed := waitClosed(busy, busyBR, 2*time.Second); !closed || len(b) > 0 {
		t.Errorf("after the in-flight response: closed=%v, sent %q; want closed", closed, b)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Shutdown did not return")
	}
	select {
	case err := <-served:
		if err != http.ErrServerClosed {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	case <-time.After(ioTimeout):
		t.Error("Serve did not return after Shutdown")
	}
}

func TestH1Close(t *testing.T) {
	started := make(chan struct{})
	ctxErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			ctxErr <- r.Context().Err()
		case <-time.After(ioTimeout):
			ctxErr <- errors.New("the request context was not cancelled")
		}
	})
	s := &h1.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	addr, served := serveH1(t, s)
	conn := dial(t, addr)
	send(t, conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-started:
	case <-time.After(ioTimeout):
		t.Fatal("the handler did not start")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took, b, closed := waitClosed(conn, bufio.NewReader(conn), 2*time.Second); !closed {
		t.Errorf("in-flight connection not closed by Close (sent %q)", b)
	} else if took > time.Second {
		t.Errorf("in-flight connection closed %v after Close", took)
	}
	select {
	case err := <-ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler: %v", err)
		}
	case <-time.After(2 * ioTimeout):
		t.Error("the handler did not return")
	}
	select {
	case err := <-served:
		if err != http.ErrServerClosed {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	case <-time.After(ioTimeout):
		t.Error("Serve did not return after Close")
	}
}

func TestH1RequestContextCancelledAfterHandler(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.Context().Err(); err != nil {
			t.Errorf("request context done while the handler runs: %v", err)
		}
		ctxs <- r.Context()
		io.WriteString(w, "ok")
	})
	addr, _ := serveH1(t, &h1.Server{Handler: h})
	conn := dial(t, addr)
	br := bufio.NewReader(conn)
	send(t, conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r, body := readResponse(t, conn, br); r.StatusCode != 200 || body != "ok" {
		t.Fatalf("got %d %q", r.StatusCode, body)
	}
	var ctx context.Context
	select {
	case ctx = <-ctxs:
	case <-time.After(ioTimeout):
		t.Fatal("the handler did not run")
	}
	// The connection stays open; the request's context ends anyway.
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Error("the request context is not cancelled after the handler returned")
	}
	send(t, conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r, body := readResponse(t, conn, br); r.StatusCode != 200 || body != "ok" {
		t.Errorf("second request on the connection: %d %q", r.StatusCode, body)
	}
	<-ctxs
}
