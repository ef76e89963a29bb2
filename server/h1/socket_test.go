package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The real-socket differential harness beside FuzzAgainstNetHTTP (issue 12): the same scripted
// client over loopback TCP to this server and to net/http's, both with the same header and idle
// timeouts, with what the in-memory connection cannot do: writes split by pauses, a half-close,
// a client that reads slowly, and the deadlines themselves. The answers must be the same, and
// so must the way the connection ends (closed by the server or still open when the client
// gave up), except where the package comment lists a deviation.

// A step of a scripted client.
type sockStep struct {
	write     string        // bytes to send
	pause     time.Duration // then wait
	closeSide bool          // then half-close (CloseWrite)
}

type sockCase struct {
	name  string
	steps []sockStep
	// slow: the client reads its answers 512 bytes at a time with a pause between reads.
	slow bool
	// wait bounds the reading of the answers once the script has run.
	wait time.Duration
	// deviation, when set, checks h1's outcome against net/http's instead of equality.
	deviation func(t *testing.T, ours, theirs sockOutcome)
}

type sockOutcome struct {
	answers []string
	closed  bool // the server closed the connection before the client gave up
}

func (o sockOutcome) String() string {
	short := make([]string, len(o.answers))
	for i, a := range o.answers {
		short[i] = a[:min(len(a), 120)]
	}
	return fmt.Sprintf("closed=%v answers=[%s]", o.closed, strings.Join(short, " | "))
}

const (
	sockReadHeader = 300 * time.Millisecond
	sockIdle       = 600 * time.Millisecond
)

func TestSocketsAgainstNetHTTP(t *testing.T) {
	get := "GET /g HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []sockCase{
		{name: "request line in pieces", steps: []sockStep{
			{write: "GET /p", pause: 50 * time.Millisecond}, {write: "ieces HTTP/1.1\r\nHo", pause: 50 * time.Millisecond},
			{write: "st: x\r\n", pause: 50 * time.Millisecond}, {write: "\r\n"},
		}, wait: 2 * sockIdle},
		{name: "body in pieces", steps: []sockStep{
			{write: "PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234", pause: 100 * time.Millisecond},
			{write: "56789" + get},
		}, wait: 2 * sockIdle},
		{name: "chunked body in pieces", steps: []sockStep{
			{write: "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", pause: 100 * time.Millisecond},
			{write: "lo\r\n0\r\n\r\n" + get},
		}, wait: 2 * sockIdle},
		{name: "half-close after a request", steps: []sockStep{{write: get + get, closeSide: true}}, wait: 2 * sockIdle},
		{name: "half-close in the body", steps: []sockStep{
			{write: "PUT /h HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234", closeSide: true},
		}, wait: 2 * sockIdle},
		{name: "half-close in the header", steps: []sockStep{{write: "GET /h HTTP/1.1\r\nHost: x\r\n", closeSide: true}}, wait: 2 * sockIdle},
		{name: "slow reader of pipelined large answers", steps: []sockStep{
			{write: strings.Repeat("GET /?big=1 HTTP/1.1\r\nHost: x\r\n\r\n", 20)},
		}, slow: true, wait: 2 * sockIdle},
		{name: "header stalled past the header timeout", steps: []sockStep{{write: "GET / HTTP/1.1\r\nHo"}}, wait: 6 * sockReadHeader},
		{name: "no request at all", wait: 6 * sockReadHeader},
		{name: "idle after a request", steps: []sockStep{{write: get}}, wait: 4 * sockIdle},
		{name: "second header stalled", steps: []sockStep{{write: get + "GET /two HTTP/1.1\r\n"}}, wait: 4 * sockIdle},
		{
			// h1 keeps the header deadline armed while a body is read when the handler sets
			// none (the package comment); net/http leaves the body without a deadline.
			name:  "body stalled, the handler sets no deadline",
			steps: []sockStep{{write: "PUT /s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234"}},
			wait:  6 * sockReadHeader,
			deviation: func(t *testing.T, ours, theirs sockOutcome) {
				if !ours.closed || len(ours.answers) != 1 || !strings.Contains(ours.answers[0], "err=true") {
					t.Errorf("h1: %v, want the body read to fail at the header deadline, answered and closed", ours)
				}
				if theirs.closed {
					t.Errorf("net/http: %v, want the connection still open (no body deadline)", theirs)
				}
			},
		},
		{
			name:  "HTTP/1.0 with Transfer-Encoding, in pieces",
			steps: []sockStep{{write: "PUT /t HTTP/1.0\r\nHost: x\r\n", pause: 50 * time.Millisecond}, {write: "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc" + get}},
			wait:  2 * sockIdle,
			deviation: func(t *testing.T, ours, theirs sockOutcome) {
				if !ours.closed || len(ours.answers) != 1 || !strings.HasPrefix(ours.answers[0], "400 ") {
					t.Errorf("h1: %v, want one 400 and closed", ours)
				}
				if len(theirs.answers) != 2 {
					t.Errorf("net/http: %v, want two answers (the Go behaviour TestGoDropsTEFromHTTP10 pins)", theirs)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ours := sockRun(t, c, func(ln net.Listener) (func() error, func()) {
				s := &Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: sockReadHeader, IdleTimeout: sockIdle, ErrorLog: quiet}
				return func() error { return s.Serve(ln) }, func() { s.Close() }
			})
			theirs := sockRun(t, c, func(ln net.Listener) (func() error, func()) {
				s := &http.Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: sockReadHeader, IdleTimeout: sockIdle, ErrorLog: quiet}
				return func() error { return s.Serve(ln) }, func() { s.Close() }
			})
			t.Logf("h1:       %v\nnet/http: %v", ours, theirs)
			if c.deviation != nil {
				c.deviation(t, ours, theirs)
				return
			}
			if ours.closed != theirs.closed || !slices.Equal(ours.answers, theirs.answers) {
				t.Errorf("h1 and net/http differ\nh1:       %v\nnet/http: %v", ours, theirs)
			}
		})
	}
}

// sockRun serves one loopback connection with the server start builds, runs c's script on it
// and reads the answers until the server closes the connection or c.wait has passed.
func sockRun(t *testing.T, c sockCase, start func(net.Listener) (func() error, func())) sockOutcome {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve, stop := start(ln)
	served := make(chan struct{})
	go func() {
		serve()
		close(served)
	}()
	defer func() {
		stop()
		<-served
	}()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var sent strings.Builder
	for _, s := range c.steps {
		if s.write != "" {
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, s.write); err != nil {
				t.Fatalf("write: %v", err)
			}
			sent.WriteString(s.write)
		}
		time.Sleep(s.pause)
		if s.closeSide {
			conn.(*net.TCPConn).CloseWrite()
		}
	}
	var out bytes.Buffer
	closed := false
	end := time.Now().Add(c.wait)
	buf := make([]byte, 32<<10)
	if c.slow {
		buf = buf[:512]
	}
	for out.Len() < 16<<20 { // bounded: by size, and by c.wait below
		conn.SetReadDeadline(end)
		n, err := conn.Read(buf)
		out.Write(buf[:n])
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		}
		if err != nil {
			closed = true // EOF or reset: the server closed it
			break
		}
		if c.slow {
			time.Sleep(2 * time.Millisecond)
		}
	}
	return sockOutcome{answers: responses([]byte(sent.String()), out.Bytes()), closed: closed}
}

// Go behaviour h1 relies on, pinned so that a Go upgrade that moves it fails here, loudly, and
// not silently in production (issue 12).

// TestGoUnsupportedTEErrorType: h1 tells a Transfer-Encoding that http.ReadRequest refuses
// (answered 501, as net/http does) from other read errors by the unexported type's name.
func TestGoUnsupportedTEErrorType(t *testing.T) {
	for _, raw := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		_, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err == nil {
			t.Fatalf("http.ReadRequest accepted %q: Go's Transfer-Encoding handling changed; revisit unsupportedTE in conn.go", raw)
		}
		if got := fmt.Sprintf("%T", err); got != "*http.unsupportedTEError" {
			t.Fatalf("http.ReadRequest(%q) fails with a %s (%v), no longer *http.unsupportedTEError: unsupportedTE in conn.go recognises it by that name and must be updated, or h1 stops answering 501", raw, got, err)
		}
		if !unsupportedTE(err) {
			t.Fatalf("unsupportedTE(%v) = false", err)
		}
	}
}

// TestGoDropsTEFromHTTP10: http.ReadRequest drops Transfer-Encoding from an HTTP/1.0 request
// and frames its body by the Content-Length. h1's refusal of such a request (RFC 9112 section
// 6.1) reads the recorded header block because of it, and server/middleware.go's te10Conn
// watches net/http's connections for it.
func TestGoDropsTEFromHTTP10(t *testing.T) {
	raw := "PUT /t HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc"
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("http.ReadRequest refuses an HTTP/1.0 request with Transfer-Encoding now (%v): Go's behaviour moved; h1's and te10Conn's refusal may be simplified, revisit both", err)
	}
	if len(req.TransferEncoding) != 0 || req.Header.Get("Transfer-Encoding") != "" || req.ContentLength != 3 {
		t.Fatalf("http.ReadRequest no longer drops Transfer-Encoding from HTTP/1.0 (TransferEncoding %q, header %q, ContentLength %d): revisit the HTTP/1.0 checks in conn.go readRequest and server/middleware.go te10Conn",
			req.TransferEncoding, req.Header.Get("Transfer-Encoding"), req.ContentLength)
	}
}
