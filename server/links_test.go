package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesThroughLinks: the wiring checks each scope's rules where the scope's symbolic links
// lead, in the principal's view (issue 12, finding 6): a link inside carol's scope to a tree her
// rule denies is refused and hidden, while a user without rules still follows it.
func TestRulesThroughLinks(t *testing.T) {
	srv, root := testServer(t, users(
		`carol scope = "/team";rules = [{ path = "/secret", permissions = "none" }]`,
		"admin",
	))
	carol := client{t, srv.URL, "carol", "secret"}
	admin := client{t, srv.URL, "admin", "secret"}
	admin.want(201, "MKCOL", "/team/secret", nil, "")
	admin.want(201, "MKCOL", "/team/pub", nil, "")
	admin.want(201, "PUT", "/team/secret/s.txt", nil, "team secret")
	admin.want(201, "PUT", "/team/pub/p.txt", nil, "public")
	if err := os.Symlink("../secret", filepath.Join(root, "team", "pub", "link")); err != nil {
		t.Fatal(err)
	}
	carol.want(200, "GET", "/pub/p.txt", nil, "")
	carol.want(403, "GET", "/secret/s.txt", nil, "")
	carol.want(403, "GET", "/pub/link/s.txt", nil, "")
	carol.want(403, "PUT", "/pub/link/new.txt", nil, "planted")
	if _, err := os.Lstat(filepath.Join(root, "team", "secret", "new.txt")); err == nil {
		t.Error("PUT through the link created a file in the denied tree")
	}
	if ms := carol.want(207, "PROPFIND", "/pub", map[string]string{"Depth": "1"}, ""); strings.Contains(ms, "link") || !strings.Contains(ms, "p.txt") {
		t.Errorf("carol's listing of /pub:\n%s", ms)
	}
	if b := admin.want(200, "GET", "/team/pub/link/s.txt", nil, ""); b != "team secret" {
		t.Errorf("admin GET through the link: %q", b)
	}
}

// BenchmarkPropfindRules measures a PROPFIND Depth: 1 of a 1,000-member collection through the
// whole wiring (authentication, scope, policy), for a user without rules (the policy is asked
// nothing it must resolve) and for a user with rules (every member's path is checked against
// the rules, symbolic links included).
func BenchmarkPropfindRules(b *testing.B) {
	dir := b.TempDir()
	c := Defaults()
	c.AccessLog = false
	c.NoFsync = true
	doc := base(dir) + users(
		"plain",
		`ruled rules = [{ path = "/secret", permissions = "none" }, { path = "/pub", permissions = "read-only" }]`,
	)
	if err := Parse([]byte(doc), &c); err != nil {
		b.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		b.Fatal(err)
	}
	d := filepath.Join(c.Root, "d")
	if err := os.MkdirAll(d, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%04d.txt", i)), []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	in, err := Build(c, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	for _, user := range []string{"plain", "ruled"} {
		b.Run(user, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("PROPFIND", "/d/", nil)
				r.Header.Set("Depth", "1")
				r.SetBasicAuth(user, "secret")
				w := &discardBody{h: http.Header{}}
				in.Handler.ServeHTTP(w, r)
				if w.code != http.StatusMultiStatus {
					b.Fatalf("PROPFIND: %d", w.code)
				}
			}
		})
	}
}

// discardBody is a ResponseWriter that keeps the status and drops the body.
type discardBody struct {
	h    http.Header
	code int
}

func (d *discardBody) Header() http.Header { return d.h }
func (d *discardBody) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
func (d *discardBody) Write(p []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(p), nil
}
