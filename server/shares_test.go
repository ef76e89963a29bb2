package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// share creates a link as c through the page's interface and returns its URL path.
func (c client) share(path string, form url.Values) string {
	c.t.Helper()
	resp, body := c.do("POST", path, map[string]string{
		"X-Requested-With": "davd-webui",
		"Content-Type":     "application/x-www-form-urlencoded",
	}, form.Encode())
	if resp.StatusCode != 201 {
		c.t.Fatalf("share %s %v: %d %s", path, form, resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	var info struct{ URL string }
	if err := json.Unmarshal([]byte(body), &info); err != nil || info.URL != loc || !strings.HasPrefix(loc, "/.davd-share/") {
		c.t.Fatalf("share %s: Location %q, body %s (%v)", path, loc, body, err)
	}
	return loc
}

// rawRequest sends one request line as written (no client-side path cleaning) and returns the
// status code.
func rawRequest(t *testing.T, addr, method, target string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", method, target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestShareLinks is the share-link bypass suite (issue 18 item 1) against the wired server: a
// link hands on at most what its creator may do now, only inside what was shared, and only what
// its kind allows.
func TestShareLinks(t *testing.T) {
	srv, root := testServer(t, users(
		`alice scope = "/home/alice";rules = [{ path = "/archive", permissions = "read-only" }, { path = "/docs/hidden", permissions = "none" }]`,
		`bob scope = "/home/bob"`,
		"admin",
	)+"\n[login_throttle]\nmax_failures = 1000\n")
	alice := client{t, srv.URL, "alice", "secret"}
	bob := client{t, srv.URL, "bob", "secret"}
	admin := client{t, srv.URL, "admin", "secret"}
	anon := client{t, srv.URL, "", ""}
	for _, d := range []string{"/home/alice/docs", "/home/alice/docs/sub", "/home/alice/docs/hidden", "/home/alice/private", "/home/alice/archive", "/home/alice/drop", "/home/bob/x"} {
		admin.want(201, "MKCOL", d, nil, "")
	}
	admin.want(201, "PUT", "/home/alice/docs/a.txt", nil, "shared a")
	admin.want(201, "PUT", "/home/alice/docs/sub/b.txt", nil, "shared b")
	admin.want(201, "PUT", "/home/alice/private/p.txt", nil, "private")
	admin.want(201, "PUT", "/home/alice/docs/hidden/h.txt", nil, "hidden from alice")
	admin.want(201, "PUT", "/home/alice/archive/old.txt", nil, "old")
	admin.want(201, "PUT", "/home/bob/x/bob.txt", nil, "bob's")
	// A symbolic link inside the shared folder to another folder of alice's own tree: alice may
	// read it, but it is not part of what she shared.
	if err := os.Symlink("../private", filepath.Join(root, "home", "alice", "docs", "tunnel")); err != nil {
		t.Fatal(err)
	}

	docs := alice.share("/docs", url.Values{"share": {"read"}})
	if !strings.HasSuffix(docs, "/") || len(docs) < len("/.davd-share/")+43 {
		t.Fatalf("folder link %q", docs)
	}

	t.Run("read link serves the folder to anyone", func(t *testing.T) {
		if got := anon.want(200, "GET", docs+"a.txt", nil, ""); got != "shared a" {
			t.Errorf("GET through the link: %q", got)
		}
		anon.want(200, "GET", docs+"sub/b.txt", nil, "")
		ms := anon.want(207, "PROPFIND", docs, map[string]string{"Depth": "1"}, "")
		if !strings.Contains(ms, "<D:href>"+docs+"a.txt</D:href>") || !strings.Contains(ms, docs+"sub/") {
			t.Errorf("listing through the link:\n%s", ms)
		}
		// A member alice's rules hide from her is hidden from her link's users too.
		anon.want(403, "GET", docs+"hidden/h.txt", nil, "")
		if strings.Contains(ms, "tunnel") || strings.Contains(ms, "hidden") || strings.Contains(ms, "home/alice") {
			t.Errorf("listing shows the symbolic link or the owner's paths:\n%s", ms)
		}
		// The browser view of the link offers nothing to change and names no user.
		page := anon.want(200, "GET", docs, map[string]string{"Accept": "text/html"}, "")
		if strings.Contains(page, `class="who"`) || strings.Contains(page, "alice") || !strings.Contains(page, "a.txt") {
			t.Errorf("link page:\n%s", page)
		}
	})

	t.Run("no way out of the shared folder", func(t *testing.T) {
		anon.want(403, "GET", docs+"tunnel/p.txt", nil, "")
		anon.want(403, "PROPFIND", docs+"tunnel", map[string]string{"Depth": "0"}, "")
		for _, target := range []string{
			docs + "../private/p.txt",
			docs + "%2e%2e/private/p.txt",
			docs + "sub/%2e%2e/%2e%2e/private/p.txt",
			docs + "..%2fprivate/p.txt",
			docs + "%2e%2e%2f%2e%2e%2fbob/x/bob.txt",
			strings.TrimSuffix(docs, "/") + "%2f..%2fprivate",
		} {
			if code := rawRequest(t, srv.Addr, "GET", target); code != 400 {
				t.Errorf("GET %s: %d, want 400", target, code)
			}
		}
		// The zip of the folder leaves the symbolic link out, like the listing.
		resp, body := anon.do("GET", docs+"?download=zip", nil, "")
		if resp.StatusCode != 200 || strings.Contains(body, "tunnel") || strings.Contains(body, "private") || !strings.Contains(body, "a.txt") {
			t.Errorf("zip through the link: %d, %d bytes", resp.StatusCode, len(body))
		}
	})

	t.Run("a read link writes nothing", func(t *testing.T) {
		for _, m := range []struct{ method, path, body string }{
			{"PUT", "a.txt", "overwritten"},
			{"PUT", "new.txt", "planted"},
			{"DELETE", "a.txt", ""},
			{"MKCOL", "newdir", ""},
			{"PROPPATCH", "a.txt", `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`},
			{"LOCK", "a.txt", lockBody},
		} {
			resp, _ := anon.do(m.method, docs+m.path, nil, m.body)
			if resp.StatusCode != 403 {
				t.Errorf("%s %s through a read link: %d, want 403", m.method, m.path, resp.StatusCode)
			}
		}
		for _, dst := range []string{srv.URL + "/home/alice/copied.txt", srv.URL + docs + "copied.txt", srv.URL + "/x.txt"} {
			for _, m := range []string{"COPY", "MOVE"} {
				resp, _ := anon.do(m, docs+"a.txt", map[string]string{"Destination": dst}, "")
				// 403 inside the link; 502 (RFC 4918 §9.8.5) for a Destination outside its URL space.
				if resp.StatusCode != 403 && resp.StatusCode != 502 {
					t.Errorf("%s to %s through a read link: %d, want 403 or 502", m, dst, resp.StatusCode)
				}
			}
		}
		if b, _ := os.ReadFile(filepath.Join(root, "home", "alice", "docs", "a.txt")); string(b) != "shared a" {
			t.Errorf("a.txt is now %q", b)
		}
		for _, p := range []string{"home/alice/docs/new.txt", "home/alice/copied.txt", "home/alice/docs/copied.txt", "x.txt", "home/alice/docs/newdir"} {
			if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
				t.Errorf("%s was created through a read link", p)
			}
		}
	})

	t.Run("the link is its owner's, with the owner's current rights", func(t *testing.T) {
		// alice cannot share what she may not change as an upload link, nor paths outside her scope.
		resp, _ := alice.do("POST", "/archive", map[string]string{"X-Requested-With": "davd-webui", "Content-Type": "application/x-www-form-urlencoded"}, "share=upload")
		if resp.StatusCode != 403 {
			t.Errorf("upload link to a read-only folder: %d, want 403", resp.StatusCode)
		}
		resp, _ = alice.do("POST", "/nothing", map[string]string{"X-Requested-With": "davd-webui", "Content-Type": "application/x-www-form-urlencoded"}, "share=read")
		if resp.StatusCode != 404 {
			t.Errorf("link to nothing: %d, want 404", resp.StatusCode)
		}
		// Without the page's header a POST is not a share request (a cross-site form cannot set it).
		resp, _ = alice.do("POST", "/docs", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "share=read")
		if resp.StatusCode == 201 {
			t.Error("a POST without X-Requested-With created a link")
		}
		for _, form := range []string{"share=write", "share=read&expires=-1", "share=read&expires=x", "share=read&password=" + strings.Repeat("p", 73)} {
			resp, _ = alice.do("POST", "/docs", map[string]string{"X-Requested-With": "davd-webui", "Content-Type": "application/x-www-form-urlencoded"}, form)
			if resp.StatusCode != 400 {
				t.Errorf("share form %q: %d, want 400", form, resp.StatusCode)
			}
		}
		// bob neither sees nor revokes alice's links.
		if l := bob.want(200, "GET", "/.davd-share/", nil, ""); strings.Contains(l, docs) {
			t.Errorf("bob's list shows alice's link: %s", l)
		}
		bob.want(404, "DELETE", docs, map[string]string{"X-Requested-With": "davd-webui"}, "")
		anon.want(200, "GET", docs+"a.txt", nil, "")
		if l := alice.want(200, "GET", "/.davd-share/", nil, ""); !strings.Contains(l, `"url":"`+docs+`"`) || !strings.Contains(l, `"path":"/docs"`) {
			t.Errorf("alice's list: %s", l)
		}
		// Without the header, DELETE is a use of the link, and a read link deletes nothing.
		anon.want(403, "DELETE", docs, nil, "")
		alice.want(403, "DELETE", docs, nil, "")
	})

	t.Run("a file link serves that file only", func(t *testing.T) {
		f := alice.share("/docs/a.txt", url.Values{"share": {"read"}})
		if !strings.HasSuffix(f, "/a.txt") {
			t.Fatalf("file link %q", f)
		}
		if got := anon.want(200, "GET", f, nil, ""); got != "shared a" {
			t.Errorf("GET %q", got)
		}
		dir := strings.TrimSuffix(f, "a.txt")
		anon.want(403, "GET", dir+"sub/b.txt", nil, "")
		anon.want(403, "PROPFIND", dir, map[string]string{"Depth": "1"}, "")
		anon.want(403, "GET", dir+"tunnel/p.txt", nil, "")
		resp, _ := alice.do("POST", "/docs/a.txt", map[string]string{"X-Requested-With": "davd-webui", "Content-Type": "application/x-www-form-urlencoded"}, "share=upload")
		if resp.StatusCode != 409 {
			t.Errorf("upload link to a file: %d, want 409", resp.StatusCode)
		}
	})

	t.Run("upload link takes new files and shows nothing", func(t *testing.T) {
		drop := alice.share("/drop", url.Values{"share": {"upload"}})
		anon.want(201, "PUT", drop+"report.pdf", nil, "first")
		anon.want(412, "PUT", drop+"report.pdf", nil, "second")
		if b, _ := os.ReadFile(filepath.Join(root, "home", "alice", "drop", "report.pdf")); string(b) != "first" {
			t.Errorf("report.pdf is %q: an upload link replaced a file", b)
		}
		anon.want(403, "GET", drop+"report.pdf", nil, "")
		anon.want(405, "PROPFIND", drop, map[string]string{"Depth": "1"}, "")
		anon.want(403, "GET", drop+"?download=zip", nil, "")
		anon.want(405, "DELETE", drop+"report.pdf", nil, "")
		anon.want(405, "MKCOL", drop+"d", nil, "")
		anon.want(405, "MOVE", drop+"report.pdf", map[string]string{"Destination": srv.URL + drop + "r2.pdf"}, "")
		anon.want(403, "PUT", drop+"sub/x.txt", nil, "deep")
		if code := rawRequest(t, srv.Addr, "PUT", drop+"%2e%2e/planted.txt"); code != 400 {
			t.Errorf("PUT ../ through an upload link: %d, want 400", code)
		}
		if page := anon.want(200, "GET", drop, map[string]string{"Accept": "text/html"}, ""); !strings.Contains(page, "Send files to") || strings.Contains(page, "report.pdf") {
			t.Errorf("drop page:\n%s", page)
		}
	})

	t.Run("renamed, deleted or revoked: gone", func(t *testing.T) {
		sub := alice.share("/docs/sub", url.Values{"share": {"read"}})
		anon.want(200, "GET", sub+"b.txt", nil, "")
		alice.want(201, "MOVE", "/docs/sub", map[string]string{"Destination": srv.URL + "/docs/moved"}, "")
		anon.want(404, "GET", sub+"b.txt", nil, "")
		anon.want(404, "PROPFIND", sub, map[string]string{"Depth": "0"}, "")
		// A file now at the folder's old path is not what was shared either.
		alice.want(201, "PUT", "/docs/sub", nil, "a file")
		anon.want(404, "GET", sub, nil, "")
		alice.want(204, "DELETE", "/docs/sub", nil, "")

		alice.want(204, "DELETE", docs, map[string]string{"X-Requested-With": "davd-webui"}, "")
		anon.want(404, "GET", docs+"a.txt", nil, "")
		anon.want(404, "PROPFIND", docs, map[string]string{"Depth": "0"}, "")
		alice.want(404, "DELETE", docs, map[string]string{"X-Requested-With": "davd-webui"}, "")
	})

	t.Run("password and expiry", func(t *testing.T) {
		pw := alice.share("/docs", url.Values{"share": {"read"}, "password": {"open sesame"}})
		anon.want(401, "GET", pw+"a.txt", nil, "")
		client{t, srv.URL, "x", "wrong"}.want(401, "GET", pw+"a.txt", nil, "")
		alice.want(401, "GET", pw+"a.txt", nil, "") // the owner's own password is not the link's
		if got := (client{t, srv.URL, "guest", "open sesame"}).want(200, "GET", pw+"a.txt", nil, ""); got != "shared a" {
			t.Errorf("GET with the password: %q", got)
		}
		client{t, srv.URL, "anyone", "open sesame"}.want(207, "PROPFIND", pw, map[string]string{"Depth": "1"}, "")
		if l := alice.want(200, "GET", "/.davd-share/", nil, ""); strings.Contains(l, "open sesame") || strings.Contains(l, "$2") {
			t.Errorf("the list shows the password or its hash: %s", l)
		}

		exp := alice.share("/docs", url.Values{"share": {"read"}, "expires": {"1"}})
		anon.want(200, "GET", exp+"a.txt", nil, "")
		time.Sleep(1100 * time.Millisecond)
		anon.want(404, "GET", exp+"a.txt", nil, "")
		if l := alice.want(200, "GET", "/.davd-share/", nil, ""); strings.Contains(l, exp) {
			t.Errorf("an expired link is still listed: %s", l)
		}
	})
}

// TestShareLinkGuessing: unknown tokens and wrong link passwords count with failed logins, so a
// guesser is banned (429) after a few, even for a real link, while others go on.
func TestShareLinkGuessing(t *testing.T) {
	srv, _ := testServer(t, users("alice"))
	alice := client{t, srv.URL, "alice", "secret"}
	alice.want(201, "MKCOL", "/d", nil, "")
	alice.want(201, "PUT", "/d/f.txt", nil, "f")
	link := alice.share("/d", url.Values{"share": {"read"}})
	anon := client{t, srv.URL, "", ""}
	anon.want(200, "GET", link+"f.txt", nil, "")
	for i := range 5 {
		fake := "/.davd-share/" + strings.Repeat(string(rune('A'+i)), 43) + "/f.txt"
		anon.want(404, "GET", fake, nil, "")
	}
	anon.want(429, "GET", link+"f.txt", nil, "")
	alice.want(429, "GET", "/d/f.txt", nil, "") // the ban is the login throttle's
}
