//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The HTTP layer under hostile clients (issue 12, findings 1 to 5), on both plain-HTTP servers:
// every request is under the configured deadlines, whoever answers it; HTTP/1.0 with
// Transfer-Encoding is answered and its connection closed; the first request's header is
// bounded from accept; a malformed body is the client's error (4xx); an idle connection costs
// about what net/http's does.

// The timeouts are short so that the tests are fast, and different so that a cut can be told
// apart.
const (
	hhReadHeader = 2 * time.Second
	hhTransfer   = 3 * time.Second
)

func hostileHTTPConfig() string {
	return fmt.Sprintf("[timeouts]\nread_header = %q\nidle = \"60s\"\ntransfer = %q\n", hhReadHeader.String(), hhTransfer.String())
}

func TestHostileHTTP(t *testing.T) {
	for _, http1 := range []string{"davd", "net/http"} {
		t.Run("http1="+http1, func(t *testing.T) {
			t.Parallel()
			testHostileHTTP(t, http1)
		})
	}
}

func testHostileHTTP(t *testing.T, http1 string) {
	pprofPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", pprofPort)
	d := startDavd(t, davdOpts{
		Config: hostileHTTPConfig(),
		Flags:  []string{"-http1", http1, "-pprof", pprofAddr},
		Setup: func(root, _ string) {
			if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("a\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
	alive := func(t *testing.T) {
		t.Helper()
		if !d.alive() {
			t.Fatal("davd exited")
		}
		if _, b := d.want(200, req{Method: "GET", Path: "/a.txt"}); string(b) != "a\n" {
			t.Fatalf("GET /a.txt: %q", b)
		}
	}

	// Finding 1: OPTIONS * was answered by the servers themselves, outside davd's handler
	// chain, with no deadline at all while it read its body.
	t.Run("OPTIONS * with a Content-Length and no body is closed within the timeouts", func(t *testing.T) {
		for _, target := range []string{"*", "/"} {
			conn := dialT(t, d.Addr)
			start := time.Now()
			writeAll(t, conn, "OPTIONS "+target+" HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
			_, out, closed := readUntilClosed(conn, 20*time.Second)
			held := time.Since(start)
			t.Logf("OPTIONS %s: closed=%v after %v, got %q", target, closed, held.Round(time.Millisecond), firstLine(out))
			if !closed {
				t.Errorf("OPTIONS %s with a missing body: the connection is still open after %v", target, held)
			} else if limit := hhTransfer + hhReadHeader + 2*time.Second; held > limit {
				t.Errorf("OPTIONS %s with a missing body: closed after %v, want within %v", target, held, limit)
			}
		}
		alive(t)
	})

	t.Run("pipelined OPTIONS * never read by the client is cut by the transfer timeout", func(t *testing.T) {
		conn := dialT(t, d.Addr)
		stalled, cut, err := floodUnread(conn, []byte("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), 20*time.Second)
		if stalled.IsZero() {
			t.Fatalf("the server never stopped reading: %v", err)
		}
		if cut.IsZero() {
			t.Fatalf("the writes stalled at %v and the connection was still open 20 s later", stalled.Format(time.StampMilli))
		}
		held := cut.Sub(stalled)
		t.Logf("stalled, then cut %v later (%v)", held.Round(time.Millisecond), err)
		if limit := 2*hhTransfer + 4*time.Second; held > limit { // slack for a loaded machine; the bug held it forever
			t.Errorf("cut %v after the writes stalled; want within the transfer timeout (%v) and some slack: %v", held, hhTransfer, limit)
		}
		alive(t)
	})

	// Finding 3: RFC 9112 section 6.1, an HTTP/1.0 message with Transfer-Encoding has faulty
	// framing; it is answered and the connection closed, and nothing after it is a request.
	t.Run("HTTP/1.0 with Transfer-Encoding is answered and closed", func(t *testing.T) {
		const smuggled = "GET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n"
		for _, c := range []struct {
			name, head, body string
			pieces           bool
		}{
			{"with Content-Length", "PUT /t1 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "abc" + smuggled, false},
			{"Content-Length first", "PUT /t2 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 3\r\ntransfer-encoding: chunked\r\n\r\n", "abc" + smuggled, false},
			{"without Content-Length", "PUT /t3 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n" + smuggled, false},
			{"unknown coding", "PUT /t4 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n", "abc" + smuggled, false},
			{"header in pieces", "PUT /t5 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "abc" + smuggled, true},
			{"after a body ending mid-line", "PUT /t6 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPUT /t7 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "abc" + smuggled, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				conn := dialT(t, d.Addr)
				msg := c.head + c.body
				if c.pieces {
					// the request line, then the rest: the header block does not arrive in one read
					nl := strings.IndexByte(msg, '\n') + 1
					writeAll(t, conn, msg[:nl])
					time.Sleep(100 * time.Millisecond)
					writeAll(t, conn, msg[nl:nl+20])
					time.Sleep(100 * time.Millisecond)
					msg = msg[nl+20:]
				}
				writeAll(t, conn, msg)
				_, out, closed := readUntilClosed(conn, 15*time.Second)
				statuses := responseStatuses(out)
				t.Logf("statuses %v, closed %v", statuses, closed)
				if !closed {
					t.Errorf("the connection is still open")
				}
				want := []int{400}
				if c.name == "after a body ending mid-line" {
					want = []int{201, 400}
				}
				if fmt.Sprint(statuses) != fmt.Sprint(want) {
					t.Errorf("statuses %v, want %v (and nothing after: the trailing bytes are not a request)\n%q", statuses, want, out)
				}
				if bytes.Contains(out, []byte("SMUGGLED")) {
					t.Errorf("the trailing request was answered: %q", out)
				}
				// the HTTP/1.0 request's target: its last request line
				line := c.head[strings.LastIndex(c.head, "PUT /")+len("PUT /"):]
				name := line[:strings.IndexByte(line, ' ')]
				if _, err := os.Lstat(filepath.Join(d.Root, name)); err == nil {
					t.Errorf("/%s was written from a request with faulty framing", name)
				}
			})
		}
		alive(t)
	})

	// Finding 4: the header timeout is counted from accept for a connection's first request.
	t.Run("the first request's header is bounded from accept", func(t *testing.T) {
		conn := dialT(t, d.Addr)
		start := time.Now()
		time.Sleep(hhReadHeader * 8 / 10)
		writeAll(t, conn, "G")
		_, _, closed := readUntilClosed(conn, 4*hhReadHeader)
		held := time.Since(start)
		t.Logf("closed=%v after %v", closed, held.Round(time.Millisecond))
		if !closed {
			t.Fatalf("not closed after %v", held)
		}
		if limit := hhReadHeader + 700*time.Millisecond; held > limit {
			t.Errorf("closed %v after accept; want about read_header (%v), at most %v", held, hhReadHeader, limit)
		}
		alive(t)
	})

	// Finding 5: a body that cannot be read because of the client is a 4xx.
	t.Run("a malformed body is a client error", func(t *testing.T) {
		const head = "PUT /c.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		for _, c := range []struct{ name, msg string }{
			{"chunk size zz", head + "zz\r\nhello\r\n0\r\n\r\n"},
			{"chunk size of 17 hex digits", head + "11111111111111111\r\nhello\r\n0\r\n\r\n"},
			{"negative chunk size", head + "-5\r\nhello\r\n0\r\n\r\n"},
			{"8 KiB chunk extension", head + "5;" + strings.Repeat("e", 8<<10) + "\r\nhello\r\n0\r\n\r\n"},
			{"chunk longer than its size", head + "2\r\nhello\r\n0\r\n\r\n"},
		} {
			t.Run(c.name, func(t *testing.T) {
				conn := dialT(t, d.Addr)
				go conn.Write([]byte(c.msg)) // the server may answer before reading it all
				_, out, _ := readUntilClosed(conn, 15*time.Second)
				if st := responseStatuses(out); len(st) != 1 || st[0] != 400 {
					t.Errorf("statuses %v, want [400]\n%.300q", st, out)
				}
			})
		}
		t.Run("body shorter than its Content-Length", func(t *testing.T) {
			conn := dialT(t, d.Addr)
			writeAll(t, conn, "PUT /c.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
			conn.(*net.TCPConn).CloseWrite()
			_, out, _ := readUntilClosed(conn, 15*time.Second)
			if st := responseStatuses(out); len(st) != 1 || st[0] != 400 {
				t.Errorf("statuses %v, want [400]\n%.300q", st, out)
			}
		})
		if _, err := os.Lstat(filepath.Join(d.Root, "c.txt")); err == nil {
			t.Errorf("/c.txt was written from a malformed body")
		}
		alive(t)
	})

	// Finding 2: an idle connection does not keep the header of its last request.
	t.Run("memory per idle connection", func(t *testing.T) {
		const n = 200
		big := "X: " + strings.Repeat("a", 60000) + "\r\n"
		for _, c := range []struct {
			name   string
			pieces []string
		}{
			{"after a 60 KiB absolute-form request", []string{"GET http://x/a.txt HTTP/1.1\r\nHost: x\r\n" + big + "\r\n"}},
			{"after a request line in pieces", []string{"GET /a.t", "xt HTTP/1.1\r\nHost: x\r\n" + big + "\r\n"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := heapAlloc(t, pprofAddr)
				conns := make([]net.Conn, n)
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for i := range conns {
					conn := dialT(t, d.Addr)
					conns[i] = conn
					wg.Add(1)
					go func() {
						defer wg.Done()
						conn.SetDeadline(time.Now().Add(30 * time.Second))
						for j, p := range c.pieces {
							if j > 0 {
								time.Sleep(50 * time.Millisecond)
							}
							if _, err := io.WriteString(conn, p); err != nil {
								errs <- err
								return
							}
						}
						resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 512), nil)
						if err != nil {
							errs <- err
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || resp.Close {
							errs <- fmt.Errorf("status %d, close %v", resp.StatusCode, resp.Close)
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				after := heapAlloc(t, pprofAddr)
				per := (after - before) / n
				t.Logf("heap %d -> %d bytes: %d bytes per idle connection", before, after, per)
				if per > 32<<10 {
					t.Errorf("%d bytes of heap per idle connection, want at most 32 KiB (net/http: about 10 KiB)", per)
				}
				for _, conn := range conns {
					conn.Close()
				}
			})
		}
		alive(t)
	})
}

// dialT connects to addr; the connection is closed when the test ends.
func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func writeAll(t *testing.T, conn net.Conn, s string) {
	t.Helper()
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, s); err != nil {
		t.Fatal(err)
	}
}

// readUntilClosed reads what the server sends until it closes the connection (EOF or reset),
// for at most d. It reports how long that took, what was read, and whether it was closed.
func readUntilClosed(conn net.Conn, d time.Duration) (time.Duration, []byte, bool) {
	t0 := time.Now()
	conn.SetReadDeadline(t0.Add(d))
	var out bytes.Buffer
	_, err := io.Copy(&out, io.LimitReader(conn, 16<<20))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return time.Since(t0), out.Bytes(), false
	}
	return time.Since(t0), out.Bytes(), true
}

// floodUnread writes msg again and again without ever reading, until the server closes the
// connection or max has passed since the writes stalled (or 60 s in all). It returns when the
// writes stalled (the server stopped reading) and when the connection was found closed.
func floodUnread(conn net.Conn, msg []byte, max time.Duration) (stalled, cut time.Time, err error) {
	batch := bytes.Repeat(msg, (64<<10)/len(msg))
	pending := batch
	end := time.Now().Add(60 * time.Second)
	for time.Now().Before(end) { // bounded: 60 s
		if !stalled.IsZero() && time.Since(stalled) > max {
			return stalled, time.Time{}, nil
		}
		conn.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Write(pending)
		pending = pending[n:]
		if len(pending) == 0 {
			pending = batch
		}
		var ne net.Error
		switch {
		case err == nil:
			stalled = time.Time{}
		case errors.As(err, &ne) && ne.Timeout():
			if n > 0 {
				stalled = time.Time{}
			}
			if stalled.IsZero() {
				stalled = time.Now()
			}
		default:
			return stalled, time.Now(), err
		}
	}
	return stalled, time.Time{}, errors.New("gave up after 60 s")
}

var statusLineRE = regexp.MustCompile(`(?m)^HTTP/1\.[01] (\d{3}) `)

// responseStatuses reads the responses in out one after the other.
func responseStatuses(out []byte) []int {
	var st []int
	br := bufio.NewReader(bytes.NewReader(out))
	for range 16 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		st = append(st, resp.StatusCode)
	}
	if len(st) == 0 {
		// not even one whole response: what status lines are there
		for _, m := range statusLineRE.FindAllSubmatch(out, -1) {
			n, _ := strconv.Atoi(string(m[1]))
			st = append(st, -n)
		}
	}
	return st
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// heapAlloc asks davd's pprof server for the live heap after a garbage collection.
func heapAlloc(t *testing.T, pprofAddr string) int64 {
	t.Helper()
	var last int64
	// The smallest of three readings: a collection finishing late only adds.
	for i := range 3 {
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap?debug=1&gc=1")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`(?m)^# HeapAlloc = (\d+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no HeapAlloc in the heap profile:\n%.500s", b)
		}
		v, _ := strconv.ParseInt(string(m[1]), 10, 64)
		if i == 0 || v < last {
			last = v
		}
	}
	return last
}
