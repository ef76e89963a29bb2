//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuotaRclone: issue 15 item 4 with a real client. rclone's `about` reads RFC 4331's
// quota-available-bytes and quota-used-bytes from the accounting of alice's quota; a copy
// that would pass it fails with the server's 507 and leaves nothing on disk, the files that
// fit arrive, and a DELETE gives the bytes back.
func TestQuotaRclone(t *testing.T) {
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{Config: usersConfig(h, "alice|scope = \"/alice\";quota_bytes = \"10M\"")})
	if err := os.MkdirAll(filepath.Join(d.Root, "alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	pass := strings.TrimSpace(rcloneRun(t, "obscure", "pw"))
	remote := ":webdav,url='" + d.URL + "',vendor=other,user=alice,pass='" + pass + "':"
	about := func() (used, free int64) {
		t.Helper()
		var a struct {
			Used, Free *int64
		}
		out := rcloneRun(t, "about", "--json", remote)
		if err := json.Unmarshal([]byte(out), &a); err != nil || a.Used == nil || a.Free == nil {
			t.Fatalf("rclone about: %v\n%s", err, out)
		}
		return *a.Used, *a.Free
	}
	if used, free := about(); used != 0 || free != 10<<20 {
		t.Fatalf("rclone about on an empty scope: used %d, free %d; want 0, %d", used, free, 10<<20)
	}
	src := t.TempDir()
	for _, name := range []string{"one.bin", "two.bin"} {
		b := make([]byte, 6_000_000)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rcloneRun(t, "copyto", filepath.Join(src, "one.bin"), remote+"one.bin")
	if used, free := about(); used != 6_000_000 || free != 10<<20-6_000_000 {
		t.Fatalf("after 6 MB: used %d, free %d", used, free)
	}
	out, err := rcloneTry(t, "copyto", filepath.Join(src, "two.bin"), remote+"two.bin")
	if err == nil {
		t.Fatalf("rclone copied past the quota:\n%s", out)
	}
	if !strings.Contains(out, "507") && !strings.Contains(out, "Insufficient Storage") {
		t.Errorf("rclone's error does not name the 507:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(d.Root, "alice", "two.bin")); !os.IsNotExist(err) {
		t.Fatalf("the refused upload left a file behind: %v", err)
	}
	if used, _ := about(); used != 6_000_000 {
		t.Fatalf("after the refused upload: used %d, want 6000000", used)
	}
	rcloneRun(t, "deletefile", remote+"one.bin")
	rcloneRun(t, "copyto", filepath.Join(src, "two.bin"), remote+"two.bin")
	if used, _ := about(); used != 6_000_000 {
		t.Fatalf("after the swap: used %d, want 6000000", used)
	}
}
