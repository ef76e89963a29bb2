//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/internal/testcert"
)

// hashOf runs `davd hash-password` with the password on stdin, as an operator would.
func hashOf(t *testing.T, password string, cost int) string {
	t.Helper()
	args := []string{"hash-password"}
	if cost != 0 { // 0: the default cost (hash-password refuses costs outside 4 to 16)
		args = append(args, "-cost", fmt.Sprint(cost))
	}
	out, err := runCmd(t, time.Minute, "", nil, strings.NewReader(password+"\n"), davdBin, args...)
	if err != nil {
		t.Fatalf("hash-password: %v\n%s", err, out)
	}
	h := strings.TrimSpace(out)
	if !strings.HasPrefix(h, "$2a$") {
		t.Fatalf("hash-password printed %q", h)
	}
	return h
}

// usersConfig returns [[users]] entries; each spec is "name" or "name|extra toml lines".
func usersConfig(hash string, specs ...string) string {
	var b strings.Builder
	for _, s := range specs {
		name, extra, _ := strings.Cut(s, "|")
		fmt.Fprintf(&b, "\n[[users]]\nname = %q\npassword = %q\n%s\n", name, hash, strings.ReplaceAll(extra, ";", "\n"))
	}
	return b.String()
}

const exclusiveLock = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>e2e</D:owner></D:lockinfo>`

// TestAuthLockOwnership: a lock belongs to the principal that created it; another user who
// learns the token can neither write with it, nor refresh it, nor unlock it.
func TestAuthLockOwnership(t *testing.T) {
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{Config: usersConfig(h, "carol", "dave", "erin|scope = \"/team\"")})
	carol := func(r req) req { r.User, r.Pass = "carol", "pw"; return r }
	dave := func(r req) req { r.User, r.Pass = "dave", "pw"; return r }
	erin := func(r req) req { r.User, r.Pass = "erin", "pw"; return r }

	d.want(201, carol(req{Method: "PUT", Path: "/team/doc.txt", Body: []byte("v1")}))
	hdr, _ := d.want(200, carol(req{Method: "LOCK", Path: "/team/doc.txt", Hdr: map[string]string{"Timeout": "Second-600"}, Body: []byte(exclusiveLock)}))
	tok := strings.Trim(hdr.Get("Lock-Token"), "<>")
	if tok == "" {
		t.Fatal("no Lock-Token")
	}
	withTok := map[string]string{"If": "(<" + tok + ">)"}
	before := treeHash(t, d.Root)
	d.want(423, dave(req{Method: "PUT", Path: "/team/doc.txt", Hdr: withTok, Body: []byte("dave")}))
	d.want(423, dave(req{Method: "DELETE", Path: "/team/doc.txt", Hdr: withTok}))
	d.want(423, dave(req{Method: "MOVE", Path: "/team/doc.txt", Hdr: map[string]string{"If": withTok["If"], "Destination": d.URL + "moved.txt"}}))
	d.want(403, dave(req{Method: "UNLOCK", Path: "/team/doc.txt", Hdr: map[string]string{"Lock-Token": "<" + tok + ">"}}))
	if st, _, _ := d.do(dave(req{Method: "LOCK", Path: "/team/doc.txt", Hdr: withTok})); st < 400 {
		t.Errorf("dave refreshed carol's lock: %d", st)
	}
	// erin's "/" is /team: the same lock holds for her, at her /doc.txt.
	d.want(423, erin(req{Method: "PUT", Path: "/doc.txt", Hdr: withTok, Body: []byte("erin")}))
	d.want(403, erin(req{Method: "UNLOCK", Path: "/doc.txt", Hdr: map[string]string{"Lock-Token": "<" + tok + ">"}}))
	if after := treeHash(t, d.Root); after != before {
		t.Fatal("another user's request changed the tree")
	}
	d.want(204, carol(req{Method: "PUT", Path: "/team/doc.txt", Hdr: withTok, Body: []byte("v2")}))
	d.want(204, carol(req{Method: "UNLOCK", Path: "/team/doc.txt", Hdr: map[string]string{"Lock-Token": "<" + tok + ">"}}))
	d.want(204, dave(req{Method: "PUT", Path: "/team/doc.txt", Body: []byte("v3")}))
}

// TestAuthOptions runs both settings of options_unauthenticated (the Windows Mini-Redirector
// gives up when its first OPTIONS gets a 401).
func TestAuthOptions(t *testing.T) {
	h := hashOf(t, "pw", 4)
	for _, tc := range []struct {
		setting string
		want    int
	}{{"true", 200}, {"false", 401}} {
		t.Run("options_unauthenticated="+tc.setting, func(t *testing.T) {
			d := startDavd(t, davdOpts{Config: "options_unauthenticated = " + tc.setting + "\n" + usersConfig(h, "u")})
			st, hdr, _ := d.do(req{Method: "OPTIONS", Path: "/"})
			if st != tc.want {
				t.Fatalf("OPTIONS: %d, want %d", st, tc.want)
			}
			if st == 401 && hdr.Get("WWW-Authenticate") != `Basic realm="davd", charset="UTF-8"` {
				t.Errorf("WWW-Authenticate = %q", hdr.Get("WWW-Authenticate"))
			}
			if st == 200 && !strings.Contains(hdr.Get("DAV"), "2") {
				t.Errorf("DAV = %q", hdr.Get("DAV"))
			}
			for _, m := range []string{"GET", "PROPFIND", "PUT", "DELETE", "LOCK"} {
				if st, hdr, _ := d.do(req{Method: m, Path: "/x"}); st != 401 || hdr.Get("WWW-Authenticate") == "" {
					t.Errorf("%s without credentials: %d", m, st)
				}
			}
			d.want(207, req{Method: "PROPFIND", Path: "/", User: `WORKGROUP\u`, Pass: "pw", Hdr: map[string]string{"Depth": "0"}})
			d.want(401, req{Method: "PROPFIND", Path: "/", User: `WORKGROUP\u`, Pass: "nope", Hdr: map[string]string{"Depth": "0"}})
		})
	}
}

func TestAuthAnonymousAndHtpasswd(t *testing.T) {
	h := hashOf(t, "pw", 4)
	hp := filepath.Join(t.TempDir(), "htpasswd")
	// htpasswd -B writes $2y$ hashes.
	if err := os.WriteFile(hp, []byte("# users\nfrank:$2y$"+h[4:]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDavd(t, davdOpts{Config: fmt.Sprintf("htpasswd = %q\n[anonymous]\nscope = \"/pub\"\npermissions = \"read-only\"\n", hp)})
	frank := func(r req) req { r.User, r.Pass = "frank", "pw"; return r }
	d.want(201, frank(req{Method: "PUT", Path: "/pub/readme", Body: []byte("hello")}))
	d.want(201, frank(req{Method: "PUT", Path: "/private", Body: []byte("secret")}))
	if _, b := d.want(200, req{Method: "GET", Path: "/readme"}); string(b) != "hello" {
		t.Errorf("anonymous GET: %q", b)
	}
	d.want(404, req{Method: "GET", Path: "/private"})
	d.want(400, req{Method: "GET", Path: "/%2e%2e/private"})
	before := treeHash(t, d.Root)
	d.want(403, req{Method: "PUT", Path: "/x", Body: []byte("x")})
	d.want(403, req{Method: "DELETE", Path: "/readme"})
	d.want(403, req{Method: "MKCOL", Path: "/c"})
	d.want(403, req{Method: "PROPPATCH", Path: "/readme", Body: []byte(`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`)})
	d.want(403, req{Method: "LOCK", Path: "/readme", Body: []byte(exclusiveLock)})
	d.want(401, req{Method: "GET", Path: "/readme", User: "frank", Pass: "wrong"})
	if treeHash(t, d.Root) != before {
		t.Error("anonymous requests changed the tree")
	}
}

// TestAuthRefusesOpenNonLoopback: no users on a non-loopback address is refused before
// anything listens.
func TestAuthRefusesOpenNonLoopback(t *testing.T) {
	dir := t.TempDir()
	out, err := runCmd(t, time.Minute, "", nil, nil, davdBin, "-root", filepath.Join(dir, "d"), "-state", filepath.Join(dir, "s"), "-listen", "0.0.0.0:0")
	if err == nil || !strings.Contains(out, "insecure-open") {
		t.Fatalf("davd on 0.0.0.0 without users: err %v, output:\n%s", err, out)
	}
}

// TestTLS serves HTTPS from PEM files: HTTP/2 is negotiated, and the plain-HTTP listener
// redirects with 308 to the same path over HTTPS.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	rport, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	raddr := fmt.Sprintf("127.0.0.1:%d", rport)
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{TLS: true, Config: fmt.Sprintf("[tls]\ncert = %q\nkey = %q\nredirect_http = %q\n", cert, key, raddr) + usersConfig(h, "u")})
	hr, _ := http.NewRequest("PROPFIND", d.URL, nil)
	hr.SetBasicAuth("u", "pw")
	hr.Header.Set("Depth", "0")
	resp, err := d.Client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 207 || resp.ProtoMajor != 2 {
		t.Errorf("PROPFIND over TLS: %d %s, want 207 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	hr, _ = http.NewRequest("PUT", "http://"+raddr+"/a%20b?x=1", strings.NewReader("x"))
	resp, err = plain.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://127.0.0.1:" + strings.Split(d.Addr, ":")[1] + "/a%20b?x=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("redirect: %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if entries, _ := os.ReadDir(d.Root); len(entries) != 0 {
		t.Error("the redirect listener wrote to the tree")
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, err := testcert.Write(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestReverseProxy puts davd under /dav behind a reverse proxy that announces the public
// https host: COPY and MOVE with a public Destination work.
func TestReverseProxy(t *testing.T) {
	const public = "dav.example.com"
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{Prefix: "/dav", Config: "prefix = \"/dav\"\n[proxy]\ntrusted = [\"127.0.0.1\"]\n" + usersConfig(h, "u")})
	target, _ := url.Parse("http://" + d.Addr)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
		pr.Out.Header.Set("X-Forwarded-Host", public)
		pr.Out.Header.Set("X-Forwarded-Proto", "https")
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &http.Server{Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	go ps.Serve(ln)
	t.Cleanup(func() { ps.Close() })
	viaProxy := &davd{t: t, URL: "http://" + ln.Addr().String() + "/dav/", Client: d.Client}
	u := func(r req) req { r.User, r.Pass = "u", "pw"; return r }
	viaProxy.want(201, u(req{Method: "PUT", Path: "/a.txt", Body: []byte("a")}))
	viaProxy.want(201, u(req{Method: "COPY", Path: "/a.txt", Hdr: map[string]string{"Destination": "https://" + public + "/dav/b.txt"}}))
	viaProxy.want(201, u(req{Method: "MOVE", Path: "/b.txt", Hdr: map[string]string{"Destination": "https://" + public + "/dav/c.txt"}}))
	viaProxy.want(502, u(req{Method: "COPY", Path: "/a.txt", Hdr: map[string]string{"Destination": "https://evil.example.com/dav/d.txt"}}))
	viaProxy.want(502, u(req{Method: "COPY", Path: "/a.txt", Hdr: map[string]string{"Destination": "https://" + public + "/other/d.txt"}}))
	if _, err := os.Stat(filepath.Join(d.Root, "c.txt")); err != nil {
		t.Errorf("MOVE through the proxy: %v", err)
	}
}

// TestLitmusWithAuth runs litmus 104/104 with authentication on (`litmus URL user pass`).
func TestLitmusWithAuth(t *testing.T) {
	litmus := tool(t, "litmus", "litmus")
	h := hashOf(t, "litmus-pw", 0)
	for _, tc := range []struct{ name, extra string }{
		{"whole tree", ""},
		{"scoped user", "|scope = \"/users/litmus\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDavd(t, davdOpts{Config: usersConfig(h, "litmus"+tc.extra)})
			out, err := runCmd(t, 5*time.Minute, t.TempDir(), nil, nil, litmus, "-k", d.URL, "litmus", "litmus-pw")
			if err != nil {
				t.Fatalf("litmus: %v\n%s", err, out)
			}
			checkLitmus(t, out)
		})
	}
}
