//go:build e2e

package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shareForm is the page's request to create a link.
func shareForm(d *davd, user, pass, path string, form url.Values) string {
	d.t.Helper()
	h, body := d.want(201, req{Method: "POST", Path: path, User: user, Pass: pass, Body: []byte(form.Encode()), Hdr: map[string]string{
		"X-Requested-With": "davd-webui", "Content-Type": "application/x-www-form-urlencoded"}})
	var info struct{ URL string }
	if err := json.Unmarshal(body, &info); err != nil || info.URL != h.Get("Location") {
		d.t.Fatalf("share %s: %s (Location %q)", path, body, h.Get("Location"))
	}
	return info.URL
}

// TestShareLinksBinary is the share-link bypass suite against the binary (issue 18 item 1):
// plain HTTP (curl) and WebDAV (rclone) clients through read links, traversal in every encoding,
// writes and Destinations through a read link, an upload link that neither shows nor replaces,
// a password, and a link that dies with its creator's access on SIGHUP and survives a restart.
func TestShareLinksBinary(t *testing.T) {
	pw := hashOf(t, hostilePW, 4)
	users := func(aliceScope string) string {
		return usersConfig(pw, `alice|scope = "`+aliceScope+`"`+`;rules = [{ path = "/docs/secret", permissions = "none" }]`, "admin") +
			"\n[login_throttle]\nmax_failures = 1000\n"
	}
	d := startDavd(t, davdOpts{Config: users("/home/alice")})
	cfgPath := filepath.Join(filepath.Dir(d.Root), "davd.toml")
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(orig), "\n[[users]]")
	hup := func(cfg string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(head+cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(d.Log)
		n := strings.Count(string(b), "configuration reloaded")
		syscall.Kill(d.pid, syscall.SIGHUP)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if b, _ := os.ReadFile(d.Log); strings.Count(string(b), "configuration reloaded") > n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no reload:\n%s", d.logTail())
			}
		}
	}
	alice := func(method, path string, body string, hdr map[string]string) req {
		return req{Method: method, Path: path, User: "alice", Pass: hostilePW, Body: []byte(body), Hdr: hdr}
	}
	for _, p := range []string{"/home/alice/docs", "/home/alice/docs/secret", "/home/alice/docs/sub", "/home/alice/drop", "/home/alice/private"} {
		d.want(201, req{Method: "MKCOL", Path: p, User: "admin", Pass: hostilePW})
	}
	d.want(201, alice("PUT", "/docs/report.txt", "the report", nil))
	d.want(201, alice("PUT", "/docs/sub/deep.txt", "deep", nil))
	d.want(201, req{Method: "PUT", Path: "/home/alice/docs/secret/s.txt", User: "admin", Pass: hostilePW, Body: []byte("admin's secret")})
	d.want(201, alice("PUT", "/private/p.txt", "private", nil))
	if err := os.Symlink("../private", filepath.Join(d.Root, "home", "alice", "docs", "tunnel")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(d.Outside, filepath.Join(d.Root, "home", "alice", "docs", "out")); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, d.Outside, filepath.Join(d.Root, "home", "alice", "private"), filepath.Join(d.Root, "home", "alice", "docs", "secret"))

	link := shareForm(d, "alice", hostilePW, "/docs", url.Values{"share": {"read"}})
	linkURL := "http://" + d.Addr + link
	curl := tool(t, "curl", "curl")

	t.Run("curl and rclone read through the link", func(t *testing.T) {
		out, err := runCmd(t, time.Minute, "", nil, nil, curl, "-sS", "-f", linkURL+"report.txt")
		if err != nil || out != "the report" {
			t.Fatalf("curl: %v %q", err, out)
		}
		ls := rcloneRun(t, "lsf", "-R", ":webdav,url='"+linkURL+"':")
		for _, want := range []string{"report.txt", "sub/", "sub/deep.txt"} {
			if !strings.Contains(ls, want+"\n") {
				t.Errorf("rclone lsf through the link lacks %s:\n%s", want, ls)
			}
		}
		for _, never := range []string{"secret", "tunnel", "out", "private"} {
			if strings.Contains(ls, never) {
				t.Errorf("rclone lsf through the link shows %s:\n%s", never, ls)
			}
		}
		dst := t.TempDir()
		rcloneRun(t, "copy", ":webdav,url='"+linkURL+"':", dst)
		if b, _ := os.ReadFile(filepath.Join(dst, "sub", "deep.txt")); string(b) != "deep" {
			t.Errorf("rclone copy through the link: deep.txt %q", b)
		}
		if _, err := rcloneTry(t, "copyto", filepath.Join(dst, "report.txt"), ":webdav,url='"+linkURL+"':planted.txt"); err == nil {
			t.Error("rclone wrote through a read link")
		}
	})

	t.Run("bypass attempts", func(t *testing.T) {
		for _, c := range []hostileCase{
			{name: "dot-dot", method: "GET", target: link + "../private/p.txt", want: []int{400}},
			{name: "encoded dot-dot", method: "GET", target: link + "%2e%2e/private/p.txt", want: []int{400}},
			{name: "encoded slash", method: "GET", target: link + "..%2f..%2fprivate/p.txt", want: []int{400}},
			{name: "token with encoded slash", method: "GET", target: strings.TrimSuffix(link, "/") + "%2f..%2fprivate", want: []int{400}},
			{name: "symbolic link out of the share", method: "GET", target: link + "tunnel/p.txt", want: []int{403}},
			{name: "symbolic link out of the root", method: "GET", target: link + "out/private.txt", want: []int{403, 404}},
			{name: "creator's rule", method: "GET", target: link + "secret/s.txt", want: []int{403}},
			{name: "absolute URI", method: "GET", target: "http://{host}" + link + "../private/p.txt", want: []int{400}},
			{name: "PUT through read link", method: "PUT", target: link + "planted.txt", body: "x", want: []int{403}},
			{name: "DELETE through read link", method: "DELETE", target: link + "report.txt", want: []int{403}},
			{name: "MOVE out", method: "MOVE", target: link + "report.txt", hdr: []string{"Destination: http://{host}/home/alice/stolen.txt"}, want: []int{403, 502}},
			{name: "COPY out", method: "COPY", target: link + "report.txt", hdr: []string{"Destination: http://{host}/home/alice/private/copy.txt"}, want: []int{403, 502}},
			{name: "COPY inside", method: "COPY", target: link + "report.txt", hdr: []string{"Destination: http://{host}" + link + "copy.txt"}, want: []int{403}},
			{name: "LOCK", method: "LOCK", target: link + "report.txt", body: exclusiveLock, want: []int{403}},
			{name: "PROPPATCH", method: "PROPPATCH", target: link + "report.txt", body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`, want: []int{403}},
			{name: "revoke without credentials", method: "DELETE", target: link, hdr: []string{"X-Requested-With: davd-webui"}, want: []int{401}},
			{name: "unknown token", method: "GET", target: "/.davd-share/" + strings.Repeat("A", 43) + "/report.txt", want: []int{404}},
			{name: "list without credentials", method: "GET", target: "/.davd-share/", want: []int{401}},
		} {
			if code, body := c.send(t, d.Addr); !containsInt(c.want, code) {
				t.Errorf("%s: %s %s: %d, want %v\n%s", c.name, c.method, c.target, code, c.want, body)
			}
		}
		if after := treeHash(t, d.Outside, filepath.Join(d.Root, "home", "alice", "private"), filepath.Join(d.Root, "home", "alice", "docs", "secret")); after != before {
			t.Error("the trees outside the link changed")
		}
		for _, p := range []string{"home/alice/docs/planted.txt", "home/alice/stolen.txt", "home/alice/private/copy.txt", "home/alice/docs/copy.txt"} {
			if _, err := os.Lstat(filepath.Join(d.Root, p)); err == nil {
				t.Errorf("%s was created through a read link", p)
			}
		}
	})

	t.Run("upload link", func(t *testing.T) {
		drop := "http://" + d.Addr + shareForm(d, "alice", hostilePW, "/drop", url.Values{"share": {"upload"}, "expires": {"3600"}})
		src := filepath.Join(t.TempDir(), "scan.pdf")
		os.WriteFile(src, []byte("scanned"), 0o644)
		if out, err := runCmd(t, time.Minute, "", nil, nil, curl, "-sS", "-f", "-T", src, drop); err != nil {
			t.Fatalf("curl -T to the upload link: %v %s", err, out)
		}
		if out, _ := runCmd(t, time.Minute, "", nil, nil, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", src, drop); out != "412" {
			t.Errorf("second upload of the same name: %s, want 412", out)
		}
		if out, _ := runCmd(t, time.Minute, "", nil, nil, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", drop+"scan.pdf"); out != "403" {
			t.Errorf("GET through the upload link: %s, want 403", out)
		}
		if b, _ := os.ReadFile(filepath.Join(d.Root, "home", "alice", "drop", "scan.pdf")); string(b) != "scanned" {
			t.Errorf("uploaded file: %q", b)
		}
	})

	t.Run("password", func(t *testing.T) {
		p := "http://" + d.Addr + shareForm(d, "alice", hostilePW, "/docs/report.txt", url.Values{"share": {"read"}, "password": {"correct horse"}})
		if out, _ := runCmd(t, time.Minute, "", nil, nil, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", p); out != "401" {
			t.Errorf("no password: %s", out)
		}
		if out, _ := runCmd(t, time.Minute, "", nil, nil, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u", ":wrong", p); out != "401" {
			t.Errorf("wrong password: %s", out)
		}
		if out, err := runCmd(t, time.Minute, "", nil, nil, curl, "-sS", "-f", "-u", ":correct horse", p); err != nil || out != "the report" {
			t.Errorf("right password: %v %q", err, out)
		}
	})

	t.Run("the link dies with its creator's access", func(t *testing.T) {
		get := func() int { code, _, _ := d.do(req{Method: "GET", Path: link + "report.txt"}); return code }
		hup(usersConfig(pw, "admin") + "\n[login_throttle]\nmax_failures = 1000\n") // alice removed
		if c := get(); c != 404 {
			t.Errorf("alice removed: %d, want 404", c)
		}
		hup(users("/home/alice/private")) // alice's scope no longer holds the folder
		if c := get(); c != 404 {
			t.Errorf("alice's scope narrowed: %d, want 404", c)
		}
		hup(users("/home/alice"))
		if c := get(); c != 200 {
			t.Errorf("alice's access back: %d, want 200", c)
		}
		d.stop()
		if err := d.start([]string{"-config", cfgPath, "-listen", d.Addr}); err != nil {
			t.Fatal(err)
		}
		if c := get(); c != 200 {
			t.Errorf("after a restart: %d, want 200", c)
		}
		d.want(204, alice("DELETE", link, "", map[string]string{"X-Requested-With": "davd-webui"}))
		if c := get(); c != 404 {
			t.Errorf("revoked: %d, want 404", c)
		}
	})
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// TestClusterShareLinks: in cluster mode a link lives in etcd, so one created on one node is
// served by another, and revoked on one it is dead on both at once.
func TestClusterShareLinks(t *testing.T) {
	pw := hashOf(t, hostilePW, 4)
	node := clusterNodes(t, "davd-share", "", usersConfig(pw, "alice"))
	a, b := node(), node()
	a.want(201, req{Method: "MKCOL", Path: "/d", User: "alice", Pass: hostilePW})
	a.want(201, req{Method: "PUT", Path: "/d/f.txt", User: "alice", Pass: hostilePW, Body: []byte("in S3")})
	link := shareForm(a, "alice", hostilePW, "/d", url.Values{"share": {"read"}})
	if _, body := b.want(200, req{Method: "GET", Path: link + "f.txt"}); string(body) != "in S3" {
		t.Fatalf("node b through a's link: %q", body)
	}
	b.want(207, req{Method: "PROPFIND", Path: link, Hdr: map[string]string{"Depth": "1"}})
	b.want(403, req{Method: "PUT", Path: link + "g.txt", Body: []byte("x")})
	_, list := b.want(200, req{Method: "GET", Path: "/.davd-share/", User: "alice", Pass: hostilePW})
	if !strings.Contains(string(list), link) {
		t.Errorf("node b's list lacks the link: %s", list)
	}
	b.want(204, req{Method: "DELETE", Path: link, User: "alice", Pass: hostilePW, Hdr: map[string]string{"X-Requested-With": "davd-webui"}})
	a.want(404, req{Method: "GET", Path: link + "f.txt"})
}
