//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// finderPUT sends a PUT the way macOS Finder (webdavfs_agent) does: Transfer-Encoding: chunked,
// X-Expected-Entity-Length and no Content-Length, in chunks of uneven sizes, written by hand on
// a raw connection so that nothing adds a Content-Length.
func finderPUT(t *testing.T, s *server, path string, body []byte) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "PUT %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (x86_64)\r\n"+
		"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nX-Expected-Entity-Length: %d\r\n\r\n",
		s.Prefix, path, s.Addr, len(body))
	sizes := []int{1, 4095, 65536, 7, 131072}
	for i, rest := 0, body; len(rest) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(rest))
		fmt.Fprintf(w, "%x\r\n", n)
		w.Write(rest[:n])
		w.WriteString("\r\n")
		rest = rest[n:]
	}
	w.WriteString("0\r\n\r\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("Finder-style PUT %s: reading response: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestFinderChunkedPUT: macOS Finder uploads with a chunked body and X-Expected-Entity-Length
// instead of Content-Length. davd must store the whole body (servers that drop it create 0-byte
// files), for a large file, an overwrite and an empty file.
func TestFinderChunkedPUT(t *testing.T) {
	s := startServer(t, serverOpts{Flags: []string{"-no-fsync"}})
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"large.bin", randomBytes(3<<20+11, 4), 201},
		{"large.bin", randomBytes(200<<10+1, 5), 204}, // overwrite with a shorter body
		{"empty.txt", []byte{}, 201},
	}
	for _, tc := range cases {
		resp := finderPUT(t, s, "/"+tc.name, tc.body)
		if resp.StatusCode != tc.want {
			t.Errorf("Finder PUT %s (%d bytes): %s, want %d", tc.name, len(tc.body), resp.Status, tc.want)
			continue
		}
		get, got := do(t, "GET", s.url(tc.name), nil, nil)
		if get.StatusCode != 200 || !bytes.Equal(got, tc.body) {
			t.Errorf("GET %s after Finder PUT: %s, %d bytes, want %d identical bytes", tc.name, get.Status, len(got), len(tc.body))
		}
		if cl := get.Header.Get("Content-Length"); cl != strconv.Itoa(len(tc.body)) {
			t.Errorf("GET %s: Content-Length %q, want %d", tc.name, cl, len(tc.body))
		}
	}
}
