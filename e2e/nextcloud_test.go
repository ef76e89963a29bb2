//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// rcloneChunkingVersion is the rclone release the Nextcloud chunked-upload test runs: Debian's
// rclone (1.60) predates rclone's Nextcloud chunking (1.63), so this one is built from the Go
// module proxy and cached, as versitygw is.
const rcloneChunkingVersion = "v1.68.2"

var rcloneNewOnce struct {
	sync.Once
	bin string
	err error
}

// rcloneNew returns the path of rclone at rcloneChunkingVersion, building it into the user
// cache (${XDG_CACHE_HOME:-~/.cache}/davd) once per machine; scripts/test.sh builds it first.
func rcloneNew(t *testing.T) string {
	t.Helper()
	rcloneNewOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			rcloneNewOnce.err = err
			return
		}
		dir := filepath.Join(cache, "davd", "rclone-"+rcloneChunkingVersion)
		bin := filepath.Join(dir, "rclone")
		if _, err := os.Stat(bin); err == nil {
			rcloneNewOnce.bin = bin
			return
		}
		cmd := exec.Command("go", "install", "github.com/rclone/rclone@"+rcloneChunkingVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			rcloneNewOnce.err = fmt.Errorf("building rclone %s: %v\n%s", rcloneChunkingVersion, err, out)
			return
		}
		rcloneNewOnce.bin = bin
	})
	if rcloneNewOnce.err != nil {
		t.Fatal(rcloneNewOnce.err)
	}
	return rcloneNewOnce.bin
}

// rcloneNextcloud returns rclone at rcloneChunkingVersion, an empty configuration file for it,
// and a function that names user's docs/ folder on a node as an on-the-fly remote of the
// nextcloud vendor, with 10 MiB chunks.
func rcloneNextcloud(t *testing.T, user, pass string) (bin, cfg string, remote func(*davd) string) {
	t.Helper()
	bin = rcloneNew(t)
	cfg = filepath.Join(t.TempDir(), "rclone.conf")
	os.WriteFile(cfg, nil, 0o600)
	obscured, err := runCmd(t, time.Minute, "", nil, nil, bin, "--config", cfg, "obscure", pass)
	if err != nil {
		t.Fatal(err)
	}
	return bin, cfg, func(d *davd) string {
		return fmt.Sprintf(":webdav,url='%sremote.php/dav/files/%s',vendor=nextcloud,user=%s,pass='%s',nextcloud_chunk_size=10M:docs",
			d.URL, user, user, strings.TrimSpace(obscured))
	}
}

// TestNextcloudChunkedUpload: with nextcloud_layout, rclone's "nextcloud" vendor (which needs
// the /remote.php/dav/files/USER URL) uploads a file larger than its chunk size through
// /remote.php/dav/uploads/USER/ (MKCOL, numbered chunk PUTs, MOVE of .file with
// OC-Total-Length and OC-Checksum), and the file arrives byte for byte, with its modification
// time; the upload area is left empty. The same protocol by hand: a wrong checksum or total
// is a 400 and the old content stays, another user's paths are a 403, and chunks are
// assembled in numeric order (v2 names).
func TestNextcloudChunkedUpload(t *testing.T) {
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{Config: "nextcloud_layout = true\n" + usersConfig(h, "alice", "bob|scope = \"/bob\"")})
	alice := func(r req) req { r.User, r.Pass = "alice", "pw"; return r }
	bob := func(r req) req { r.User, r.Pass = "bob", "pw"; return r }

	// rclone: 25 MB in 10 MiB chunks (three chunk PUTs), then a byte comparison.
	src := t.TempDir()
	big := make([]byte, 25_000_000)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "big.bin"), mtime, mtime)
	bin, cfg, remoteOf := rcloneNextcloud(t, "alice", "pw")
	remote := remoteOf(d)
	out, err := runCmd(t, 3*time.Minute, "", []string{"TZ=UTC"}, nil, bin, "--config", cfg, "--retries", "1", "--low-level-retries", "1", "-vv",
		"copy", src, remote)
	if err != nil {
		t.Fatalf("rclone copy: %v\n%s", err, out)
	}
	if !strings.Contains(out, "chunked upload") {
		t.Fatalf("rclone did not use the chunked upload:\n%s", out)
	}
	got, err := os.ReadFile(filepath.Join(d.Root, "docs", "big.bin"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("docs/big.bin: %d bytes (err %v), want the 25,000,000 sent", len(got), err)
	}
	if fi, _ := os.Stat(filepath.Join(d.Root, "docs", "big.bin")); !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime %v, want %v (X-OC-Mtime on the MOVE)", fi.ModTime(), mtime)
	}
	check, err := runCmd(t, time.Minute, "", nil, nil, bin, "--config", cfg, "check", src, remote)
	if err != nil || !strings.Contains(check, "0 differences found") {
		t.Fatalf("rclone check: %v\n%s", err, check)
	}
	_, body := d.want(207, alice(req{Method: "PROPFIND", Path: "/remote.php/dav/uploads/alice/", Hdr: map[string]string{"Depth": "1"}}))
	if n := strings.Count(string(body), "<D:response>"); n != 1 {
		t.Errorf("the upload area holds %d entries after the upload, want none:\n%s", n-1, body)
	}

	// By hand: v2 numbered chunks, deliberately PUT out of order and with 10 sorting before 9
	// as text, so only a numeric order gives the right bytes.
	up := "/remote.php/dav/uploads/alice/up-1"
	dst := d.URL + "remote.php/dav/files/alice/docs/hand.txt"
	d.want(201, alice(req{Method: "MKCOL", Path: up}))
	var want []byte
	parts := map[int]string{}
	for i := 1; i <= 10; i++ {
		parts[i] = fmt.Sprintf("part %02d;", i)
		want = append(want, parts[i]...)
	}
	for _, i := range []int{10, 2, 9, 1, 3, 4, 5, 6, 7, 8} {
		d.want(201, alice(req{Method: "PUT", Path: fmt.Sprintf("%s/%d", up, i), Body: []byte(parts[i])}))
	}
	sum := sha1.Sum(want)
	move := func(total int, checksum string) req {
		return alice(req{Method: "MOVE", Path: up + "/.file", Hdr: map[string]string{
			"Destination": dst, "OC-Total-Length": fmt.Sprint(total), "OC-Checksum": checksum}})
	}
	d.want(400, move(len(want), "SHA1:"+strings.Repeat("0", 40)))
	d.want(400, move(len(want)+1, "SHA1:"+hex.EncodeToString(sum[:])))
	if _, err := os.Stat(filepath.Join(d.Root, "docs", "hand.txt")); err == nil {
		t.Fatal("a refused assembly left a file")
	}
	d.want(201, move(len(want), "SHA1:"+hex.EncodeToString(sum[:])))
	if got, _ := os.ReadFile(filepath.Join(d.Root, "docs", "hand.txt")); !bytes.Equal(got, want) {
		t.Fatalf("hand.txt = %q, want %q", got, want)
	}
	d.want(404, alice(req{Method: "PROPFIND", Path: up + "/", Hdr: map[string]string{"Depth": "0"}}))

	// The same path is a view of the user's files, and only theirs.
	_, b := d.want(200, alice(req{Method: "GET", Path: "/remote.php/dav/files/alice/docs/hand.txt"}))
	if !bytes.Equal(b, want) {
		t.Fatalf("GET through the layout: %q", b)
	}
	_, b = d.want(207, alice(req{Method: "PROPFIND", Path: "/remote.php/dav/files/alice/docs/", Hdr: map[string]string{"Depth": "1"}}))
	if !strings.Contains(string(b), "<D:href>/remote.php/dav/files/alice/docs/hand.txt</D:href>") {
		t.Errorf("hrefs are not under the layout:\n%s", b)
	}
	d.want(403, bob(req{Method: "PROPFIND", Path: "/remote.php/dav/files/alice/", Hdr: map[string]string{"Depth": "0"}}))
	d.want(403, bob(req{Method: "MKCOL", Path: "/remote.php/dav/uploads/alice/sneaky"}))
	d.want(207, bob(req{Method: "PROPFIND", Path: "/remote.php/dav/files/bob/", Hdr: map[string]string{"Depth": "0"}}))
	// bob's view is his scope: an upload lands there, and a Destination among alice's files is
	// refused (502, another URL space: RFC 4918 §9.9.4).
	d.want(201, bob(req{Method: "MKCOL", Path: "/remote.php/dav/uploads/bob/u"}))
	d.want(201, bob(req{Method: "PUT", Path: "/remote.php/dav/uploads/bob/u/1", Body: []byte("bob's")}))
	d.want(502, bob(req{Method: "MOVE", Path: "/remote.php/dav/uploads/bob/u/.file", Hdr: map[string]string{"Destination": dst}}))
	d.want(201, bob(req{Method: "MOVE", Path: "/remote.php/dav/uploads/bob/u/.file", Hdr: map[string]string{"Destination": d.URL + "remote.php/dav/files/bob/b.txt"}}))
	if got, _ := os.ReadFile(filepath.Join(d.Root, "bob", "b.txt")); string(got) != "bob's" {
		t.Fatalf("bob/b.txt = %q", got)
	}
	// Overwrite: F keeps an existing file (412, RFC 4918 §10.6).
	d.want(201, bob(req{Method: "MKCOL", Path: "/remote.php/dav/uploads/bob/v"}))
	d.want(201, bob(req{Method: "PUT", Path: "/remote.php/dav/uploads/bob/v/1", Body: []byte("new")}))
	d.want(412, bob(req{Method: "MOVE", Path: "/remote.php/dav/uploads/bob/v/.file", Hdr: map[string]string{"Destination": d.URL + "remote.php/dav/files/bob/b.txt", "Overwrite": "F"}}))
	if got, _ := os.ReadFile(filepath.Join(d.Root, "bob", "b.txt")); string(got) != "bob's" {
		t.Fatalf("Overwrite: F replaced bob/b.txt: %q", got)
	}
}
