package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openFDs lists this process's descriptors that point at path.
func openFDs(t *testing.T, path string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var on []string
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			on = append(on, e.Name())
		}
	}
	return on
}

// mapped reports whether path is mapped into this process's memory.
func mapped(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	return bytes.Contains(b, []byte(" "+path+"\n"))
}

// Issue 16: a file that another program truncates while it is being downloaded. The download
// goes by sendfile(2) (the path kept for large bodies). The server must survive it, the client
// must see a cut response (fewer bytes than Content-Length, then the connection closed, never
// a kept-alive connection out of step and never bytes that were not the file's), and the file's
// descriptor must be released (nor may it stay mapped).
func TestFileTruncatedDuringDownload(t *testing.T) {
	r := startRun(t, Defaults())
	const size = 64 << 20
	content := make([]byte, size)
	rng := rand.New(rand.NewPCG(16, 16))
	for i := 0; i < size; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			content[i+j] = byte(v >> (8 * j))
		}
	}
	path := filepath.Join(r.Root, "big.bin")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte("other file "), 100000)
	if err := os.WriteFile(filepath.Join(r.Root, "other.bin"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	if fds := openFDs(t, path); len(fds) != 0 {
		t.Fatalf("big.bin open before the download: %v", fds)
	}

	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // a connection left open fails the test here
	fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.ContentLength != size {
		t.Fatalf("GET: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	got := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if len(openFDs(t, path)) == 0 {
		t.Fatal("big.bin is not open during its download: the test does not test a download in progress")
	}
	if err := os.Truncate(path, 2<<20); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("the download ended without an error after %d bytes: a truncated file must cut the response", len(got)+len(rest))
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server left the connection open after the cut body (%d bytes read): %v", len(got)+len(rest), err)
	}
	got = append(got, rest...)
	if len(got) >= size {
		t.Fatalf("received all %d bytes of a file truncated to 2 MiB", len(got))
	}
	if !bytes.Equal(got, content[:len(got)]) {
		t.Fatal("the cut response holds bytes that are not the file's")
	}
	t.Logf("cut after %d of %d bytes: %v", len(got), size, err)

	// The server goes on serving, and let go of the file.
	res, err := http.Get("http://" + r.Addr + "/other.bin")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || !bytes.Equal(body, other) {
		t.Fatalf("GET another file after the cut: %d, %d bytes, %v", res.StatusCode, len(body), err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(openFDs(t, path)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("big.bin still open 5 s after its download was cut: fds %v", openFDs(t, path))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if mapped(t, path) {
		t.Fatal("big.bin is still mapped")
	}
	if strings.Contains(r.Log.String(), "panic") {
		t.Fatalf("the server panicked:\n%s", r.Log)
	}
}
