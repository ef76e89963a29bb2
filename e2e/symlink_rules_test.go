//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// symlinkRulesTree lays out issue 12, finding 6: links inside each user's scope that lead
// into a tree their rules deny. a's rule: /secret = none, with pub/link -> ../secret,
// pub/sfile -> ../secret/s.txt and slink -> secret; bob's rule: /alice = none, with
// bobdir/toalice -> ../alice; carol (scope /team, rule /secret = none) has the same links
// inside her scope, to check the rules and the links meet in her view of the tree.
func symlinkRulesTree(t *testing.T) func(root, outside string) {
	return func(root, _ string) {
		for name, body := range map[string]string{
			"secret/s.txt":        "secret s\n",
			"secret/sub/t.txt":    "secret t\n",
			"pub/p.txt":           "public p\n",
			"alice/a.txt":         "alice's a\n",
			"bobdir/b.txt":        "bob's b\n",
			"team/secret/s.txt":   "team secret\n",
			"team/pub/p.txt":      "team public\n",
			"team/pub/sub/q.txt":  "team public q\n",
			"team/other/keep.txt": "keep\n",
		} {
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for link, target := range map[string]string{
			"pub/link":       "../secret",
			"pub/sfile":      "../secret/s.txt",
			"slink":          "secret",
			"bobdir/toalice": "../alice",
			"team/pub/link":  "../secret",
			"team/slink":     "secret",
		} {
			if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSymlinkAcrossRules: no symbolic link inside a user's scope carries the user across a
// rule (issue 12, finding 6), for any method, as the request path, the Destination, or a member
// of COPY, MOVE, DELETE, PROPFIND and the browser listing. The engine answers a denied request
// path with 403 and hides denied members from listings; here a link is denied when its target
// is. Every refused request leaves the tree byte-identical. It runs on both plain-HTTP servers.
func TestSymlinkAcrossRules(t *testing.T) {
	h := hashOf(t, "pw", 4)
	for _, http1 := range []string{"davd", "net/http"} {
		t.Run("http1="+http1, func(t *testing.T) { testSymlinkAcrossRules(t, h, http1) })
	}
}

func testSymlinkAcrossRules(t *testing.T, h, http1 string) {
	d := startDavd(t, davdOpts{
		Flags: []string{"-http1", http1},
		Config: usersConfig(h,
			`a|rules = [{ path = "/secret", permissions = "none" }]`,
			`bob|rules = [{ path = "/alice", permissions = "none" }]`,
			`carol|scope = "/team";rules = [{ path = "/secret", permissions = "none" }]`,
			"plain",
		),
		Setup: symlinkRulesTree(t),
	})
	as := func(user string) func(r req) req {
		return func(r req) req { r.User, r.Pass = user, "pw"; return r }
	}
	a, bob, carol, plain := as("a"), as("bob"), as("carol"), as("plain")
	dest := func(p string) map[string]string {
		return map[string]string{"Destination": strings.TrimSuffix(d.URL, "/") + p}
	}
	depth1 := map[string]string{"Depth": "1"}
	html := map[string]string{"Accept": "text/html"}
	proppatch := []byte(`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`)

	// The tree is served, and the rules hold on the direct paths.
	if _, b := d.want(200, a(req{Method: "GET", Path: "/pub/p.txt"})); string(b) != "public p\n" {
		t.Fatalf("GET /pub/p.txt: %q", b)
	}
	d.want(403, a(req{Method: "GET", Path: "/secret/s.txt"}))
	d.want(200, bob(req{Method: "GET", Path: "/bobdir/b.txt"}))
	d.want(403, bob(req{Method: "GET", Path: "/alice/a.txt"}))
	d.want(200, carol(req{Method: "GET", Path: "/pub/p.txt"}))
	d.want(403, carol(req{Method: "GET", Path: "/secret/s.txt"}))
	// A user without rules follows the links (nothing to cross).
	if _, b := d.want(200, plain(req{Method: "GET", Path: "/pub/link/s.txt"})); string(b) != "secret s\n" {
		t.Fatalf("plain GET through the link: %q", b)
	}

	// PROPFIND Depth 1 and the browser listing of the collection holding the links: the
	// links are hidden like any denied member, and nothing of the target shows.
	for _, c := range []struct {
		name  string
		r     req
		want  int
		links []string
		shown string
	}{
		{"PROPFIND Depth 1", a(req{Method: "PROPFIND", Path: "/pub", Hdr: depth1}), 207, []string{"link", "sfile"}, "p.txt"},
		{"PROPFIND Depth 1 of the root", a(req{Method: "PROPFIND", Path: "/", Hdr: depth1}), 207, []string{"slink"}, "pub"},
		{"browser listing", a(req{Method: "GET", Path: "/pub/", Hdr: html}), 200, []string{"link", "sfile"}, "p.txt"},
		{"bob PROPFIND Depth 1", bob(req{Method: "PROPFIND", Path: "/bobdir", Hdr: depth1}), 207, []string{"toalice"}, "b.txt"},
		{"bob browser listing", bob(req{Method: "GET", Path: "/bobdir/", Hdr: html}), 200, []string{"toalice"}, "b.txt"},
		{"carol PROPFIND Depth 1", carol(req{Method: "PROPFIND", Path: "/pub", Hdr: depth1}), 207, []string{"link"}, "p.txt"},
	} {
		st, _, body := d.do(c.r)
		if st != c.want {
			t.Errorf("%s: %d, want %d\n%.500s", c.name, st, c.want, body)
			continue
		}
		if !strings.Contains(string(body), c.shown) {
			t.Errorf("%s: %q is not listed:\n%.2000s", c.name, c.shown, body)
		}
		t.Run(c.name, func(t *testing.T) { hrefsLack(c.links...)(t, string(body)) })
	}

	before := treeHash(t, d.Root)
	for _, c := range []struct {
		name string
		r    req
	}{
		{"GET through a linked collection", a(req{Method: "GET", Path: "/pub/link/s.txt"})},
		{"GET through a top-level link", a(req{Method: "GET", Path: "/slink/s.txt"})},
		{"GET a linked file", a(req{Method: "GET", Path: "/pub/sfile"})},
		{"HEAD through a link", a(req{Method: "HEAD", Path: "/slink/sub/t.txt"})},
		{"browser GET of the linked collection", a(req{Method: "GET", Path: "/slink/", Hdr: html})},
		{"PUT through a link", a(req{Method: "PUT", Path: "/slink/new.txt", Body: []byte("planted")})},
		{"PUT through a nested link", a(req{Method: "PUT", Path: "/pub/link/new.txt", Body: []byte("planted")})},
		{"PUT over a file in the denied tree", a(req{Method: "PUT", Path: "/slink/s.txt", Body: []byte("overwritten")})},
		{"MKCOL through a link", a(req{Method: "MKCOL", Path: "/slink/newdir"})},
		{"DELETE through a link", a(req{Method: "DELETE", Path: "/slink/s.txt"})},
		{"DELETE a collection through a link", a(req{Method: "DELETE", Path: "/pub/link/sub"})},
		{"DELETE the link itself", a(req{Method: "DELETE", Path: "/slink"})},
		{"MOVE out through a link", a(req{Method: "MOVE", Path: "/slink/s.txt", Hdr: dest("/pub/stolen.txt")})},
		{"MOVE in through a link", a(req{Method: "MOVE", Path: "/pub/p.txt", Hdr: dest("/slink/p.txt")})},
		{"MOVE the link itself", a(req{Method: "MOVE", Path: "/slink", Hdr: dest("/slink2")})},
		{"COPY source through a link", a(req{Method: "COPY", Path: "/slink/s.txt", Hdr: dest("/pub/stolen.txt")})},
		{"COPY source a linked collection", a(req{Method: "COPY", Path: "/pub/link", Hdr: dest("/stolen")})},
		{"COPY destination through a link", a(req{Method: "COPY", Path: "/pub/p.txt", Hdr: dest("/slink/p.txt")})},
		{"PROPPATCH through a link", a(req{Method: "PROPPATCH", Path: "/slink/s.txt", Body: proppatch})},
		{"LOCK through a link", a(req{Method: "LOCK", Path: "/slink/s.txt", Body: []byte(exclusiveLock)})},
		{"LOCK an unmapped URL through a link", a(req{Method: "LOCK", Path: "/slink/locknull.txt", Body: []byte(exclusiveLock)})},
		{"PROPFIND the linked collection", a(req{Method: "PROPFIND", Path: "/slink", Hdr: depth1})},
		{"PROPFIND through a nested link", a(req{Method: "PROPFIND", Path: "/pub/link/sub", Hdr: depth1})},
		{"bob GET through a link", bob(req{Method: "GET", Path: "/bobdir/toalice/a.txt"})},
		{"bob PUT through a link", bob(req{Method: "PUT", Path: "/bobdir/toalice/new.txt", Body: []byte("planted")})},
		{"bob DELETE through a link", bob(req{Method: "DELETE", Path: "/bobdir/toalice/a.txt"})},
		{"bob MOVE out through a link", bob(req{Method: "MOVE", Path: "/bobdir/toalice/a.txt", Hdr: dest("/bobdir/stolen.txt")})},
		{"bob COPY out through a link", bob(req{Method: "COPY", Path: "/bobdir/toalice/a.txt", Hdr: dest("/bobdir/stolen.txt")})},
		{"bob COPY in through a link", bob(req{Method: "COPY", Path: "/bobdir/b.txt", Hdr: dest("/bobdir/toalice/b.txt")})},
		{"bob PROPPATCH through a link", bob(req{Method: "PROPPATCH", Path: "/bobdir/toalice/a.txt", Body: proppatch})},
		{"bob LOCK through a link", bob(req{Method: "LOCK", Path: "/bobdir/toalice/a.txt", Body: []byte(exclusiveLock)})},
		{"bob PROPFIND through a link", bob(req{Method: "PROPFIND", Path: "/bobdir/toalice", Hdr: depth1})},
		{"carol GET through a link in her scope", carol(req{Method: "GET", Path: "/pub/link/s.txt"})},
		{"carol PUT through a link in her scope", carol(req{Method: "PUT", Path: "/slink/new.txt", Body: []byte("planted")})},
		{"carol DELETE through a link in her scope", carol(req{Method: "DELETE", Path: "/slink/s.txt"})},
		// Members: MOVE of a tree with a link into the denied tree refuses it (207) and
		// moves nothing.
		{"MOVE of a tree holding the links", a(req{Method: "MOVE", Path: "/pub", Hdr: dest("/moved")})},
		{"carol MOVE of a tree holding the link", carol(req{Method: "MOVE", Path: "/pub", Hdr: dest("/moved")})},
	} {
		want := 403
		if strings.HasPrefix(c.name, "MOVE of a tree") || strings.HasPrefix(c.name, "carol MOVE of a tree") {
			want = 207
		}
		st, _, body := d.do(c.r)
		if st != want {
			t.Errorf("%s: %s %s as %s: %d, want %d\n%.500s", c.name, c.r.Method, c.r.Path, c.r.User, st, want, body)
		}
		if want == 207 && !strings.Contains(string(body), "403") {
			t.Errorf("%s: the refused members are not reported:\n%.1000s", c.name, body)
		}
	}
	if treeHash(t, d.Root) != before {
		t.Error("a refused request changed the tree")
	}

	// Members of COPY and DELETE: the links are refused as members (207 with 403), the rest
	// is copied or removed, and nothing of the denied tree is copied or removed.
	_, body := d.want(207, a(req{Method: "COPY", Path: "/pub", Hdr: dest("/pub2")}))
	if !strings.Contains(string(body), "/pub2/sfile") || !strings.Contains(string(body), "/pub2/link") || !strings.Contains(string(body), "403") {
		t.Errorf("COPY: the linked members are not refused:\n%s", body)
	}
	if b, err := os.ReadFile(filepath.Join(d.Root, "pub2/p.txt")); err != nil || string(b) != "public p\n" {
		t.Errorf("COPY did not copy the allowed member: %q %v", b, err)
	}
	for _, name := range []string{"pub2/sfile", "pub2/link"} {
		if _, err := os.Lstat(filepath.Join(d.Root, name)); err == nil {
			t.Errorf("COPY copied the linked member %s", name)
		}
	}
	_, body = d.want(207, a(req{Method: "DELETE", Path: "/pub"}))
	if !strings.Contains(string(body), "/pub/sfile") || !strings.Contains(string(body), "/pub/link") {
		t.Errorf("DELETE: the linked members are not refused:\n%s", body)
	}
	for _, name := range []string{"pub/link", "pub/sfile", "secret/s.txt", "secret/sub/t.txt"} {
		if _, err := os.Lstat(filepath.Join(d.Root, name)); err != nil {
			t.Errorf("DELETE of /pub removed %s: %v", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(d.Root, "pub/p.txt")); err == nil {
		t.Error("DELETE of /pub kept the allowed member")
	}
	_, body = d.want(207, bob(req{Method: "DELETE", Path: "/bobdir"}))
	if !strings.Contains(string(body), "/bobdir/toalice") {
		t.Errorf("bob DELETE: the link is not refused:\n%s", body)
	}
	if b, err := os.ReadFile(filepath.Join(d.Root, "alice/a.txt")); err != nil || string(b) != "alice's a\n" {
		t.Errorf("bob's DELETE reached alice's file: %q %v", b, err)
	}
}
