//go:build e2e

package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestZipDownload: a folder downloaded as one archive (issue 18's `GET /DIR/?download=zip`) by
// curl, from the real binary, and checked by Info-ZIP's unzip, the extractor most scripts use.
// The tree has rules and symbolic links: user a, whose rule hides /secret, gets every file she
// may read and nothing of /secret, neither directly nor through the links that lead there; a
// user without rules gets a file link's content but no folder link entered; a link out of the
// root is never followed for anyone.
func TestZipDownload(t *testing.T) {
	curl := tool(t, "curl", "curl")
	unzip := tool(t, "unzip", "unzip")
	h := hashOf(t, "pw", 4)
	tree := symlinkRulesTree(t)
	d := startDavd(t, davdOpts{
		Config: usersConfig(h, `a|rules = [{ path = "/secret", permissions = "none" }]`, "plain"),
		Setup: func(root, outside string) {
			tree(root, outside)
			if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("outside the root\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for link, target := range map[string]string{"pub/out": outside, "pub/out.txt": filepath.Join(outside, "passwd")} {
				if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
	common := map[string]string{
		"pub/p.txt":           "public p\n",
		"alice/a.txt":         "alice's a\n",
		"bobdir/b.txt":        "bob's b\n",
		"team/secret/s.txt":   "team secret\n",
		"team/pub/p.txt":      "team public\n",
		"team/pub/sub/q.txt":  "team public q\n",
		"team/other/keep.txt": "keep\n",
	}
	with := func(m map[string]string, extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		user string
		want map[string]string
	}{
		{"a", common},
		{"plain", with(common, map[string]string{
			"secret/s.txt":     "secret s\n",
			"secret/sub/t.txt": "secret t\n",
			"pub/sfile":        "secret s\n", // a link to a file inside the root is that file
		})},
	} {
		t.Run(tc.user, func(t *testing.T) {
			dir := t.TempDir()
			zipFile := filepath.Join(dir, "files.zip")
			// -J takes the name from Content-Disposition; -f fails on any error status.
			out, err := runCmd(t, 60*time.Second, dir, nil, nil, curl, "-sSf", "-u", tc.user+":pw",
				"-o", zipFile, "-D", filepath.Join(dir, "headers"), d.URL+"?download=zip")
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			hdr, _ := os.ReadFile(filepath.Join(dir, "headers"))
			if !strings.Contains(strings.ToLower(string(hdr)), "content-type: application/zip") {
				t.Errorf("headers:\n%s", hdr)
			}
			if out, err := runCmd(t, 60*time.Second, dir, nil, nil, unzip, "-tq", zipFile); err != nil {
				t.Fatalf("unzip -t: %v\n%s", err, out)
			}
			ext := filepath.Join(dir, "x")
			if out, err := runCmd(t, 60*time.Second, dir, nil, nil, unzip, "-q", zipFile, "-d", ext); err != nil {
				t.Fatalf("unzip: %v\n%s", err, out)
			}
			got := map[string]string{}
			err = filepath.WalkDir(ext, func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if e.Type()&fs.ModeSymlink != 0 {
					t.Errorf("the archive holds a symbolic link: %s", p)
				}
				if e.Type().IsRegular() {
					b, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					rel, _ := filepath.Rel(ext, p)
					got[filepath.ToSlash(rel)] = string(b)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for n, c := range tc.want {
				if got[n] != c {
					t.Errorf("%s: %q, want %q", n, got[n], c)
				}
			}
			for n, c := range got {
				if _, ok := tc.want[n]; !ok {
					t.Errorf("unexpected member %s (%q)", n, c)
				}
			}
			// Folder links are entries, never entered: bobdir/toalice has nothing below it.
			if _, err := os.Stat(filepath.Join(ext, "bobdir/toalice/a.txt")); err == nil {
				t.Error("the walk entered a folder link")
			}
		})
	}
	// A folder a may not read is a 403, not an empty archive.
	d.want(403, req{Method: "GET", Path: "/secret/?download=zip", User: "a", Pass: "pw"})
}

// TestBrowserRights: the real binary's browser view offers a read-only user no Upload, New
// folder, Rename or Delete, and names the signed-in user; a read-write user gets them all
// (issue 18 item 7: the page knows the user's rights for the folder).
func TestBrowserRights(t *testing.T) {
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{
		Config: usersConfig(h, `reader|permissions = "read-only"`, "writer",
			`mixed|rules = [{ path = "/locked.txt", permissions = "read-only" }]`),
		Setup: func(root, _ string) {
			os.WriteFile(filepath.Join(root, "locked.txt"), []byte("x"), 0o644)
			os.WriteFile(filepath.Join(root, "free.txt"), []byte("y"), 0o644)
		},
	})
	page := func(user string) string {
		_, b := d.want(200, req{Method: "GET", Path: "/", User: user, Pass: "pw", Hdr: map[string]string{"Accept": "text/html"}})
		return string(b)
	}
	r := page("reader")
	if strings.Contains(r, `id="new-folder"`) || strings.Contains(r, `id="picker"`) || strings.Contains(r, `data-writable="true"`) {
		t.Errorf("a read-only user is offered changes:\n%s", r)
	}
	if !strings.Contains(r, `title="Signed in as reader"`) {
		t.Error("the page does not name the signed-in user")
	}
	w := page("writer")
	if !strings.Contains(w, `id="new-folder"`) || !strings.Contains(w, `id="picker"`) || strings.Contains(w, `data-writable="false"`) {
		t.Errorf("a read-write user is not offered changes:\n%s", w)
	}
	m := page("mixed")
	for _, row := range []struct{ name, want string }{{"locked.txt", "false"}, {"free.txt", "true"}} {
		re := regexp.MustCompile(`<tr data-name="` + regexp.QuoteMeta(row.name) + `"[^>]*data-writable="` + row.want + `"`)
		if !re.MatchString(m) {
			t.Errorf("mixed: row %s is not data-writable=%s", row.name, row.want)
		}
	}
}

// TestBrowserErrorPages: through the real binary, a browser that asks for something missing
// gets a page with a way back, and one refused its credentials a page to sign in again, both
// with the right status; a WebDAV client gets the plain answers as before.
func TestBrowserErrorPages(t *testing.T) {
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{Config: usersConfig(h, "alice")})
	html := map[string]string{"Accept": "text/html,application/xhtml+xml"}
	_, b := d.want(404, req{Method: "GET", Path: "/gone/file.txt", User: "alice", Pass: "pw", Hdr: html})
	if !strings.Contains(string(b), `href="/gone/">Parent folder`) || !strings.Contains(string(b), `href="/">Top`) {
		t.Errorf("404 page:\n%s", b)
	}
	_, b = d.want(401, req{Method: "GET", Path: "/", Hdr: html})
	if !strings.Contains(string(b), `<a href="">Sign in</a>`) {
		t.Errorf("401 page:\n%s", b)
	}
	if _, b = d.want(404, req{Method: "GET", Path: "/gone", User: "alice", Pass: "pw"}); string(b) != "Not Found\n" {
		t.Errorf("plain 404: %q", b)
	}
	if _, b = d.want(401, req{Method: "PROPFIND", Path: "/"}); string(b) != "Unauthorized\n" {
		t.Errorf("plain 401: %q", b)
	}
}
