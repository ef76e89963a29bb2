//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// syncBody is a sync-collection REPORT (RFC 6578 §3.2) asking for getetag.
func syncBody(token, level string) []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>` + token +
		`</D:sync-token><D:sync-level>` + level + `</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)
}

var (
	syncTokenRe = regexp.MustCompile(`<D:sync-token>([^<]+)</D:sync-token>`)
	syncRespRe  = regexp.MustCompile(`(?s)<D:response>(.*?)</D:response>`)
	syncHrefRe  = regexp.MustCompile(`<D:href>([^<]+)</D:href>`)
)

// syncReport sends the REPORT and returns the new token and what changed: href → "changed" (a
// propstat, §3.5.1) or "removed" (a 404 status without propstat, §3.5.2).
func syncReport(t *testing.T, d *davd, auth func(req) req, path, token, level string) (string, map[string]string) {
	t.Helper()
	_, body := d.want(207, auth(req{Method: "REPORT", Path: path, Body: syncBody(token, level)}))
	m := syncTokenRe.FindSubmatch(body)
	if m == nil || !strings.HasPrefix(string(m[1]), "urn:uuid:") {
		t.Fatalf("REPORT: no urn:uuid: sync-token:\n%s", body)
	}
	changes := map[string]string{}
	for _, r := range syncRespRe.FindAllSubmatch(body, -1) {
		h := syncHrefRe.FindSubmatch(r[1])
		if h == nil {
			t.Fatalf("a response without href:\n%s", body)
		}
		switch {
		case strings.Contains(string(r[1]), "<D:propstat>"):
			changes[string(h[1])] = "changed"
		case strings.Contains(string(r[1]), "404 Not Found"):
			changes[string(h[1])] = "removed"
		default:
			t.Fatalf("a response neither changed nor removed:\n%s", r[1])
		}
	}
	return string(m[1]), changes
}

func sameChanges(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var g, w []string
	for k, v := range got {
		g = append(g, k+"="+v)
	}
	for k, v := range want {
		w = append(w, k+"="+v)
	}
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, " ") != strings.Join(w, " ") {
		t.Errorf("%s:\n got %v\nwant %v", what, g, w)
	}
}

// TestSyncCollection drives RFC 6578 against the binary: an initial sync (empty token, §3.4),
// then PUT, DELETE, PROPPATCH and MOVE through davd and a file written on disk by another
// program, each reported once with the token of the previous answer; an unchanged collection
// keeps its token; a token not issued is 403 valid-sync-token (§3.2); sync-level infinite sees
// nested changes, level 1 does not; and a token survives a restart, after which what changed
// on disk while davd was down is reported.
func TestSyncCollection(t *testing.T) {
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{Config: usersConfig(h, "alice")})
	alice := func(r req) req { r.User, r.Pass = "alice", "pw"; return r }
	d.want(201, alice(req{Method: "MKCOL", Path: "/c"}))
	d.want(201, alice(req{Method: "MKCOL", Path: "/c/sub"}))
	d.want(201, alice(req{Method: "PUT", Path: "/c/a.txt", Body: []byte("a")}))
	d.want(201, alice(req{Method: "PUT", Path: "/c/b.txt", Body: []byte("b")}))
	d.want(201, alice(req{Method: "PUT", Path: "/c/sub/n.txt", Body: []byte("n")}))

	tok, ch := syncReport(t, d, alice, "/c/", "", "1")
	sameChanges(t, "initial sync, level 1", ch, map[string]string{"/c/sub/": "changed", "/c/a.txt": "changed", "/c/b.txt": "changed"})
	inf, ch := syncReport(t, d, alice, "/c/", "", "infinite")
	sameChanges(t, "initial sync, infinite", ch, map[string]string{"/c/sub/": "changed", "/c/sub/n.txt": "changed", "/c/a.txt": "changed", "/c/b.txt": "changed"})

	if again, ch := syncReport(t, d, alice, "/c/", tok, "1"); again != tok || len(ch) != 0 {
		t.Errorf("unchanged collection: token %s (was %s), changes %v", again, tok, ch)
	}

	d.want(204, alice(req{Method: "PUT", Path: "/c/a.txt", Body: []byte("a2")}))
	d.want(204, alice(req{Method: "DELETE", Path: "/c/b.txt"}))
	d.want(207, alice(req{Method: "PROPPATCH", Path: "/c/sub/", Body: []byte(`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop><x:color>red</x:color></D:prop></D:set></D:propertyupdate>`)}))
	d.want(201, alice(req{Method: "MOVE", Path: "/c/sub/n.txt", Hdr: map[string]string{"Destination": d.URL + "c/moved.txt"}}))
	if err := os.WriteFile(filepath.Join(d.Root, "c", "ondisk.txt"), []byte("another program"), 0o644); err != nil {
		t.Fatal(err)
	}
	tok2, ch := syncReport(t, d, alice, "/c/", tok, "1")
	sameChanges(t, "level 1 after the changes", ch, map[string]string{
		"/c/a.txt": "changed", "/c/b.txt": "removed", "/c/sub/": "changed", "/c/moved.txt": "changed", "/c/ondisk.txt": "changed"})
	_, ch = syncReport(t, d, alice, "/c/", inf, "infinite")
	sameChanges(t, "infinite after the changes", ch, map[string]string{
		"/c/a.txt": "changed", "/c/b.txt": "removed", "/c/sub/": "changed", "/c/sub/n.txt": "removed", "/c/moved.txt": "changed", "/c/ondisk.txt": "changed"})

	_, body := d.want(403, alice(req{Method: "REPORT", Path: "/c/", Body: syncBody("urn:uuid:00000000-0000-4000-8000-000000000000", "1")}))
	if !strings.Contains(string(body), "valid-sync-token") {
		t.Errorf("unknown token: no valid-sync-token precondition:\n%s", body)
	}

	// A restart keeps the tokens; a change made while davd was down is reported.
	cfgPath := filepath.Join(filepath.Dir(d.Root), "davd.toml")
	d.stop()
	if err := os.Remove(filepath.Join(d.Root, "c", "a.txt")); err != nil {
		t.Fatal(err)
	}
	if err := d.start([]string{"-config", cfgPath, "-listen", d.Addr}); err != nil {
		t.Fatal(err)
	}
	_, ch = syncReport(t, d, alice, "/c/", tok2, "1")
	sameChanges(t, "after the restart", ch, map[string]string{"/c/a.txt": "removed"})
}

// TestClusterSyncCollection: in cluster mode a token issued by node a is good on node b, which
// reports the change made through a (the snapshots are shared: S3 and etcd).
func TestClusterSyncCollection(t *testing.T) {
	node := clusterNodes(t, "davd-sync", "", usersConfig(hashOf(t, "pw", 4), "alice"))
	a, b := node(), node()
	alice := func(r req) req { r.User, r.Pass = "alice", "pw"; return r }
	a.want(201, alice(req{Method: "MKCOL", Path: "/c"}))
	a.want(201, alice(req{Method: "PUT", Path: "/c/one.txt", Body: []byte("1")}))
	tok, _ := syncReport(t, a, alice, "/c/", "", "1")
	if again, ch := syncReport(t, b, alice, "/c/", tok, "1"); again != tok || len(ch) != 0 {
		t.Errorf("node b with node a's token: %s (want the same), changes %v", again, ch)
	}
	a.want(201, alice(req{Method: "PUT", Path: "/c/two.txt", Body: []byte("2")}))
	_, ch := syncReport(t, b, alice, "/c/", tok, "1")
	sameChanges(t, "node b after a PUT through node a", ch, map[string]string{"/c/two.txt": "changed"})
}
