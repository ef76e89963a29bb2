//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCurlResumableUpload: an upload in ranges with curl (RFC 9110 §14.5 partial PUT), checked
// by RFC 9530 digests. The first range creates the file; a transfer of the second is cut off
// mid-way (curl killed by its own --max-time while the body trickles), which leaves the file as
// it was; HEAD tells where to resume; the rest goes up in one more range, and the file on disk
// is byte for byte the original.
func TestCurlResumableUpload(t *testing.T) {
	curl := tool(t, "curl", "curl")
	s := startServer(t, serverOpts{})
	dir := t.TempDir()
	const mib = 1 << 20
	data := randomBytes(3*mib, 7)
	part := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, rest := part("first", data[:mib]), part("rest", data[mib:])
	url := s.url("/big.bin")
	put := func(file, rng string, extra ...string) (string, error) {
		args := append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", file, "-H", "Content-Range: " + rng}, extra...)
		return runCmd(t, 60*time.Second, dir, nil, nil, curl, append(args, url)...)
	}
	if out, err := put(first, fmt.Sprintf("bytes 0-%d/%d", mib-1, len(data))); err != nil || out != "201" {
		t.Fatalf("first range: %q %v", out, err)
	}
	// The interrupted attempt: 2 MiB at 200 KiB/s, cut off after 2 s.
	out, err := put(rest, fmt.Sprintf("bytes %d-%d/%d", mib, len(data)-1, len(data)), "--limit-rate", "200k", "--max-time", "2")
	if err == nil {
		t.Fatalf("the throttled transfer was not cut off: %q", out)
	}
	resp, _ := do(t, "HEAD", url, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != mib {
		t.Fatalf("after the cut: HEAD %d, length %d, want %d (the old content)", resp.StatusCode, resp.ContentLength, mib)
	}
	// A range that would leave a hole tells the client the size to resume from.
	out, err = runCmd(t, 30*time.Second, dir, nil, nil, curl, "-sS", "-o", "/dev/null", "-D", "-", "-T", rest,
		"-H", fmt.Sprintf("Content-Range: bytes %d-%d/*", 2*mib, 4*mib-1), url)
	if err != nil || !strings.Contains(out, " 416") || !strings.Contains(strings.ToLower(out), fmt.Sprintf("content-range: bytes */%d", mib)) {
		t.Fatalf("range past the end: %v\n%s", err, out)
	}
	// The last range carries the digest of the whole file (RFC 9530 Repr-Digest): a wrong one
	// is refused and changes nothing, the right one completes the upload.
	sum := sha256.Sum256(data)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	rng := fmt.Sprintf("bytes %d-%d/%d", resp.ContentLength, len(data)-1, len(data))
	if out, err := put(rest, rng, "-H", "Repr-Digest: sha-256=:"+base64.StdEncoding.EncodeToString(make([]byte, 32))+":"); err != nil || out != "400" {
		t.Fatalf("resumed range with a wrong digest: %q %v", out, err)
	}
	if out, err := put(rest, rng, "-H", "Repr-Digest: "+digest); err != nil || out != "204" {
		t.Fatalf("resumed range: %q %v", out, err)
	}
	out, err = runCmd(t, 30*time.Second, dir, nil, nil, curl, "-sS", "-o", "/dev/null", "-D", "-", "-H", "Want-Repr-Digest: sha-256=10", url)
	if err != nil || !strings.Contains(out, "Repr-Digest: "+digest) {
		t.Fatalf("GET with Want-Repr-Digest: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(s.Root, "big.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file on disk differs from the upload (%d bytes, %v)", len(got), err)
	}
}
