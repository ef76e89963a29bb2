package server

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestQuotas: issue 15 item 4 through the whole stack: a global quota_bytes and a user's own,
// written with units, RFC 4331's properties answered from the accounting, a write past either
// refused with 507 and DAV:quota-not-exceeded, leaving nothing behind.
func TestQuotas(t *testing.T) {
	srv, root := testServer(t, "quota_bytes = \"64K\"\n"+users(
		"alice scope = \"/home/alice\";quota_bytes = \"10K\"",
		"admin",
	))
	alice := client{t, srv.URL, "alice", "secret"}
	admin := client{t, srv.URL, "admin", "secret"}
	quota := func(c client) (avail, used string) {
		t.Helper()
		ms := c.want(207, "PROPFIND", "/", map[string]string{"Depth": "0"},
			`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>`)
		a := regexp.MustCompile(`<D:quota-available-bytes>(\d+)<`).FindStringSubmatch(ms)
		u := regexp.MustCompile(`<D:quota-used-bytes>(\d+)<`).FindStringSubmatch(ms)
		if a == nil || u == nil {
			t.Fatalf("no quota properties:\n%s", ms)
		}
		return a[1], u[1]
	}
	alice.want(201, "PUT", "/a", nil, strings.Repeat("a", 6000))
	if a, u := quota(alice); a != "4240" || u != "6000" {
		t.Errorf("alice's quota: available %s, used %s; want 4240, 6000", a, u)
	}
	resp, body := alice.do("PUT", "/b", nil, strings.Repeat("b", 5000))
	if resp.StatusCode != 507 || !strings.Contains(body, "<D:quota-not-exceeded/>") {
		t.Fatalf("PUT past alice's quota: %d %q; want 507 with DAV:quota-not-exceeded", resp.StatusCode, body)
	}
	if _, err := os.Stat(filepath.Join(root, "home", "alice", "b")); !os.IsNotExist(err) {
		t.Errorf("the refused PUT left %v behind", err)
	}
	// The whole tree's quota counts alice's bytes and bounds the admin.
	if a, u := quota(admin); a != "59536" || u != "6000" {
		t.Errorf("the tree's quota: available %s, used %s; want 59536, 6000", a, u)
	}
	resp, body = admin.do("PUT", "/big", nil, strings.Repeat("x", 60_000))
	if resp.StatusCode != 507 || !strings.Contains(body, "<D:quota-not-exceeded/>") {
		t.Fatalf("PUT past the tree's quota: %d %q", resp.StatusCode, body)
	}
	// The admin writing into alice's directory uses her quota too.
	resp, _ = admin.do("PUT", "/home/alice/c", nil, strings.Repeat("c", 5000))
	if resp.StatusCode != 507 {
		t.Errorf("the admin's PUT into alice's full scope: %d, want 507", resp.StatusCode)
	}
	admin.want(201, "PUT", "/home/alice/c", nil, strings.Repeat("c", 4000))
	if a, u := quota(alice); a != "240" || u != "10000" {
		t.Errorf("alice's quota after the admin's write: available %s, used %s; want 240, 10000", a, u)
	}
}

// TestQuotaConfig: the keys' syntax and its refusals.
func TestQuotaConfig(t *testing.T) {
	dir := t.TempDir()
	c := Defaults()
	doc := base(dir) + "quota_bytes = \"1G\"\n" + users("alice quota_bytes = 2048", "bob quota_bytes = \"3K\"")
	if err := Parse([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if c.QuotaBytes != 1<<30 || c.Users[0].QuotaBytes != 2048 || c.Users[1].QuotaBytes != 3072 {
		t.Errorf("decoded quota_bytes %d, %d, %d; want %d, 2048, 3072", c.QuotaBytes, c.Users[0].QuotaBytes, c.Users[1].QuotaBytes, 1<<30)
	}
	for _, tc := range []struct{ doc, want string }{
		{"quota_bytes = \"lots\"\n", "quota_bytes"},
		{"quota_bytes = -1\n", "quota_bytes: must not be negative"},
		{users("alice quota_bytes = -5"), "quota_bytes: must not be negative"},
	} {
		c := Defaults()
		err := Parse([]byte(base(dir)+tc.doc), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.doc, err, tc.want)
		}
	}
	// Allowed in cluster mode: the figures are in etcd, shared by every node.
	c = Defaults()
	if err := Parse([]byte(base(dir)+"quota_bytes = 100\n[cluster]\netcd = [\"http://127.0.0.1:2379\"]\ns3_endpoint = \"http://127.0.0.1:9000\"\ns3_bucket = \"b\"\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("quota_bytes in cluster mode: %v", err)
	}
}

// TestQuotaNextcloudUploads: unfinished chunked uploads count against the owner's quota while
// they exist (issue 15 item 2), and give the bytes back when they are deleted.
func TestQuotaNextcloudUploads(t *testing.T) {
	srv, _ := testServer(t, "nextcloud_layout = true\n"+users("alice scope = \"/home/alice\";quota_bytes = 10000"))
	alice := client{t, srv.URL, "alice", "secret"}
	up := "/remote.php/dav/uploads/alice/u1"
	alice.want(201, "MKCOL", up, nil, "")
	alice.want(201, "PUT", up+"/00001", nil, strings.Repeat("1", 6000))
	resp, body := alice.do("PUT", "/f", nil, strings.Repeat("f", 5000))
	if resp.StatusCode != 507 || !strings.Contains(body, "<D:quota-not-exceeded/>") {
		t.Fatalf("PUT while a chunk holds 6000 of 10000 bytes: %d %q; want 507", resp.StatusCode, body)
	}
	resp, _ = alice.do("PUT", up+"/00002", nil, strings.Repeat("2", 5000))
	if resp.StatusCode != 507 {
		t.Fatalf("a chunk past the quota: %d, want 507", resp.StatusCode)
	}
	alice.want(204, "DELETE", up, nil, "")
	alice.want(201, "PUT", "/f", nil, strings.Repeat("f", 5000))
}

// TestQuotaNextcloudAssembly: a chunked upload of most of the quota assembles: its chunks are
// counted once, not again with the file they become.
func TestQuotaNextcloudAssembly(t *testing.T) {
	srv, _ := testServer(t, "nextcloud_layout = true\n"+users("alice scope = \"/home/alice\";quota_bytes = 10000"))
	alice := client{t, srv.URL, "alice", "secret"}
	up := "/remote.php/dav/uploads/alice/u2"
	alice.want(201, "MKCOL", up, nil, "")
	alice.want(201, "PUT", up+"/00001", nil, strings.Repeat("1", 4000))
	alice.want(201, "PUT", up+"/00002", nil, strings.Repeat("2", 4000))
	alice.want(201, "MOVE", up+"/.file", map[string]string{"Destination": srv.URL + "/remote.php/dav/files/alice/big", "OC-Total-Length": "8000"}, "")
	if b := alice.want(200, "GET", "/big", nil, ""); len(b) != 8000 {
		t.Fatalf("the assembled file has %d bytes, want 8000", len(b))
	}
	// The chunks are gone and so is their count: 2,000 bytes are left.
	resp, _ := alice.do("PUT", "/more", nil, strings.Repeat("m", 2500))
	if resp.StatusCode != 507 {
		t.Fatalf("PUT of 2500 with 2000 left: %d, want 507", resp.StatusCode)
	}
	alice.want(201, "PUT", "/more", nil, strings.Repeat("m", 2000))
}

// TestQuotaReload: a reload sets, changes and lifts quotas, keeping the accounting's figures.
func TestQuotaReload(t *testing.T) {
	dir := t.TempDir()
	c := Defaults()
	c.AccessLog, c.NoFsync = false, true
	if err := Parse([]byte(base(dir)), &c); err != nil {
		t.Fatal(err)
	}
	in, err := Build(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	put := func(p string, n int) int {
		r := httptest.NewRequest("PUT", p, strings.NewReader(strings.Repeat("x", n)))
		w := httptest.NewRecorder()
		in.Handler.ServeHTTP(w, r)
		return w.Code
	}
	if code := put("/a", 6000); code != 201 {
		t.Fatalf("PUT without a quota: %d", code)
	}
	for _, step := range []struct {
		quota int64
		p     string
		n     int
		want  int
	}{
		{10_000, "/b", 5000, 507}, // the 6,000 bytes already there count
		{10_000, "/b", 4000, 201},
		{20_000, "/c", 9000, 201},
		{0, "/d", 50_000, 201},
	} {
		next := c
		next.QuotaBytes = step.quota
		if _, err := in.Reload(next); err != nil {
			t.Fatal(err)
		}
		if code := put(step.p, step.n); code != step.want {
			t.Fatalf("quota %d: PUT %s of %d bytes = %d, want %d", step.quota, step.p, step.n, code, step.want)
		}
	}
}
