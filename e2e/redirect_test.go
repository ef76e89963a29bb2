//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mkRedirectBody(target string) string {
	return `<?xml version="1.0" encoding="utf-8"?><D:mkredirectref xmlns:D="DAV:"><D:reftarget><D:href>` + target +
		`</D:href></D:reftarget></D:mkredirectref>`
}

// TestRedirectRefCurl: RFC 4437 redirect references through the davd binary with curl. A
// reference made with MKREDIRECTREF is followed by curl -L to its target's content, answers 302
// with Location without -L, is listed in a PROPFIND as a 302 member with a DAV:location, and
// is still there after a restart (it lives in the state store).
func TestRedirectRefCurl(t *testing.T) {
	curl := tool(t, "curl", "curl")
	s := startServer(t, serverOpts{})
	dir := t.TempDir()
	mustStatus(t, 201, "PUT", s.url("target.txt"), nil, []byte("the target\n"))
	body := filepath.Join(dir, "mk.xml")
	if err := os.WriteFile(body, []byte(mkRedirectBody("/target.txt")), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := runCmd(t, 30*time.Second, dir, nil, nil, curl, append([]string{"-sS"}, args...)...)
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return out
	}
	if out := run("-o", "/dev/null", "-w", "%{http_code}", "-X", "MKREDIRECTREF", "-H", "Content-Type: application/xml", "--data-binary", "@"+body, s.url("ref")); out != "201" {
		t.Fatalf("MKREDIRECTREF: %s", out)
	}
	check := func(when string) {
		t.Helper()
		if out := run("-L", s.url("ref")); out != "the target\n" {
			t.Errorf("%s: curl -L of the reference: %q", when, out)
		}
		out := run("-o", "/dev/null", "-D", "-", s.url("ref"))
		if !strings.Contains(out, " 302") || !strings.Contains(out, "Location: /target.txt") {
			t.Errorf("%s: GET without -L:\n%s", when, out)
		}
		out = run("-X", "PROPFIND", "-H", "Depth: 1", s.url(""))
		if !strings.Contains(out, "<D:href>/ref</D:href><D:status>HTTP/1.1 302 Found</D:status><D:location><D:href>/target.txt</D:href></D:location>") {
			t.Errorf("%s: PROPFIND Depth 1 does not list the reference with its location:\n%s", when, out)
		}
		out = run("-X", "PROPFIND", "-H", "Depth: 0", "-H", "Apply-To-Redirect-Ref: T", s.url("ref"))
		if !strings.Contains(out, "<D:redirectref/>") || !strings.Contains(out, "<D:reftarget><D:href>/target.txt</D:href></D:reftarget>") {
			t.Errorf("%s: PROPFIND of the reference itself:\n%s", when, out)
		}
	}
	check("before the restart")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s.restart()
	check("after the restart")
}

// TestClusterRedirectRefs: in cluster mode a redirect reference made through node a is a
// redirect on node b at once (content in S3, the property in etcd), and an UPDATEREDIRECTREF
// through b is what a sees next.
func TestClusterRedirectRefs(t *testing.T) {
	node := clusterNodes(t, "davd-redirect", "", "")
	a, b := node(), node()
	a.want(201, req{Method: "PUT", Path: "/one.txt", Body: []byte("one")})
	a.want(201, req{Method: "PUT", Path: "/two.txt", Body: []byte("two")})
	a.want(201, req{Method: "MKREDIRECTREF", Path: "/ref", Body: []byte(mkRedirectBody("/one.txt"))})
	// The nodes' client does not follow redirects: follow is what a client would do.
	follow := func(d *davd, path, want string) {
		t.Helper()
		h, _ := d.want(302, req{Method: "GET", Path: path})
		if _, got := d.want(200, req{Method: "GET", Path: h.Get("Location")}); string(got) != want {
			t.Errorf("GET %s on %s, then its Location %q: %q, want %q", path, d.URL, h.Get("Location"), got, want)
		}
	}
	follow(b, "/ref", "one")
	_, ms := b.want(207, req{Method: "PROPFIND", Path: "/", Hdr: map[string]string{"Depth": "1"}})
	if !strings.Contains(string(ms), "<D:location><D:href>/one.txt</D:href></D:location>") {
		t.Errorf("node b's listing:\n%s", ms)
	}
	b.want(200, req{Method: "UPDATEREDIRECTREF", Path: "/ref", Body: []byte(`<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/two.txt</D:href></D:reftarget></D:updateredirectref>`)})
	follow(a, "/ref", "two")
	a.want(201, req{Method: "COPY", Path: "/ref", Hdr: map[string]string{"Destination": a.URL + "copy"}})
	follow(b, "/copy", "two")
	b.want(201, req{Method: "MOVE", Path: "/copy", Hdr: map[string]string{"Destination": b.URL + "moved"}})
	follow(a, "/moved", "two")
}
