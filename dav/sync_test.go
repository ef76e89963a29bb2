package dav_test

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/memprops"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
	"github.com/davd/davd/storage/osfs"
	"github.com/davd/davd/store/bolt"
	"github.com/davd/davd/syncstore"
)

// syncResult is a sync-collection REPORT's answer, sorted.
type syncResult struct {
	changed   []string // hrefs reported with propstat (new or changed, RFC 6578 §3.5.1)
	removed   []string // hrefs reported 404 without propstat (§3.5.2)
	truncated bool     // a 507 response for the request-URI (§3.6)
	token     string
	etags     map[string]string
}

// syncEnv builds an engine with a sync store over storage fs.
func syncEnv(t *testing.T, fs storage.Backend, store syncstore.Store, mod ...func(*dav.Config)) *env {
	t.Helper()
	lm, _ := memlock.New(memlock.Options{})
	cfg := dav.Config{Storage: fs, Props: memprops.New(props.Limits{}), Locks: lm, Sync: store,
		Limits: dav.Limits{PropfindInfinity: true}}
	for _, m := range mod {
		m(&cfg)
	}
	h, err := dav.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, h: h}
}

func syncBody(token, level, extra string) string {
	return `<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>` + token +
		`</D:sync-token><D:sync-level>` + level + `</D:sync-level>` + extra +
		`<D:prop><D:getetag/><D:displayname/></D:prop></D:sync-collection>`
}

// sync runs one sync-collection REPORT on target and classifies its responses.
func (e *env) sync(target, token, level, extra string) syncResult {
	e.t.Helper()
	w := e.mustDo(207, "REPORT", target, hdr{"Depth": "0"}, syncBody(token, level, extra))
	b := w.Body.Bytes()
	m := checkMultistatus(e.t, b)
	var tok struct {
		Token []string `xml:"DAV: sync-token"`
	}
	if err := xml.Unmarshal(b, &tok); err != nil || len(tok.Token) != 1 {
		e.t.Fatalf("RFC 6578 §6.4: want exactly one sync-token in the multistatus (%v)\n%s", err, b)
	}
	res := syncResult{token: tok.Token[0], etags: map[string]string{}}
	if !strings.HasPrefix(res.token, "urn:uuid:") {
		e.t.Fatalf("RFC 6578 §3.2: the token %q is not a URI", res.token)
	}
	for _, r := range m.Responses {
		switch {
		case strings.Contains(r.Status, " 507 "):
			if r.Href[0] != target {
				e.t.Fatalf("§3.6: 507 on %s, want the request-URI %s", r.Href[0], target)
			}
			if !strings.Contains(r.Error.Inner, "number-of-matches-within-limits") {
				e.t.Errorf("§3.6: 507 without number-of-matches-within-limits\n%s", b)
			}
			res.truncated = true
		case strings.Contains(r.Status, " 404 "):
			if len(r.Propstats) != 0 {
				e.t.Errorf("§3.5.2: removed member %s with a propstat", r.Href[0])
			}
			res.removed = append(res.removed, r.Href[0])
		case strings.HasPrefix(r.Status, "HTTP/1.1 30") && len(r.Propstats) == 0:
			// A changed redirect reference (RFC 4437): its redirect, with a DAV:location
			// (checkMultistatus checks that one is there).
			res.changed = append(res.changed, r.Href[0])
		case r.Status == "" && len(r.Propstats) > 0:
			res.changed = append(res.changed, r.Href[0])
			for _, ps := range r.Propstats {
				for _, a := range ps.Prop.Any {
					if a.XMLName.Local == "getetag" {
						res.etags[r.Href[0]] = a.Inner
					}
				}
			}
		default:
			e.t.Fatalf("unexpected response %+v\n%s", r, b)
		}
	}
	slices.Sort(res.changed)
	slices.Sort(res.removed)
	return res
}

func wantHrefs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// backends returns memfs and osfs storages, each with a way to write a file behind the
// engine's back (nil for memfs, which has no outside).
func backends(t *testing.T) map[string]func(t *testing.T) (storage.Backend, func(rel, content string)) {
	return map[string]func(t *testing.T) (storage.Backend, func(rel, content string)){
		"memfs": func(t *testing.T) (storage.Backend, func(string, string)) { return memfs.New(), nil },
		"osfs": func(t *testing.T) (storage.Backend, func(string, string)) {
			dir := t.TempDir()
			fs, err := osfs.New(dir, osfs.Options{NoFsync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fs.Close() })
			return fs, func(rel, content string) {
				p := filepath.Join(dir, filepath.FromSlash(rel))
				if content == "" {
					if err := os.RemoveAll(p); err != nil {
						t.Fatal(err)
					}
					return
				}
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

// TestSyncCollection runs RFC 6578's cycle on both backends: initial sync, change, add,
// delete, rename, an unchanged collection, and sync-level infinite.
func TestSyncCollection(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			fs, _ := mk(t)
			e := syncEnv(t, fs, syncstore.NewMemory(0, 0))
			e.mustDo(201, "MKCOL", "/c", nil, "")
			e.put("/c/a.txt", "a")
			e.put("/c/b.txt", "b")
			e.mustDo(201, "MKCOL", "/c/sub", nil, "")
			e.put("/c/sub/deep.txt", "deep")

			// §3.8: an empty token is the initial sync: every member, nothing removed.
			r0 := e.sync("/c/", "", "1", "")
			wantHrefs(t, "§3.8 initial changed", r0.changed, "/c/a.txt", "/c/b.txt", "/c/sub/")
			wantHrefs(t, "§3.8 initial removed", r0.removed)
			if r0.etags["/c/a.txt"] == "" {
				t.Errorf("§3.5.1: a member without its requested getetag")
			}

			// §3.9: nothing changed: nothing reported, and the same token back.
			r1 := e.sync("/c/", r0.token, "1", "")
			wantHrefs(t, "unchanged", r1.changed)
			wantHrefs(t, "unchanged removed", r1.removed)
			if r1.token != r0.token {
				t.Errorf("an unchanged collection got a new token %q (was %q)", r1.token, r0.token)
			}

			// §3.5.1 change and add, §3.5.2 delete.
			e.put("/c/a.txt", "a2")
			e.put("/c/new.txt", "n")
			e.mustDo(204, "DELETE", "/c/b.txt", nil, "")
			r2 := e.sync("/c/", r1.token, "1", "")
			wantHrefs(t, "change+add", r2.changed, "/c/a.txt", "/c/new.txt")
			wantHrefs(t, "delete", r2.removed, "/c/b.txt")
			if r2.token == r1.token {
				t.Error("a changed collection kept its token")
			}

			// A rename is a removal and a new member (§3.5).
			e.mustDo(201, "MOVE", "/c/new.txt", hdr{"Destination": "/c/renamed.txt"}, "")
			r3 := e.sync("/c/", r2.token, "1", "")
			wantHrefs(t, "rename new", r3.changed, "/c/renamed.txt")
			wantHrefs(t, "rename removed", r3.removed, "/c/new.txt")

			// A PROPPATCH changes what a client sees: reported too.
			e.mustDo(207, "PROPPATCH", "/c/a.txt", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:k xmlns:x="urn:x">v</x:k></D:prop></D:set></D:propertyupdate>`)
			r4 := e.sync("/c/", r3.token, "1", "")
			wantHrefs(t, "proppatch", r4.changed, "/c/a.txt")

			// §3.3 sync-level 1 does not see inside sub/; infinite does.
			e.put("/c/sub/deep.txt", "deeper")
			wantHrefs(t, "§3.3 level 1 below", e.sync("/c/", r4.token, "1", "").changed)
			i0 := e.sync("/c/", "", "infinite", "")
			wantHrefs(t, "§3.3 infinite initial", i0.changed, "/c/a.txt", "/c/renamed.txt", "/c/sub/", "/c/sub/deep.txt")
			e.put("/c/sub/deep.txt", "deepest")
			e.put("/c/sub/two.txt", "2")
			i1 := e.sync("/c/", i0.token, "infinite", "")
			wantHrefs(t, "§3.3 infinite change", i1.changed, "/c/sub/deep.txt", "/c/sub/two.txt")
			// A removed collection takes its members with it.
			e.mustDo(204, "DELETE", "/c/sub", nil, "")
			i2 := e.sync("/c/", i1.token, "infinite", "")
			wantHrefs(t, "§3.3 infinite delete", i2.removed, "/c/sub/", "/c/sub/deep.txt", "/c/sub/two.txt")
			wantHrefs(t, "§3.3 infinite delete changed", i2.changed)

			// A level-1 token is not a level-infinite one.
			w := e.mustDo(403, "REPORT", "/c/", nil, syncBody(r4.token, "infinite", ""))
			if !strings.Contains(w.Body.String(), "<D:valid-sync-token/>") {
				t.Errorf("§3.2: a token of another level without valid-sync-token: %s", w.Body)
			}
		})
	}
}

// TestSyncCollectionErrors: the request-level failures of RFC 6578 §3.2.
func TestSyncCollectionErrors(t *testing.T) {
	e := syncEnv(t, memfs.New(), syncstore.NewMemory(0, 0))
	e.mustDo(201, "MKCOL", "/c", nil, "")
	e.mustDo(201, "MKCOL", "/d", nil, "")
	e.put("/c/f", "f")
	tok := e.sync("/c/", "", "1", "").token
	for _, c := range []struct {
		name, target, body, depth string
		code                      int
		cond                      string
	}{
		{"§3.2 unknown token", "/c/", syncBody("urn:uuid:00000000-0000-4000-8000-000000000000", "1", ""), "0", 403, "valid-sync-token"},
		{"§3.2 malformed token", "/c/", syncBody("not a token", "1", ""), "0", 403, "valid-sync-token"},
		{"§3.2 another collection's token", "/d/", syncBody(tok, "1", ""), "0", 403, "valid-sync-token"},
		{"§3.2 Depth other than 0", "/c/", syncBody("", "1", ""), "1", 400, ""},
		{"RFC 3253 §3.6 unknown report", "/c/", `<D:version-tree xmlns:D="DAV:"/>`, "0", 403, "supported-report"},
		{"§3.2 not a collection", "/c/f", syncBody("", "1", ""), "0", 403, "supported-report"},
		{"§6.1 bad level", "/c/", syncBody("", "2", ""), "0", 422, ""},
		{"missing collection", "/nope/", syncBody("", "1", ""), "0", 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := e.with(t).mustDo(c.code, "REPORT", c.target, hdr{"Depth": c.depth}, c.body)
			if c.cond != "" && !strings.Contains(w.Body.String(), "<D:"+c.cond+"/>") {
				t.Errorf("want the %s precondition, got %s", c.cond, w.Body)
			}
		})
	}
	// The token itself is still good after all these refusals.
	wantHrefs(t, "own token", e.sync("/c/", tok, "1", "").changed)
}

// TestSyncCollectionTruncated: RFC 6578 §3.6 — past the limit (DAV:limit or the server's
// max_propfind_entries) the result is cut with a 507 for the request-URI, and the token
// given lets the client continue until it has everything, removals included.
func TestSyncCollectionTruncated(t *testing.T) {
	for _, c := range []struct {
		name  string
		limit int
		extra string
	}{
		{"client nresults", 0, `<D:limit><D:nresults>2</D:nresults></D:limit>`},
		{"server max_propfind_entries", 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := syncEnv(t, memfs.New(), syncstore.NewMemory(0, 0), func(cfg *dav.Config) { cfg.Limits.MaxPropfindEntries = c.limit })
			e.mustDo(201, "MKCOL", "/c", nil, "")
			for _, n := range []string{"1", "2", "3", "4", "5"} {
				e.put("/c/f"+n, n)
			}
			var seen []string
			tok := ""
			for i := 0; ; i++ {
				r := e.sync("/c/", tok, "1", c.extra)
				if len(r.changed) > 2 {
					t.Fatalf("round %d: %d members past a limit of 2", i, len(r.changed))
				}
				seen = append(seen, r.changed...)
				tok = r.token
				if !r.truncated {
					break
				}
				if i > 5 {
					t.Fatal("the truncated sync never ends")
				}
			}
			slices.Sort(seen)
			wantHrefs(t, "all rounds", seen, "/c/f1", "/c/f2", "/c/f3", "/c/f4", "/c/f5")
			// Removals are carried over the cut in the same way.
			for _, n := range []string{"1", "2", "3"} {
				e.mustDo(204, "DELETE", "/c/f"+n, nil, "")
			}
			e.put("/c/f5", "changed")
			r := e.sync("/c/", tok, "1", c.extra)
			if !r.truncated || len(r.changed)+len(r.removed) != 2 {
				t.Fatalf("4 changes at a limit of 2: %+v", r)
			}
			r2 := e.sync("/c/", r.token, "1", c.extra)
			if r2.truncated {
				t.Fatalf("second round still truncated: %+v", r2)
			}
			all := append(append(append([]string{}, r.removed...), r2.removed...), append(r.changed, r2.changed...)...)
			slices.Sort(all)
			wantHrefs(t, "carried over the cut", all, "/c/f1", "/c/f2", "/c/f3", "/c/f5")
		})
	}
}

// TestSyncCollectionExternalChange: a change made on disk by another program, with no
// request through davd at all, is in the next report (osfs).
func TestSyncCollectionExternalChange(t *testing.T) {
	fs, disk := backends(t)["osfs"](t)
	e := syncEnv(t, fs, syncstore.NewMemory(0, 0))
	disk("c/a.txt", "a")
	disk("c/gone.txt", "g")
	disk("c/sub/x.txt", "x")
	r0 := e.sync("/c/", "", "infinite", "")
	wantHrefs(t, "initial", r0.changed, "/c/a.txt", "/c/gone.txt", "/c/sub/", "/c/sub/x.txt")
	disk("c/a.txt", "a changed on disk")
	disk("c/gone.txt", "")
	disk("c/sub/y.txt", "y")
	r1 := e.sync("/c/", r0.token, "infinite", "")
	wantHrefs(t, "external change", r1.changed, "/c/a.txt", "/c/sub/y.txt")
	wantHrefs(t, "external delete", r1.removed, "/c/gone.txt")
}

// denyPath hides one path (and what is below it) from principal "bob".
type denyPath struct{ p davpath.Path }

func (d denyPath) Allow(_ context.Context, who string, _ access.Op, p davpath.Path) bool {
	return who != "bob" || !d.p.Contains(p)
}

// TestSyncCollectionAccess: members the principal may not read never appear, neither at
// level 1 nor below, and one user's token is unknown to another.
func TestSyncCollectionAccess(t *testing.T) {
	e := syncEnv(t, memfs.New(), syncstore.NewMemory(0, 0), func(c *dav.Config) { c.Access = denyPath{"/c/secret"} })
	e.mustDo(201, "MKCOL", "/c", nil, "")
	e.mustDo(201, "MKCOL", "/c/secret", nil, "")
	e.put("/c/secret/s.txt", "s")
	e.put("/c/open.txt", "o")
	bob := e.with(t)
	bob.principal = "bob"
	alice := e.with(t)
	alice.principal = "alice"
	for _, level := range []string{"1", "infinite"} {
		r := bob.sync("/c/", "", level, "")
		wantHrefs(t, "bob at level "+level, r.changed, "/c/open.txt")
	}
	ra := alice.sync("/c/", "", "infinite", "")
	wantHrefs(t, "alice", ra.changed, "/c/open.txt", "/c/secret/", "/c/secret/s.txt")
	rb := bob.sync("/c/", "", "infinite", "")
	// A change bob may not see is not reported to him; removal of what he never saw neither.
	e.put("/c/secret/s.txt", "s2")
	e.put("/c/secret/t.txt", "t")
	r := bob.sync("/c/", rb.token, "infinite", "")
	wantHrefs(t, "bob after hidden changes", r.changed)
	wantHrefs(t, "bob after hidden changes removed", r.removed)
	// Alice's token names members bob may not see: for bob it does not exist.
	w := bob.mustDo(403, "REPORT", "/c/", hdr{"Depth": "0"}, syncBody(ra.token, "infinite", ""))
	if !strings.Contains(w.Body.String(), "<D:valid-sync-token/>") {
		t.Errorf("another user's token without valid-sync-token: %s", w.Body)
	}
}

// TestSyncTokenProperty: RFC 6578 §4 — a collection's DAV:sync-token, asked for by name,
// is a token for its state now (stable while nothing changes) that a level-1 REPORT takes;
// it is not in allprop (§4.1). supported-report-set advertises sync-collection (§3.1,
// RFC 3253 §3.1.5).
func TestSyncTokenProperty(t *testing.T) {
	e := syncEnv(t, memfs.New(), syncstore.NewMemory(0, 0))
	e.mustDo(201, "MKCOL", "/c", nil, "")
	e.put("/c/a", "a")
	body := `<D:propfind xmlns:D="DAV:"><D:prop><D:sync-token/><D:supported-report-set/></D:prop></D:propfind>`
	prop := func() (token, reports string) {
		w := e.mustDo(207, "PROPFIND", "/c/", hdr{"Depth": "0"}, body)
		m := checkMultistatus(t, w.Body.Bytes())
		for _, ps := range m.Responses[0].Propstats {
			for _, a := range ps.Prop.Any {
				switch a.XMLName.Local {
				case "sync-token":
					token = a.Inner
				case "supported-report-set":
					reports = a.Inner
				}
			}
		}
		return token, reports
	}
	tok, reports := prop()
	if !strings.HasPrefix(tok, "urn:uuid:") {
		t.Fatalf("§4: sync-token property %q", tok)
	}
	if !strings.Contains(reports, "<D:sync-collection/>") {
		t.Fatalf("supported-report-set without sync-collection: %q", reports)
	}
	if again, _ := prop(); again != tok {
		t.Errorf("the token of an unchanged collection changed: %q, then %q", tok, again)
	}
	e.put("/c/b", "b")
	r := e.sync("/c/", tok, "1", "")
	wantHrefs(t, "report from the property's token", r.changed, "/c/b")
	if next, _ := prop(); next == tok {
		t.Error("the token did not change with the collection")
	}
	if w := e.mustDo(207, "PROPFIND", "/c/", hdr{"Depth": "0"}, allprop); strings.Contains(w.Body.String(), "sync-token") {
		t.Error("§4.1: sync-token in allprop")
	}
	// A file has no sync-token and reports no sync-collection.
	w := e.mustDo(207, "PROPFIND", "/c/a", hdr{"Depth": "0"}, body)
	if st := propStatus(t, w.Body.Bytes())["/c/a"]; st["sync-token"] != "404" || strings.Contains(w.Body.String(), "sync-collection") {
		t.Errorf("a file's sync properties: %v\n%s", st, w.Body)
	}
	// Without a sync store, nothing is advertised and REPORT is refused.
	plain := newEnv(t)
	plain.mustDo(201, "MKCOL", "/c", nil, "")
	w = plain.mustDo(207, "PROPFIND", "/c/", hdr{"Depth": "0"}, body)
	if st := propStatus(t, w.Body.Bytes())["/c/"]; st["sync-token"] != "404" || st["supported-report-set"] != "404" {
		t.Errorf("without a sync store: %v", st)
	}
	plain.mustDo(403, "REPORT", "/c/", nil, syncBody("", "1", ""))
}

// TestSyncCollectionRestart: with the bolt store, a token issued before a restart is good
// after it, and the report names what changed on disk while the server was down.
func TestSyncCollectionRestart(t *testing.T) {
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "davd.db")
	os.MkdirAll(filepath.Join(dir, "c"), 0o755)
	os.WriteFile(filepath.Join(dir, "c/a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "c/b.txt"), []byte("b"), 0o644)
	start := func() (*env, func()) {
		fs, db, stop := openDisk(t, dir, state)
		return syncEnv(t, fs, db.Sync(0, 0)), stop
	}
	e, stop := start()
	r0 := e.sync("/c/", "", "1", "")
	wantHrefs(t, "before", r0.changed, "/c/a.txt", "/c/b.txt")
	stop()
	// While the server is down, another program changes the tree.
	os.WriteFile(filepath.Join(dir, "c/a.txt"), []byte("a, changed while davd was down"), 0o644)
	os.Remove(filepath.Join(dir, "c/b.txt"))
	os.WriteFile(filepath.Join(dir, "c/n.txt"), []byte("n"), 0o644)
	e, stop = start()
	defer stop()
	r1 := e.sync("/c/", r0.token, "1", "")
	wantHrefs(t, "after restart changed", r1.changed, "/c/a.txt", "/c/n.txt")
	wantHrefs(t, "after restart removed", r1.removed, "/c/b.txt")
}

// openDisk opens davd's default backends, osfs over dir and the bolt store at state, as a
// restart test needs them: stop closes both, and a second call opens the same again.
func openDisk(t *testing.T, dir, state string) (*osfs.FS, *bolt.DB, func()) {
	t.Helper()
	fs, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(state, bolt.Options{NoSync: true})
	if err != nil {
		fs.Close()
		t.Fatal(err)
	}
	return fs, db, func() { db.Close(); fs.Close() }
}
