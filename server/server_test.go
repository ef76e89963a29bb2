package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testSrv is a served instance: its base URL and its listener's address.
type testSrv struct {
	URL  string
	Addr string
}

// testServer builds an instance from a TOML document (root and state prepended) and serves it
// on a loopback listener with the plain-HTTP server the document chooses (http1; default davd's).
func testServer(t *testing.T, doc string) (testSrv, string) {
	t.Helper()
	return testServerLog(t, doc, slog.New(slog.DiscardHandler))
}

// testServerLog is testServer with the instance's log going to log.
func testServerLog(t *testing.T, doc string, log *slog.Logger) (testSrv, string) {
	t.Helper()
	dir := t.TempDir()
	c := Defaults()
	c.AccessLog = false
	c.NoFsync = true
	if err := Parse([]byte(base(dir)+doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	in, err := Build(c, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := plainServer(c, in.Handler, stdlog.New(io.Discard, "", 0))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
		in.Close()
	})
	return testSrv{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String()}, c.Root
}

type client struct {
	t          *testing.T
	base       string
	user, pass string
}

func (c client) do(method, path string, hdr map[string]string, body string) (*http.Response, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c client) want(status int, method, path string, hdr map[string]string, body string) string {
	c.t.Helper()
	resp, b := c.do(method, path, hdr, body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s as %q: status %d, want %d\n%s", method, path, c.user, resp.StatusCode, status, b)
	}
	return b
}

const lockBody = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`

func lockToken(t *testing.T, resp *http.Response) string {
	t.Helper()
	tok := resp.Header.Get("Lock-Token")
	if tok == "" {
		t.Fatalf("no Lock-Token (status %d)", resp.StatusCode)
	}
	return strings.Trim(tok, "<>")
}

func users(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		name, rest, _ := strings.Cut(n, " ")
		b.WriteString("\n[[users]]\nname = \"" + name + "\"\npassword = \"" + testHash + "\"\n" + strings.ReplaceAll(rest, ";", "\n") + "\n")
	}
	return b.String()
}

func TestScopes(t *testing.T) {
	srv, root := testServer(t, users(
		"alice scope = \"/home/alice\";rules = [{ path = \"/archive\", permissions = \"read-only\" }]",
		"bob scope = \"/home/bob\"",
		"admin",
	))
	alice := client{t, srv.URL, "alice", "secret"}
	bob := client{t, srv.URL, "bob", "secret"}
	admin := client{t, srv.URL, "admin", "secret"}

	alice.want(201, "PUT", "/f.txt", nil, "alice's")
	if b, err := os.ReadFile(filepath.Join(root, "home", "alice", "f.txt")); err != nil || string(b) != "alice's" {
		t.Fatalf("alice's file on disk: %q, %v", b, err)
	}
	bob.want(404, "GET", "/f.txt", nil, "")
	admin.want(200, "GET", "/home/alice/f.txt", nil, "")
	// Hrefs in alice's listing are in her view.
	ms := alice.want(207, "PROPFIND", "/", map[string]string{"Depth": "1"}, "")
	if !strings.Contains(ms, "<D:href>/f.txt</D:href>") || strings.Contains(ms, "home") {
		t.Errorf("alice's PROPFIND:\n%s", ms)
	}
	// Nothing names a path outside the scope.
	alice.want(400, "GET", "/../bob/x", nil, "")
	alice.want(400, "GET", "/%2e%2e/bob/x", nil, "")
	alice.want(201, "COPY", "/f.txt", map[string]string{"Destination": srv.URL + "/g.txt"}, "")
	if _, err := os.Stat(filepath.Join(root, "home", "alice", "g.txt")); err != nil {
		t.Errorf("COPY did not land in the scope: %v", err)
	}
	// Rules: /archive is read-only for alice, as the request URI, the Destination and a member.
	admin.want(201, "MKCOL", "/home/alice/archive", nil, "")
	admin.want(201, "PUT", "/home/alice/archive/old.txt", nil, "old")
	alice.want(200, "GET", "/archive/old.txt", nil, "")
	alice.want(403, "PUT", "/archive/new.txt", nil, "x")
	alice.want(403, "DELETE", "/archive/old.txt", nil, "")
	alice.want(403, "COPY", "/f.txt", map[string]string{"Destination": srv.URL + "/archive/f.txt"}, "")
	alice.want(403, "MOVE", "/archive", map[string]string{"Destination": srv.URL + "/moved"}, "")
	alice.want(201, "MKCOL", "/archived", nil, "") // "/archive" does not cover "/archived"
	resp, body := alice.do("DELETE", "/", nil, "")
	if resp.StatusCode != 207 && resp.StatusCode != 403 {
		t.Errorf("DELETE / with a read-only member: %d\n%s", resp.StatusCode, body)
	}
	admin.want(200, "GET", "/home/alice/archive/old.txt", nil, "")
	// A symbolic link inside the tree but outside the scope is not followed from the scope.
	bob.want(201, "PUT", "/secret.txt", nil, "bob's")
	if err := os.Symlink("../bob", filepath.Join(root, "home", "alice", "escape")); err != nil {
		t.Fatal(err)
	}
	if resp, b := alice.do("GET", "/escape/secret.txt", nil, ""); resp.StatusCode == 200 || strings.Contains(b, "bob's") {
		t.Errorf("alice followed a link out of her scope: %d %q", resp.StatusCode, b)
	}
	admin.want(200, "GET", "/home/alice/escape/secret.txt", nil, "") // inside the admin's root
}

func TestLocksAcrossUsers(t *testing.T) {
	srv, _ := testServer(t, users("carol", "dave", "erin scope = \"/team\""))
	carol := client{t, srv.URL, "carol", "secret"}
	dave := client{t, srv.URL, "dave", "secret"}
	erin := client{t, srv.URL, "erin", "secret"}

	// /team exists: Build creates the scopes.
	resp, _ := carol.do("LOCK", "/team/doc", map[string]string{"Timeout": "Second-600"}, lockBody)
	if resp.StatusCode != 201 {
		t.Fatalf("LOCK: %d", resp.StatusCode)
	}
	tok := lockToken(t, resp)

	// dave cannot use carol's token, nor unlock it, nor refresh it.
	dave.want(423, "PUT", "/team/doc", if_(tok), "dave's")
	dave.want(403, "UNLOCK", "/team/doc", map[string]string{"Lock-Token": "<" + tok + ">"}, "")
	if r, _ := dave.do("LOCK", "/team/doc", if_(tok), ""); r.StatusCode < 400 {
		t.Errorf("dave refreshed carol's lock: %d", r.StatusCode)
	}
	// erin's scope is /team: the lock conflicts for her too, and she sees it at /doc.
	erin.want(423, "PUT", "/doc", nil, "erin's")
	erin.want(423, "PUT", "/doc", if_(tok), "erin's")
	ms := erin.want(207, "PROPFIND", "/doc", map[string]string{"Depth": "0"}, "")
	if !regexp.MustCompile(`<D:lockroot><D:href>(http://[^/]+)?/doc</D:href></D:lockroot>`).MatchString(ms) {
		t.Errorf("erin's lockdiscovery does not show the lock at /doc:\n%s", ms)
	}
	// The owner can.
	carol.want(204, "PUT", "/team/doc", if_(tok), "carol's")
	carol.want(204, "UNLOCK", "/team/doc", map[string]string{"Lock-Token": "<" + tok + ">"}, "")
	dave.want(204, "PUT", "/team/doc", nil, "dave's")

}

func if_(tok string) map[string]string { return map[string]string{"If": "(<" + tok + ">)"} }

func TestAnonymousAndOptions(t *testing.T) {
	for _, tt := range []struct {
		name        string
		doc         string
		optionsCode int
	}{
		{"OPTIONS answered without credentials", "options_unauthenticated = true\n", 200},
		{"OPTIONS needs credentials", "options_unauthenticated = false\n", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := testServer(t, tt.doc+users("u"))
			anon := client{t, srv.URL, "", ""}
			resp, _ := anon.do("OPTIONS", "/", nil, "")
			if resp.StatusCode != tt.optionsCode {
				t.Fatalf("OPTIONS: %d, want %d", resp.StatusCode, tt.optionsCode)
			}
			if tt.optionsCode == 200 && resp.Header.Get("DAV") == "" {
				t.Error("OPTIONS without a DAV header")
			}
			if tt.optionsCode == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="davd", charset="UTF-8"` {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			for _, m := range []string{"GET", "PROPFIND", "PUT", "LOCK"} {
				anon.want(401, m, "/x", nil, "")
			}
			client{t, srv.URL, `WORKGROUP\u`, "secret"}.want(207, "PROPFIND", "/", map[string]string{"Depth": "0"}, "")
		})
	}
	t.Run("anonymous read-only", func(t *testing.T) {
		srv, _ := testServer(t, "[anonymous]\nscope = \"/pub\"\n"+users("u"))
		u := client{t, srv.URL, "u", "secret"}
		anon := client{t, srv.URL, "", ""}
		u.want(405, "MKCOL", "/pub", nil, "") // Build created the scope
		u.want(201, "PUT", "/pub/readme", nil, "hello")
		u.want(201, "PUT", "/secret", nil, "s")
		if b := anon.want(200, "GET", "/readme", nil, ""); b != "hello" {
			t.Errorf("anonymous GET: %q", b)
		}
		anon.want(404, "GET", "/secret", nil, "")
		anon.want(403, "PUT", "/x", nil, "x")
		anon.want(403, "DELETE", "/readme", nil, "")
		anon.want(403, "LOCK", "/readme", nil, lockBody)
		client{t, srv.URL, "u", "wrong"}.want(401, "GET", "/readme", nil, "")
	})
}

func TestForwarded(t *testing.T) {
	const pub = "dav.example.com"
	for _, tt := range []struct {
		name    string
		trusted string
		want    int
	}{
		{"untrusted peer: headers stripped", "", 502},
		{"untrusted peer in another network", "[proxy]\ntrusted = [\"10.0.0.0/8\"]\n", 502},
		{"trusted proxy", "prefix = \"/dav\"\n[proxy]\ntrusted = [\"127.0.0.1\"]\n", 201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := testServer(t, tt.trusted)
			c := client{t, srv.URL, "", ""}
			prefix := ""
			if strings.Contains(tt.trusted, "prefix") {
				prefix = "/dav"
			}
			c.want(201, "PUT", prefix+"/a", nil, "a")
			c.want(tt.want, "COPY", prefix+"/a", map[string]string{
				"Destination":       "https://" + pub + prefix + "/b",
				"X-Forwarded-Host":  pub,
				"X-Forwarded-Proto": "https",
			}, "")
		})
	}
}

func TestTransferDeadlines(t *testing.T) {
	for _, front := range []string{HTTP1Davd, HTTP1NetHTTP} {
		t.Run(front, func(t *testing.T) { testTransferDeadlines(t, front) })
	}
}

func testTransferDeadlines(t *testing.T, front string) {
	srv, root := testServer(t, fmt.Sprintf("http1 = %q\n[timeouts]\ntransfer = \"600ms\"\n", front))
	addr := srv.Addr
	put := func(name string, pieces int, gap time.Duration) (string, error) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "PUT /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", name, addr, pieces)
		for range pieces {
			time.Sleep(gap)
			if _, err := conn.Write([]byte("x")); err != nil {
				break
			}
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(conn)
		return string(b), err
	}
	// Eight pieces 200 ms apart: 1.6 s in all, never 600 ms without progress.
	out, _ := put("slow-but-moving", 8, 200*time.Millisecond)
	if !strings.HasPrefix(out, "HTTP/1.1 201") {
		t.Errorf("a moving upload was cut: %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "slow-but-moving")); !bytes.Equal(b, []byte("xxxxxxxx")) {
		t.Errorf("content %q", b)
	}
	// Two pieces 1.5 s apart: the stall is cut, nothing is created.
	start := time.Now()
	out, _ = put("stalled", 2, 1500*time.Millisecond)
	if strings.HasPrefix(out, "HTTP/1.1 201") {
		t.Errorf("a stalled upload succeeded: %q", out)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("stalled upload held the connection %v", d)
	}
	if _, err := os.Stat(filepath.Join(root, "stalled")); err == nil {
		t.Error("a stalled upload created the file")
	}
}

// TestExpectContinueUnauthorized: a client that sends Expect: 100-continue without credentials
// gets its 401 at once, without being asked for the body (litmus http.expect100 with auth).
func TestExpectContinueUnauthorized(t *testing.T) {
	for _, al := range []bool{true, false} {
		for _, front := range []string{HTTP1Davd, HTTP1NetHTTP} {
			srv, _ := testServer(t, fmt.Sprintf("access_log = %v\nhttp1 = %q\n", al, front)+users("u"))
			line, err := firstLine(t, srv.Addr, "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
			if !strings.HasPrefix(line, "HTTP/1.1 401") {
				t.Errorf("access_log=%v, http1 %s: first line %q, %v; want a 401 at once", al, front, line, err)
			}
		}
	}
}

// firstLine sends raw to addr on a new connection and reads the first line of the answer.
func firstLine(t *testing.T, addr, raw string) (string, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, raw)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return bufio.NewReader(conn).ReadString('\n')
}

// TestExpectContinueOnCollection: a small PUT onto a collection is refused with 405 before the
// client that waits for "100 Continue" sends its body (RFC 9110 section 10.1.1), although
// without Expect such a body is written first and refused after (osfs smallPut); without
// Expect the answer is the same 405, and the collection stays.
func TestExpectContinueOnCollection(t *testing.T) {
	for _, front := range []string{HTTP1Davd, HTTP1NetHTTP} {
		srv, root := testServer(t, fmt.Sprintf("http1 = %q\n", front))
		if err := os.Mkdir(filepath.Join(root, "col"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, expect := range []bool{true, false} {
			req := "PUT /col HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
			if expect {
				req = "PUT /col HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
			}
			line, err := firstLine(t, srv.Addr, req)
			if !strings.HasPrefix(line, "HTTP/1.1 405") {
				t.Errorf("http1 %s, expect %v: first line %q, %v; want a 405 at once", front, expect, line, err)
			}
		}
		if fi, err := os.Stat(filepath.Join(root, "col")); err != nil || !fi.IsDir() {
			t.Errorf("http1 %s: /col after the PUTs: %v, %v", front, fi, err)
		}
	}
}

// lockedBuffer is an io.Writer safe for the server's goroutines and the test's.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCachedListingThroughTheStack: a Depth 1 PROPFIND answered from the listing cache goes
// through the access log and the transfer deadlines to the plain-HTTP server as one vectored
// write (server/h1) or write by write (net/http); either way the bytes are those of a fresh
// rendering, with a Content-Length, and the access log counts them.
func TestCachedListingThroughTheStack(t *testing.T) {
	for _, front := range []string{HTTP1Davd, HTTP1NetHTTP} {
		t.Run(front, func(t *testing.T) {
			var logs lockedBuffer
			srv, root := testServerLog(t, fmt.Sprintf("http1 = %q\naccess_log = true\n", front), slog.New(slog.NewTextHandler(&logs, nil)))
			if err := os.MkdirAll(filepath.Join(root, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range 300 {
				if err := os.WriteFile(filepath.Join(root, "d", fmt.Sprintf("f%03d", i)), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			client := &http.Client{Timeout: 10 * time.Second}
			var bodies []string
			for range 4 {
				req, _ := http.NewRequest("PROPFIND", srv.URL+"/d/", strings.NewReader(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`))
				req.Header.Set("Depth", "1")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusMultiStatus {
					t.Fatalf("PROPFIND: %v, %v", resp.Status, err)
				}
				bodies = append(bodies, string(b))
				if len(bodies) > 2 && resp.ContentLength != int64(len(b)) {
					t.Errorf("answer %d: Content-Length %d, body %d bytes", len(bodies), resp.ContentLength, len(b))
				}
			}
			for i, b := range bodies[1:] {
				if b != bodies[0] {
					t.Errorf("answer %d differs from the first", i+2)
				}
			}
			if n := strings.Count(bodies[0], "<D:response>"); n != 301 {
				t.Errorf("%d responses, want 301", n)
			}
			want := fmt.Sprintf("bytes=%d ", len(bodies[0]))
			// The access-log line is written when the handler returns, which may be just
			// after the client has read the whole body: wait for it (bounded).
			for deadline := time.Now().Add(2 * time.Second); strings.Count(logs.String(), want) < 4 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if got := strings.Count(logs.String(), want); got != 4 {
				t.Errorf("%d access-log lines with %q, want 4:\n%s", got, want, logs.String())
			}
		})
	}
}
