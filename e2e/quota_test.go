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

// TestClusterQuota: in cluster mode the quota's figures are in etcd, so two nodes count
// against one quota: rclone about through node b sees what was written through node a, node
// b refuses (507, quota-not-exceeded) an upload that would pass the quota, and a DELETE
// through node a gives node b the room back.
func TestClusterQuota(t *testing.T) {
	node := clusterNodes(t, "davd-quota", "", usersConfig(hashOf(t, "pw", 4), "alice|quota_bytes = \"10M\""))
	a, b := node(), node()
	alice := func(r req) req { r.User, r.Pass = "alice", "pw"; return r }
	pass := strings.TrimSpace(rcloneRun(t, "obscure", "pw"))
	about := func(d *davd) (used, free int64) {
		t.Helper()
		var v struct{ Used, Free *int64 }
		out := rcloneRun(t, "about", "--json", ":webdav,url='"+d.URL+"',vendor=other,user=alice,pass='"+pass+"':")
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Used == nil || v.Free == nil {
			t.Fatalf("rclone about: %v\n%s", err, out)
		}
		return *v.Used, *v.Free
	}
	body := make([]byte, 6_000_000)
	rand.Read(body)
	a.want(201, alice(req{Method: "PUT", Path: "/one.bin", Body: body}))
	if used, free := about(b); used != 6_000_000 || free != 10<<20-6_000_000 {
		t.Fatalf("node b after 6 MB through node a: used %d, free %d", used, free)
	}
	_, msg := b.want(507, alice(req{Method: "PUT", Path: "/two.bin", Body: body}))
	if !strings.Contains(string(msg), "quota-not-exceeded") {
		t.Errorf("node b's 507 lacks quota-not-exceeded:\n%s", msg)
	}
	a.want(404, alice(req{Method: "GET", Path: "/two.bin"}))
	a.want(204, alice(req{Method: "DELETE", Path: "/one.bin"}))
	b.want(201, alice(req{Method: "PUT", Path: "/two.bin", Body: body}))
	if used, _ := about(a); used != 6_000_000 {
		t.Errorf("node a after the swap: used %d, want 6000000", used)
	}
}
