//go:build e2e

package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The hostile-input suite: every case is sent to the real binary, and must get the expected
// status, leave the served tree (and the directory beside it) byte-identical, and leave the
// server answering a normal request.

const hostilePW = "hostile-pw"

// hostileTree lays out the served tree: a scope for alice, someone else's secret beside it,
// and symbolic links inside the root that point outside it.
func hostileTree(t *testing.T) func(root, outside string) {
	return func(root, outside string) {
		files := map[string]string{
			"ok.txt":           "root ok\n",
			"secret.txt":       "top secret\n",
			"alice/ok.txt":     "alice ok\n",
			"bob/secret.txt":   "bob's secret\n",
			"public/a.txt":     "public a\n",
			"public/sub/b.txt": "public b\n",
		}
		for i := range 25 {
			files[fmt.Sprintf("alice/lock/f%02d", i)] = "lock me\n"
		}
		for name, body := range files {
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for link, target := range map[string]string{
			"public/etc":     "/etc",
			"public/passwd":  "/etc/passwd",
			"public/outside": outside,
			"public/out.txt": filepath.Join(outside, "private.txt"),
			"public/up":      "../..",
			"alice/escape":   "../bob",
		} {
			if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// hostileCase is one request written as raw bytes, so nothing on the client side cleans it.
type hostileCase struct {
	name   string
	user   string // "alice" (scope /alice), "admin" (whole tree), "" (no credentials)
	method string
	target string // the request-target exactly as sent; "{host}" is replaced by the address
	hdr    []string
	body   string
	chunk  bool  // send the body chunked
	want   []int // acceptable statuses (one, normally)
	check  func(t *testing.T, body string)
}

func basic(user string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+hostilePW))
}

// send writes the request while reading the answer, so a server that answers early (413)
// and stops reading does not deadlock the test.
func (c hostileCase) send(t *testing.T, addr string) (int, string) {
	t.Helper()
	var b strings.Builder
	target := strings.ReplaceAll(c.target, "{host}", addr)
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", c.method, target, addr)
	if c.user != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", basic(c.user))
	}
	for _, h := range c.hdr {
		b.WriteString(strings.ReplaceAll(h, "{host}", addr) + "\r\n")
	}
	body := c.body
	switch {
	case c.chunk:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for len(body) > 0 {
			n := min(len(body), 64<<10)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
			body = body[n:]
		}
		b.WriteString("0\r\n\r\n")
	case body != "" || c.method == "PUT":
		if !slices.ContainsFunc(c.hdr, func(h string) bool { return strings.HasPrefix(h, "Content-Length:") }) {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
		}
		b.WriteString("\r\n" + body)
	default:
		b.WriteString("\r\n")
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	go io.WriteString(conn, b.String())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(rb)
}

const propfindAll = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`

func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>` + "\n" + `<!DOCTYPE lolz [<!ENTITY lol "lol">`)
	prev := "lol"
	for i := 1; i <= 9; i++ {
		name := fmt.Sprintf("lol%d", i)
		b.WriteString(`<!ENTITY ` + name + ` "` + strings.Repeat("&"+prev+";", 10) + `">`)
		prev = name
	}
	b.WriteString(`]><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol9;</D:displayname></D:prop></D:propfind>`)
	return b.String()
}

const xxe = `<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:leak xmlns:x="urn:x">&xxe;</x:leak></D:prop></D:set></D:propertyupdate>`

func deepXML(depth int) string {
	return `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<a>", depth) + strings.Repeat("</a>", depth) + `</D:prop></D:propfind>`
}

func hugeXML(n int) string {
	return `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/>` + strings.Repeat(" ", n) + `</D:prop></D:propfind>`
}

func lockWithOwner(n int) string {
	return `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>` + strings.Repeat("o", n) + `</D:owner></D:lockinfo>`
}

func lacks(words ...string) func(t *testing.T, body string) {
	return func(t *testing.T, body string) {
		t.Helper()
		for _, w := range words {
			if strings.Contains(body, w) {
				t.Errorf("response contains %q:\n%.4000s", w, body)
			}
		}
	}
}

var hrefRE = regexp.MustCompile(`<D:href>([^<]*)</D:href>|href="([^"]*)"`)

// hrefsLack fails if any link in a multistatus or HTML body has a segment named in names.
func hrefsLack(names ...string) func(t *testing.T, body string) {
	return func(t *testing.T, body string) {
		t.Helper()
		found := 0
		for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
			found++
			for _, seg := range strings.Split(m[1]+m[2], "/") {
				if slices.Contains(names, seg) {
					t.Errorf("listing links to %q (%s)", seg, m[0])
				}
			}
		}
		if found == 0 {
			t.Errorf("no links in the listing:\n%.2000s", body)
		}
	}
}

func hostileCases() []hostileCase {
	const mib = 1 << 20
	four := func(s ...int) []int { return s }
	long := strings.Repeat("a", 5000)
	copyTo := func(name, dest string, want ...int) hostileCase {
		return hostileCase{name: name, user: "alice", method: "COPY", target: "/dav/ok.txt", hdr: []string{"Destination: " + dest}, want: want}
	}
	return []hostileCase{
		// Path traversal in every encoding, as the scoped user: nothing leaves /alice.
		{name: "traversal /../", user: "alice", method: "GET", target: "/dav/../secret.txt", want: four(400)},
		{name: "traversal /../ into the other scope", user: "alice", method: "GET", target: "/dav/../bob/secret.txt", want: four(400)},
		{name: "traversal %2e%2e", user: "alice", method: "GET", target: "/dav/%2e%2e/secret.txt", want: four(400)},
		{name: "traversal %2E%2E%2F", user: "alice", method: "GET", target: "/dav/%2E%2E%2Fsecret.txt", want: four(400)},
		{name: "traversal ..%2f", user: "alice", method: "GET", target: "/dav/..%2fsecret.txt", want: four(400)},
		{name: "traversal .%2e mixed", user: "alice", method: "GET", target: "/dav/.%2e/.%2E/secret.txt", want: four(400)},
		{name: "double-encoded %252e%252e is a literal name", user: "alice", method: "GET", target: "/dav/%252e%252e/secret.txt", want: four(404)},
		{name: "overlong UTF-8 %c0%ae", user: "alice", method: "GET", target: "/dav/%c0%ae%c0%ae/secret.txt", want: four(400)},
		{name: "overlong UTF-8 slash %c0%af", user: "alice", method: "GET", target: "/dav/..%c0%afsecret.txt", want: four(400)},
		// A backslash is an ordinary name character on Unix (issue 15 item 6): "..\secret.txt"
		// is one literal name inside alice's scope, which does not exist, never the top's
		// secret.txt. TestHostileLiteralNames creates such names and looks on disk.
		{name: "backslash ..\\ is a literal name", user: "alice", method: "GET", target: `/dav/..\secret.txt`, want: four(404), check: lacks("top secret")},
		{name: "encoded backslash %5c is a literal name", user: "alice", method: "GET", target: "/dav/..%5csecret.txt", want: four(404), check: lacks("top secret")},
		{name: "backslashes up to the other scope are a literal name", user: "alice", method: "GET", target: "/dav/..%5c..%5cbob%5csecret.txt", want: four(404), check: lacks("bob's secret")},
		{name: "overlong UTF-8 slash %e0%80%af", user: "alice", method: "GET", target: "/dav/..%e0%80%afsecret.txt", want: four(400)},
		{name: "overlong UTF-8 dot %f0%80%80%ae", user: "alice", method: "GET", target: "/dav/%f0%80%80%ae%f0%80%80%ae/secret.txt", want: four(400)},
		{name: "absolute URL in the request line", user: "alice", method: "GET", target: "http://{host}/dav/../secret.txt", want: four(400)},
		{name: "absolute URL naming another host", user: "alice", method: "GET", target: "http://evil.example/dav/%2e%2e/secret.txt", want: four(400)},
		{name: "//etc/passwd inside the prefix", user: "alice", method: "GET", target: "/dav//etc/passwd", want: four(404)},
		{name: "//etc/passwd outside the prefix", user: "alice", method: "GET", target: "//etc/passwd", want: four(404)},
		{name: "prefix look-alike /davx", user: "alice", method: "GET", target: "/davx/ok.txt", want: four(404)},
		{name: "NUL byte", user: "alice", method: "GET", target: "/dav/ok.txt%00.png", want: four(400)},
		{name: "invalid UTF-8 is a literal name", user: "alice", method: "GET", target: "/dav/%ff%fe", want: four(404)},
		{name: "control character", user: "alice", method: "GET", target: "/dav/a%0d%0aSet-Cookie:x", want: four(400)},
		{name: "URI over the cap", user: "alice", method: "GET", target: "/dav/" + long, want: four(414)},
		{name: "PUT through %2e%2e", user: "alice", method: "PUT", target: "/dav/%2e%2e/pwned.txt", body: "pwned", want: four(400)},
		{name: "PUT through ..%2f", user: "alice", method: "PUT", target: "/dav/..%2f..%2fpwned.txt", body: "pwned", want: four(400)},
		{name: "MKCOL through ..", user: "alice", method: "MKCOL", target: "/dav/../pwned", want: four(400)},
		{name: "DELETE through %2e%2e", user: "alice", method: "DELETE", target: "/dav/%2e%2e/bob", want: four(400)},
		{name: "PROPFIND through %2e%2e", user: "alice", method: "PROPFIND", target: "/dav/%2e%2e/", hdr: []string{"Depth: 1"}, want: four(400)},
		{name: "LOCK through ..", user: "alice", method: "LOCK", target: "/dav/../secret.txt", body: lockWithOwner(1), want: four(400)},
		{name: "other scope is not there", user: "alice", method: "GET", target: "/dav/bob/secret.txt", want: four(404)},

		// Destination tricks.
		copyTo("Destination on another host", "http://evil.example/dav/x.txt", 502),
		copyTo("Destination on another port", "http://127.0.0.1:1/dav/x.txt", 502),
		copyTo("Destination userinfo trick", "http://{host}@evil.example/dav/x.txt", 502),
		copyTo("Destination with another scheme", "ftp://{host}/dav/x.txt", 502),
		copyTo("Destination outside the prefix", "http://{host}/other/x.txt", 502),
		copyTo("Destination with /../", "http://{host}/dav/../secret.txt", 400),
		copyTo("Destination with %2e%2e", "http://{host}/dav/%2e%2e/bob/x.txt", 400),
		copyTo("Destination with ..%2f", "http://{host}/dav/..%2f..%2fx.txt", 400),
		copyTo("Destination relative with ..", "/dav/../../etc/x", 400),
		copyTo("Destination with overlong UTF-8 slash", "http://{host}/dav/..%c0%afx.txt", 400),
		copyTo("Destination with NUL", "http://{host}/dav/x%00.txt", 400),
		copyTo("Destination with overlong UTF-8", "http://{host}/dav/%c0%ae%c0%ae/x", 400),
		copyTo("overlong Destination", "http://{host}/dav/"+long, 400),
		{name: "MOVE with Destination on another host", user: "alice", method: "MOVE", target: "/dav/ok.txt", hdr: []string{"Destination: http://evil.example/dav/ok.txt"}, want: four(502)},
		{name: "MOVE with Destination escaping by ..", user: "alice", method: "MOVE", target: "/dav/ok.txt", hdr: []string{"Destination: http://{host}/dav/%2e%2e/bob/ok.txt"}, want: four(400)},
		{name: "forged X-Forwarded-Host from an untrusted peer", user: "alice", method: "COPY", target: "/dav/ok.txt", hdr: []string{"Destination: https://evil.example/dav/x.txt", "X-Forwarded-Host: evil.example"}, want: four(502)},

		// Symbolic links inside the root that point outside: neither followed nor listed. osfs
		// reports a link escaping the root as fs.ErrPermission (403), a dangling one as 404:
		// either way nothing behind it is read or written. A link inside the root but outside
		// a user's scope must not be followed from that scope either.
		{name: "symlink dir to /etc", user: "admin", method: "GET", target: "/dav/public/etc/passwd", want: four(403, 404)},
		{name: "symlink file to /etc/passwd", user: "admin", method: "GET", target: "/dav/public/passwd", want: four(403, 404)},
		{name: "symlink file outside the root", user: "admin", method: "GET", target: "/dav/public/out.txt", want: four(403, 404)},
		{name: "symlink dir outside the root", user: "admin", method: "GET", target: "/dav/public/outside/private.txt", want: four(403, 404)},
		{name: "symlink ../.. ", user: "admin", method: "GET", target: "/dav/public/up/outside/private.txt", want: four(403, 404)},
		{name: "symlink to another scope", user: "alice", method: "GET", target: "/dav/escape/secret.txt", want: four(403, 404)},
		{name: "symlinks not listed", user: "admin", method: "PROPFIND", target: "/dav/public", hdr: []string{"Depth: 1"}, want: four(207), check: hrefsLack("etc", "passwd", "out.txt", "outside", "up")},
		{name: "symlinks not listed in the scope", user: "alice", method: "PROPFIND", target: "/dav/", hdr: []string{"Depth: 1"}, want: four(207), check: hrefsLack("escape", "bob")},
		{name: "symlinks not in the HTML listing", user: "admin", method: "GET", target: "/dav/public/", hdr: []string{"Accept: text/html"}, want: four(200), check: hrefsLack("etc", "passwd", "out.txt", "outside", "up")},
		{name: "PUT through a symlinked dir", user: "admin", method: "PUT", target: "/dav/public/outside/pwned.txt", body: "pwned", want: four(403, 409)},
		{name: "PUT over a symlink", user: "admin", method: "PUT", target: "/dav/public/out.txt", body: "pwned", want: four(403, 409)},
		{name: "MKCOL through a symlinked dir", user: "admin", method: "MKCOL", target: "/dav/public/etc/pwned", want: four(403, 409)},
		{name: "DELETE a symlink", user: "admin", method: "DELETE", target: "/dav/public/etc", want: four(403, 404)},
		{name: "DELETE through a symlink", user: "admin", method: "DELETE", target: "/dav/public/outside/private.txt", want: four(403, 404)},
		{name: "MOVE a symlink", user: "admin", method: "MOVE", target: "/dav/public/etc", hdr: []string{"Destination: http://{host}/dav/public/etc2"}, want: four(403, 404)},
		{name: "COPY through a symlink", user: "admin", method: "COPY", target: "/dav/public/out.txt", hdr: []string{"Destination: http://{host}/dav/stolen.txt"}, want: four(403, 404)},
		{name: "PROPPATCH a symlink", user: "admin", method: "PROPPATCH", target: "/dav/public/passwd", body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`, want: four(403, 404)},

		// XML: no DTD or entity is processed; size and depth are capped.
		{name: "billion laughs", user: "alice", method: "PROPFIND", target: "/dav/", hdr: []string{"Depth: 0"}, body: billionLaughs(), want: four(400)},
		{name: "external entity (XXE)", user: "alice", method: "PROPPATCH", target: "/dav/ok.txt", body: xxe, want: four(400), check: lacks("root:")},
		{name: "deep nesting", user: "alice", method: "PROPFIND", target: "/dav/", hdr: []string{"Depth: 0"}, body: deepXML(100000), want: four(400)},
		{name: "PROPFIND body over 1 MiB", user: "alice", method: "PROPFIND", target: "/dav/", hdr: []string{"Depth: 0"}, body: hugeXML(2 * mib), want: four(413)},
		{name: "chunked PROPFIND body over 1 MiB", user: "alice", method: "PROPFIND", target: "/dav/", hdr: []string{"Depth: 0"}, body: hugeXML(2 * mib), chunk: true, want: four(413)},
		{name: "LOCK owner over 1 MiB", user: "alice", method: "LOCK", target: "/dav/ok.txt", body: lockWithOwner(2 * mib), want: four(413)},
		{name: "PROPPATCH over 1 MiB", user: "alice", method: "PROPPATCH", target: "/dav/ok.txt", body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">` + strings.Repeat("v", 2*mib) + `</x></D:prop></D:set></D:propertyupdate>`, want: four(413)},
		{name: "PROPFIND with a text body", user: "alice", method: "PROPFIND", target: "/dav/", hdr: []string{"Depth: 0"}, body: "not xml at all", want: four(400)},

		// Huge bodies.
		{name: "PUT over max_put_bytes", user: "alice", method: "PUT", target: "/dav/big.bin", body: strings.Repeat("x", 2*mib), want: four(413)},
		{name: "chunked PUT over max_put_bytes", user: "alice", method: "PUT", target: "/dav/big.bin", body: strings.Repeat("x", 2*mib), chunk: true, want: four(413)},
		{name: "PUT announcing 1 TiB", user: "alice", method: "PUT", target: "/dav/big.bin", hdr: []string{"Content-Length: 1099511627776"}, want: four(413)},
		{name: "PUT over max_put_bytes onto an existing file", user: "alice", method: "PUT", target: "/dav/ok.txt", body: strings.Repeat("x", 2*mib), want: four(413)},

		// Depth and other headers.
		{name: "PROPFIND Depth: infinity answered whole", user: "alice", method: "PROPFIND", target: "/dav/", hdr: []string{"Depth: infinity"}, body: propfindAll, want: four(207), check: func(t *testing.T, b string) {
			if !strings.HasSuffix(strings.TrimSpace(b), "</D:multistatus>") || strings.Contains(b, "HTTP/1.1 507") {
				t.Errorf("Depth: infinity listing cut or unterminated:\n%s", b)
			}
		}},
		{name: "bad Depth", user: "alice", method: "PROPFIND", target: "/dav/", hdr: []string{"Depth: 2"}, want: four(400)},
		{name: "header block over 64 KiB", user: "alice", method: "GET", target: "/dav/ok.txt", hdr: []string{"X-Big: " + strings.Repeat("b", 100<<10)}, want: four(431)},
		{name: "TRACE", user: "alice", method: "TRACE", target: "/dav/ok.txt", want: four(405)},
		{name: "unknown method", user: "alice", method: "BREW", target: "/dav/ok.txt", want: four(501)},

		// Authentication.
		{name: "no credentials", method: "PUT", target: "/dav/x.txt", body: "x", want: four(401)},
		{name: "wrong password", method: "DELETE", target: "/dav/ok.txt", hdr: []string{"Authorization: " + base64Auth("alice", "guess")}, want: four(401)},
		{name: "unknown user", method: "DELETE", target: "/dav/ok.txt", hdr: []string{"Authorization: " + base64Auth("root", hostilePW)}, want: four(401)},
		{name: "empty user", method: "DELETE", target: "/dav/ok.txt", hdr: []string{"Authorization: " + base64Auth("", "")}, want: four(401)},
		{name: "malformed Basic", method: "DELETE", target: "/dav/ok.txt", hdr: []string{"Authorization: Basic %%%"}, want: four(401)},
		{name: "Bearer instead of Basic", method: "DELETE", target: "/dav/ok.txt", hdr: []string{"Authorization: Bearer abc"}, want: four(401)},
	}
}

func base64Auth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func hostileConfig(t *testing.T, extra string) string {
	h := hashOf(t, hostilePW, 8)
	return `prefix = "/dav"
[timeouts]
read_header = "1s"
[limits]
max_put_bytes = 1048576
max_locks = 100
max_locks_per_user = 20
` + extra + usersConfig(h, `alice|scope = "/alice"`, "admin") +
		// The timing case makes 18 failed logins from one address and needs each password
		// checked; the throttle itself is TestLoginThrottle's.
		"\n[login_throttle]\nmax_failures = 50\nuser_max_failures = 50\n"
}

func TestHostile(t *testing.T) {
	d := startDavd(t, davdOpts{Prefix: "/dav", Config: hostileConfig(t, ""), Setup: hostileTree(t)})
	baseline := treeHash(t, d.Root, d.Outside)
	normal := func(t *testing.T) {
		t.Helper()
		if !d.alive() {
			t.Fatal("davd exited")
		}
		_, b := d.want(200, req{Method: "GET", Path: "/ok.txt", User: "alice", Pass: hostilePW})
		if string(b) != "alice ok\n" {
			t.Fatalf("normal GET: %q", b)
		}
	}
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			got, body := c.send(t, d.Addr)
			t.Logf("%s %.60s -> %d", c.method, c.target, got)
			if !slices.Contains(c.want, got) {
				t.Errorf("%s %.120s: status %d, want %v\n%.600s", c.method, c.target, got, c.want, body)
			}
			if c.check != nil {
				c.check(t, body)
			}
			if h := treeHash(t, d.Root, d.Outside); h != baseline {
				t.Fatalf("the tree changed")
			}
			normal(t)
		})
	}

	t.Run("recursive COPY of a tree with symlinks copies no link target", func(t *testing.T) {
		d.want(201, req{Method: "COPY", Path: "/public", User: "admin", Pass: hostilePW, Hdr: map[string]string{"Destination": d.URL + "public-copy", "Depth": "infinity"}})
		var got []string
		filepath.WalkDir(filepath.Join(d.Root, "public-copy"), func(p string, _ os.DirEntry, err error) error {
			if err == nil {
				rel, _ := filepath.Rel(d.Root, p)
				got = append(got, filepath.ToSlash(rel))
			}
			return nil
		})
		sort.Strings(got)
		want := []string{"public-copy", "public-copy/a.txt", "public-copy/sub", "public-copy/sub/b.txt"}
		if !slices.Equal(got, want) {
			t.Errorf("copied %v, want %v", got, want)
		}
		d.want(204, req{Method: "DELETE", Path: "/public-copy", User: "admin", Pass: hostilePW})
		if treeHash(t, d.Root, d.Outside) != baseline {
			t.Fatal("the tree changed")
		}
		normal(t)
	})

	t.Run("recursive DELETE of a collection with a symlink leaves the target", func(t *testing.T) {
		// alice's scope holds a link to /bob; deleting her whole tree must not reach bob.
		// Run on a copy so the baseline stays valid.
		d.want(201, req{Method: "COPY", Path: "/public", User: "admin", Pass: hostilePW, Hdr: map[string]string{"Destination": d.URL + "victim", "Depth": "infinity"}})
		if err := os.Symlink(d.Outside, filepath.Join(d.Root, "victim", "outside")); err != nil {
			t.Fatal(err)
		}
		st, _, b := d.do(req{Method: "DELETE", Path: "/victim", User: "admin", Pass: hostilePW})
		if st != 204 && st != 207 {
			t.Errorf("DELETE: %d\n%s", st, b)
		}
		os.RemoveAll(filepath.Join(d.Root, "victim")) // whatever a 207 left behind (the link itself)
		if treeHash(t, d.Root, d.Outside) != baseline {
			t.Fatal("DELETE reached through the symlink")
		}
		normal(t)
	})

	t.Run("slowloris: headers byte by byte are cut after read_header", func(t *testing.T) {
		conn, err := net.Dial("tcp", d.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		closed := make(chan time.Time, 1)
		go func() {
			io.Copy(io.Discard, conn)
			closed <- time.Now()
		}()
		start := time.Now()
		msg := "GET /dav/ok.txt HTTP/1.1\r\nHost: " + d.Addr + "\r\nX-Slow: " + strings.Repeat("s", 200)
		var end time.Time
	send:
		for i := 0; i < len(msg); i++ { // bounded: 230 bytes, 100 ms apart at most
			select {
			case end = <-closed:
				break send
			case <-time.After(100 * time.Millisecond):
			}
			conn.Write([]byte{msg[i]})
		}
		if end.IsZero() {
			select {
			case end = <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the connection was never cut")
			}
		}
		if held := end.Sub(start); held < 900*time.Millisecond || held > 4*time.Second {
			t.Errorf("connection cut after %v; want about read_header (1 s)", held)
		}
		normal(t)
	})

	t.Run("lock flood: per-principal cap", func(t *testing.T) {
		granted, refused := 0, 0
		for i := range 25 {
			st, _, _ := d.do(req{Method: "LOCK", Path: fmt.Sprintf("/lock/f%02d", i), User: "alice", Pass: hostilePW, Hdr: map[string]string{"Timeout": "Second-600"}, Body: []byte(exclusiveLock)})
			switch st {
			case 200:
				granted++
			case 503:
				refused++
			default:
				t.Fatalf("LOCK %d: status %d", i, st)
			}
		}
		if granted != 20 || refused != 5 {
			t.Errorf("granted %d, refused %d; want 20 and 5 (max_locks_per_user = 20)", granted, refused)
		}
		// Another principal is not starved by alice's flood.
		h, _ := d.want(200, req{Method: "LOCK", Path: "/ok.txt", User: "admin", Pass: hostilePW, Hdr: map[string]string{"Timeout": "Second-60"}, Body: []byte(exclusiveLock)})
		d.want(204, req{Method: "UNLOCK", Path: "/ok.txt", User: "admin", Pass: hostilePW, Hdr: map[string]string{"Lock-Token": h.Get("Lock-Token")}})
		if treeHash(t, d.Root, d.Outside) != baseline {
			t.Fatal("the tree changed")
		}
		normal(t)
	})

	t.Run("auth brute force: unknown user costs as much as a wrong password", func(t *testing.T) {
		measure := func(user string) time.Duration {
			var ds []time.Duration
			for range 9 { // bounded
				start := time.Now()
				st, _, _ := d.do(req{Method: "PROPFIND", Path: "/", User: user, Pass: "wrong-guess", Hdr: map[string]string{"Depth": "0"}})
				ds = append(ds, time.Since(start))
				if st != 401 {
					t.Fatalf("%s: status %d", user, st)
				}
			}
			slices.Sort(ds)
			return ds[len(ds)/2]
		}
		known, unknown := measure("alice"), measure("mallory")
		ratio := float64(known) / float64(unknown)
		t.Logf("median 401 time: known user %v, unknown user %v (ratio %.2f)", known, unknown, ratio)
		if ratio < 1.0/3 || ratio > 3 {
			t.Errorf("known %v vs unknown %v: ratio %.2f outside [1/3, 3]", known, unknown, ratio)
		}
		normal(t)
	})
}

// TestHostilePropfindCap: Depth: infinity (answered by default) stops at max_propfind_entries
// (a 507 entry marks the cut) and the server keeps serving; with propfind_infinity = false it
// is refused with 403 and propfind-finite-depth.
func TestHostilePropfindCap(t *testing.T) {
	off := startDavd(t, davdOpts{Prefix: "/dav", Config: hostileConfig(t, "propfind_infinity = false\n"), Setup: hostileTree(t)})
	if _, b := off.want(403, req{Method: "PROPFIND", Path: "/", User: "admin", Pass: hostilePW, Hdr: map[string]string{"Depth": "infinity"}}); !strings.Contains(string(b), "propfind-finite-depth") {
		t.Errorf("no propfind-finite-depth:\n%s", b)
	}
	d := startDavd(t, davdOpts{Prefix: "/dav", Config: hostileConfig(t, "max_propfind_entries = 5\n"), Setup: hostileTree(t)})
	baseline := treeHash(t, d.Root, d.Outside)
	_, b := d.want(207, req{Method: "PROPFIND", Path: "/", User: "admin", Pass: hostilePW, Hdr: map[string]string{"Depth": "infinity"}})
	if n := strings.Count(string(b), "<D:response>"); n > 6 {
		t.Errorf("%d responses, want at most 5 and the cut", n)
	}
	if !strings.Contains(string(b), "507") {
		t.Errorf("no 507 marks the cut:\n%s", b)
	}
	if treeHash(t, d.Root, d.Outside) != baseline {
		t.Fatal("the tree changed")
	}
	d.want(207, req{Method: "PROPFIND", Path: "/", User: "alice", Pass: hostilePW, Hdr: map[string]string{"Depth": "1"}})
}
