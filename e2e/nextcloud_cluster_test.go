//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterNextcloud: the Nextcloud layout in cluster mode. The chunks of an upload wait in
// the cluster's upload tree, so any node takes any chunk: rclone's nextcloud vendor uploads 25
// MB in 10 MiB chunks through node a and node b serves the file byte for byte (rclone check
// through b), and by hand the chunks of one upload go to a and b alternately, the MOVE of
// .file to b, and node a reads the assembled file; the upload areas are left empty.
func TestClusterNextcloud(t *testing.T) {
	node := clusterNodes(t, "davd-nextcloud", "nextcloud_layout = true\n", usersConfig(hashOf(t, "pw", 4), "alice"))
	a, b := node(), node()
	alice := func(r req) req { r.User, r.Pass = "alice", "pw"; return r }

	src := t.TempDir()
	big := make([]byte, 25_000_000)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	bin, cfg, remote := rcloneNextcloud(t, "alice", "pw")
	out, err := runCmd(t, 3*time.Minute, "", []string{"TZ=UTC"}, nil, bin, "--config", cfg, "--retries", "1", "--low-level-retries", "1", "-vv",
		"copy", src, remote(a))
	if err != nil {
		t.Fatalf("rclone copy through node a: %v\n%s", err, out)
	}
	if !strings.Contains(out, "chunked upload") {
		t.Fatalf("rclone did not use the chunked upload:\n%s", out)
	}
	// The whole body (the nodes' helper reads at most 16 MiB).
	hr, _ := http.NewRequest("GET", b.URL+"docs/big.bin", nil)
	hr.SetBasicAuth("alice", "pw")
	resp, err := b.Client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, big) {
		t.Fatalf("node b serves %d bytes (status %d, %v), want the 25,000,000 sent through node a", len(got), resp.StatusCode, err)
	}
	check, err := runCmd(t, time.Minute, "", nil, nil, bin, "--config", cfg, "check", src, remote(b))
	if err != nil || !strings.Contains(check, "0 differences found") {
		t.Fatalf("rclone check through node b: %v\n%s", err, check)
	}

	// By hand, one upload across both nodes.
	up := "/remote.php/dav/uploads/alice/across"
	a.want(201, alice(req{Method: "MKCOL", Path: up}))
	var want []byte
	for i := 1; i <= 6; i++ {
		part := fmt.Sprintf("part %d from node %c;", i, "ab"[i%2])
		want = append(want, part...)
		n := a
		if i%2 == 1 {
			n = b
		}
		n.want(201, alice(req{Method: "PUT", Path: fmt.Sprintf("%s/%d", up, i), Body: []byte(part)}))
	}
	sum := sha1.Sum(want)
	b.want(201, alice(req{Method: "MOVE", Path: up + "/.file", Hdr: map[string]string{
		"Destination": b.URL + "remote.php/dav/files/alice/docs/across.txt", "OC-Total-Length": fmt.Sprint(len(want)),
		"OC-Checksum": "SHA1:" + hex.EncodeToString(sum[:])}}))
	if _, got := a.want(200, alice(req{Method: "GET", Path: "/docs/across.txt"})); !bytes.Equal(got, want) {
		t.Errorf("node a reads %q, want %q", got, want)
	}
	for _, d := range []*davd{a, b} {
		_, body := d.want(207, alice(req{Method: "PROPFIND", Path: "/remote.php/dav/uploads/alice/", Hdr: map[string]string{"Depth": "1"}}))
		if n := strings.Count(string(body), "<D:response>"); n != 1 {
			t.Errorf("%s: the upload area holds %d entries after the uploads, want none:\n%s", d.URL, n-1, body)
		}
	}
	// The upload tree is not in the served tree: its root holds docs/ alone.
	_, body := a.want(207, alice(req{Method: "PROPFIND", Path: "/", Hdr: map[string]string{"Depth": "1"}}))
	if n := strings.Count(string(body), "<D:response>"); n != 2 || !strings.Contains(string(body), "<D:href>/docs/</D:href>") {
		t.Errorf("the served root holds %d responses, want / and /docs/ only:\n%s", n, body)
	}
}
