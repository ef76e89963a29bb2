package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveTCP runs s on a loopback listener for the test and returns its address.
func serveTCP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: quiet}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// roundTrips sends the requests on one connection, one after the other, and returns the
// responses with their bodies read.
func roundTrips(t *testing.T, addr string, reqs ...string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var out []*http.Response
	for _, r := range reqs {
		if _, err := io.WriteString(c, r); err != nil {
			t.Fatal(err)
		}
		method, _, _ := strings.Cut(r, " ")
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("after %q: %v", r, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("body of the answer to %q: %v", r, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		out = append(out, resp)
	}
	return out
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// TestReadFromFiles serves files through ReadFrom the way package dav does (http.ServeContent
// over an *os.File, Content-Type set): small ones are read into the write buffer, bigger ones
// go by sendfile (a few MiB included); ranges of all are exact, and the connection stays
// usable after each.
func TestReadFromFiles(t *testing.T) {
	dir := t.TempDir()
	sizes := map[string]int{"empty": 0, "small": 4096, "edge": wbufSize - 300, "mid": 1<<19 + 5, "big": 3<<20 + 17}
	want := map[string][]byte{}
	for name, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + len(name))
		}
		want[name] = b
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := serveTCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(filepath.Join(dir, filepath.Base(r.URL.Path)))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	}))
	for name, b := range want {
		get := fmt.Sprintf("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", name)
		rng := fmt.Sprintf("GET /%s HTTP/1.1\r\nHost: x\r\nRange: bytes=1-%d\r\n\r\n", name, len(b)/2)
		head := fmt.Sprintf("HEAD /%s HTTP/1.1\r\nHost: x\r\n\r\n", name)
		rs := roundTrips(t, addr, get, rng, head, get)
		if got := bodyOf(rs[0]); got != string(b) || rs[0].ContentLength != int64(len(b)) {
			t.Errorf("%s: GET gave %d bytes (Content-Length %d), want %d, equal: %v", name, len(got), rs[0].ContentLength, len(b), got == string(b))
		}
		if len(b) > 2 {
			if got := bodyOf(rs[1]); rs[1].StatusCode != http.StatusPartialContent || got != string(b[1:len(b)/2+1]) {
				t.Errorf("%s: range: %s, %d bytes", name, rs[1].Status, len(got))
			}
		}
		if rs[2].ContentLength != int64(len(b)) {
			t.Errorf("%s: HEAD Content-Length %d, want %d", name, rs[2].ContentLength, len(b))
		}
		if got := bodyOf(rs[3]); got != string(b) {
			t.Errorf("%s: second GET on the connection: %d bytes", name, len(got))
		}
	}
}

// TestReadFromNeverPastContentLength: a handler that declares fewer bytes than it copies
// gets only the declared bytes on the wire, and the next response on the connection is intact.
func TestReadFromNeverPastContentLength(t *testing.T) {
	dir := t.TempDir()
	for name, n := range map[string]int{"small": 100, "big": 1 << 20} {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte("y"), n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := serveTCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			io.WriteString(w, "ok")
			return
		}
		f, err := os.Open(filepath.Join(dir, filepath.Base(r.URL.Path)))
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "10")
		n, err := io.Copy(w, f) // an *os.File: w.ReadFrom is used
		if n != 10 {
			t.Errorf("copied %d bytes (%v), want 10", n, err)
		}
	}))
	for _, name := range []string{"small", "big"} {
		rs := roundTrips(t, addr, "GET /"+name+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := bodyOf(rs[0]); got != "yyyyyyyyyy" {
			t.Errorf("%s: body %q", name, got)
		}
		if got := bodyOf(rs[1]); got != "ok" {
			t.Errorf("%s: next response %q", name, got)
		}
	}
}

// TestReadFromSniffs: with no Content-Type, ReadFrom detects it from the first bytes, as
// net/http does.
func TestReadFromSniffs(t *testing.T) {
	addr := serveTCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, strings.NewReader("<!DOCTYPE html><p>hello"))
	}))
	rs := roundTrips(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if ct := rs[0].Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

// TestWriterAfterReturn: a writer or body kept past the handler's return cannot touch the
// connection's next response.
func TestWriterAfterReturn(t *testing.T) {
	kept := make(chan http.ResponseWriter, 1)
	keptBody := make(chan io.Reader, 1)
	addr := serveTCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keep" {
			kept <- w
			keptBody <- r.Body
			io.WriteString(w, "first")
			return
		}
		old := <-kept
		if _, err := old.Write([]byte("INTRUDER")); err == nil {
			t.Error("a write through the previous request's writer succeeded")
		}
		old.Header().Set("X-Intruder", "1") // its own map: not this response's
		old.WriteHeader(http.StatusTeapot)
		if _, err := (<-keptBody).Read(make([]byte, 1)); err == nil {
			t.Error("a read of the previous request's body succeeded")
		}
		io.WriteString(w, "second")
	}))
	rs := roundTrips(t, addr, "PUT /keep HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz", "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := bodyOf(rs[1]); got != "second" || rs[1].StatusCode != http.StatusOK || rs[1].Header.Get("X-Intruder") != "" {
		t.Errorf("second response: %s %q %v", rs[1].Status, got, rs[1].Header)
	}
}

// TestLargeWrites: a write larger than the write buffer leaves with the buffered header in one
// writev, with a Content-Length or as one chunk; the bytes and the next response are intact.
func TestLargeWrites(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 100000/16)
	addr := serveTCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cl") != "" {
			w.Header().Set("Content-Length", fmt.Sprint(2*len(big)))
		}
		w.Write(big)
		w.Write(big)
	}))
	rs := roundTrips(t, addr,
		"GET /?cl=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /?cl=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	want := string(big) + string(big)
	for i, r := range rs {
		if got := bodyOf(r); got != want {
			t.Errorf("response %d: %d bytes, equal %v", i, len(got), got == want)
		}
	}
	if rs[0].ContentLength != int64(len(want)) || rs[1].ContentLength != -1 || len(rs[1].TransferEncoding) != 1 {
		t.Errorf("framing: Content-Length %d; %d, %v", rs[0].ContentLength, rs[1].ContentLength, rs[1].TransferEncoding)
	}
}

// TestWriteVectors: a vectored body with a Content-Length leaves in one writev with the header;
// without one it falls back to Write (chunked); HEAD sends no body; more than declared fails.
func TestWriteVectors(t *testing.T) {
	parts := [][]byte{[]byte("<a>"), bytes.Repeat([]byte("x"), 40000), []byte("</a>")}
	want := "<a>" + strings.Repeat("x", 40000) + "</a>"
	overErr := make(chan error, 1)
	addr := serveTCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vw := w.(interface {
			WriteVectors([][]byte) (int64, error)
		})
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", fmt.Sprint(len(want)))
		case "/over":
			w.Header().Set("Content-Length", "5")
			_, err := vw.WriteVectors(parts)
			overErr <- err
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		n, err := vw.WriteVectors(parts)
		if n != int64(len(want)) || err != nil {
			t.Errorf("%s: WriteVectors = %d, %v", r.URL.Path, n, err)
		}
	}))
	rs := roundTrips(t, addr,
		"GET /cl HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /cl HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /cl HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, i := range []int{0, 1, 3} {
		if got := bodyOf(rs[i]); got != want {
			t.Errorf("response %d: %d bytes", i, len(got))
		}
	}
	if rs[0].ContentLength != int64(len(want)) || len(rs[1].TransferEncoding) == 0 || rs[2].ContentLength != int64(len(want)) {
		t.Errorf("framing: %d, %v, HEAD %d", rs[0].ContentLength, rs[1].TransferEncoding, rs[2].ContentLength)
	}
	// Nothing of it is sent: the response is short of its Content-Length, so the connection
	// closes after the header.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /over HTTP/1.1\r\nHost: x\r\n\r\n")
	out, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n") || strings.Contains(string(out), "xxx") {
		t.Errorf("past the Content-Length: %q", out)
	}
	if err := <-overErr; err != http.ErrContentLength {
		t.Errorf("past the Content-Length: %v, want http.ErrContentLength", err)
	}
}
