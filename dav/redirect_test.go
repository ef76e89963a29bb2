package dav_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/storage/memfs"
	"github.com/davd/davd/storage/osfs"
	"github.com/davd/davd/syncstore"
)

// readOnly lets everyone read and no one write.
type readOnly struct{}

func (readOnly) Allow(_ context.Context, _ string, op access.Op, _ davpath.Path) bool {
	return op == access.Read
}

func mkref(target, lifetime string) string {
	b := `<?xml version="1.0" encoding="utf-8"?><D:mkredirectref xmlns:D="DAV:"><D:reftarget><D:href>` + target + `</D:href></D:reftarget>`
	if lifetime != "" {
		b += `<D:redirect-lifetime><D:` + lifetime + `/></D:redirect-lifetime>`
	}
	return b + `</D:mkredirectref>`
}

const refProps = `<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:reftarget/><D:redirect-lifetime/><D:getcontentlength/></D:prop></D:propfind>`

// redirectEnvs are the engine over memfs and over osfs (with a file system's own rules).
func redirectEnvs(t *testing.T) map[string]*env {
	fsys, err := osfs.New(t.TempDir(), osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return map[string]*env{"memfs": newEnv(t), "osfs": newEnv(t, func(c *dav.Config) { c.Storage = fsys })}
}

// wantRedirect checks that a request answered a reference's redirect (RFC 4437): the status,
// Location and Redirect-Ref with the target.
func wantRedirect(t *testing.T, e *env, method, target string, h hdr, body string, code int, to string) {
	t.Helper()
	w := e.mustDo(code, method, target, h, body)
	if got := w.Header().Get("Location"); got != to {
		t.Errorf("%s %s: Location %q, want %q", method, target, got, to)
	}
	if got := w.Header().Get("Redirect-Ref"); got != to {
		t.Errorf("%s %s: Redirect-Ref %q, want %q", method, target, got, to)
	}
}

// memberOf returns the response for href in a multistatus body.
func memberOf(t *testing.T, b []byte, href string) msResponse {
	t.Helper()
	for _, r := range checkMultistatus(t, b).Responses {
		if r.Href[0] == href {
			return r
		}
	}
	t.Fatalf("no response for %s in\n%s", href, b)
	return msResponse{}
}

// TestRedirectRefs: RFC 4437 redirect references, created with MKREDIRECTREF and changed with
// UPDATEREDIRECTREF, answer GET, HEAD, PUT, PROPFIND and PROPPATCH with their 302 or 301 and
// Location unless the request carries Apply-To-Redirect-Ref: T; inside a PROPFIND 207 a
// reference member is a response with its status and a DAV:location (RFC 4918 §14.9), never a
// Location header on the 207 (the env checks that on every request); COPY, MOVE and DELETE act
// on the reference itself.
func TestRedirectRefs(t *testing.T) {
	for name, e := range redirectEnvs(t) {
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			e.mustDo(201, "MKCOL", "/c", nil, "")
			e.put("/c/file.txt", "content")
			w := e.mustDo(201, "MKREDIRECTREF", "/c/ref", nil, mkref("/c/file.txt", ""))
			if w.Header().Get("Location") != "/c/ref" {
				t.Errorf("201 Location = %q", w.Header().Get("Location"))
			}
			e.mustDo(201, "MKREDIRECTREF", "/c/perm", nil, mkref("https://example.org/a?b=1&amp;c=2", "permanent"))

			t.Run("GET, HEAD, PUT and PROPPATCH are redirected", func(t *testing.T) {
				e := e.with(t)
				wantRedirect(t, e, "GET", "/c/ref", nil, "", 302, "/c/file.txt")
				wantRedirect(t, e, "HEAD", "/c/ref", nil, "", 302, "/c/file.txt")
				wantRedirect(t, e, "GET", "/c/perm", nil, "", 301, "https://example.org/a?b=1&c=2")
				wantRedirect(t, e, "PUT", "/c/ref", nil, "new content", 302, "/c/file.txt")
				wantRedirect(t, e, "PUT", "/c/ref", hdr{"Content-Range": "bytes 0-2/3"}, "abc", 302, "/c/file.txt")
				wantRedirect(t, e, "PROPPATCH", "/c/ref", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`, 302, "/c/file.txt")
				wantRedirect(t, e, "PROPFIND", "/c/ref", hdr{"Depth": "0"}, refProps, 302, "/c/file.txt")
				// The PUT did not land: the reference is still one.
				wantRedirect(t, e, "GET", "/c/ref", nil, "", 302, "/c/file.txt")
			})
			t.Run("Apply-To-Redirect-Ref: T applies to the reference itself", func(t *testing.T) {
				e := e.with(t)
				w := e.mustDo(200, "GET", "/c/ref", hdr{"Apply-To-Redirect-Ref": "T"}, "")
				if w.Body.Len() != 0 || w.Header().Get("Location") != "" {
					t.Errorf("GET with T: %q, Location %q", w.Body.String(), w.Header().Get("Location"))
				}
				b := e.mustDo(207, "PROPFIND", "/c/ref", hdr{"Depth": "0", "Apply-To-Redirect-Ref": "T"}, refProps).Body.String()
				for _, want := range []string{"<D:resourcetype><D:redirectref/></D:resourcetype>", "<D:reftarget><D:href>/c/file.txt</D:href></D:reftarget>", "<D:redirect-lifetime><D:temporary/></D:redirect-lifetime>"} {
					if !strings.Contains(b, want) {
						t.Errorf("PROPFIND with T lacks %s:\n%s", want, b)
					}
				}
				b = e.mustDo(207, "PROPFIND", "/c/perm", hdr{"Depth": "0", "Apply-To-Redirect-Ref": "T"}, allprop).Body.String()
				for _, want := range []string{"<D:redirectref/>", "<D:href>https://example.org/a?b=1&amp;c=2</D:href>", "<D:permanent/>"} {
					if !strings.Contains(b, want) {
						t.Errorf("allprop with T lacks %s:\n%s", want, b)
					}
				}
				if strings.Contains(b, "urn:x-davd") {
					t.Errorf("davd's own property is shown:\n%s", b)
				}
				// Protected (set only by UPDATEREDIRECTREF); a dead property may be set on the reference.
				b = e.mustDo(207, "PROPPATCH", "/c/ref", hdr{"Apply-To-Redirect-Ref": "T"}, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:reftarget><D:href>/x</D:href></D:reftarget></D:prop></D:set></D:propertyupdate>`).Body.String()
				if !strings.Contains(b, "403") || !strings.Contains(b, "cannot-modify-protected-property") {
					t.Errorf("PROPPATCH of reftarget:\n%s", b)
				}
				b = e.mustDo(207, "PROPPATCH", "/c/ref", hdr{"Apply-To-Redirect-Ref": "T"}, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`).Body.String()
				if !strings.Contains(b, "200 OK") {
					t.Errorf("PROPPATCH of a dead property with T:\n%s", b)
				}
				wantRedirect(t, e, "GET", "/c/ref", nil, "", 302, "/c/file.txt")
			})
			t.Run("a PROPFIND member is its status with DAV:location", func(t *testing.T) {
				e := e.with(t)
				for range 2 { // the second answer comes from the listing cache
					b := e.mustDo(207, "PROPFIND", "/c/", hdr{"Depth": "1"}, refProps).Body.Bytes()
					r := memberOf(t, b, "/c/ref")
					if r.Status != "HTTP/1.1 302 Found" || len(r.Propstats) != 0 || len(r.Location.Href) != 1 || r.Location.Href[0] != "/c/file.txt" {
						t.Errorf("reference member: %+v\n%s", r, b)
					}
					r = memberOf(t, b, "/c/perm")
					if r.Status != "HTTP/1.1 301 Moved Permanently" || r.Location.Href[0] != "https://example.org/a?b=1&c=2" {
						t.Errorf("permanent member: %+v", r)
					}
					if r := memberOf(t, b, "/c/file.txt"); len(r.Propstats) == 0 || r.Status != "" {
						t.Errorf("ordinary member: %+v", r)
					}
				}
				b := e.mustDo(207, "PROPFIND", "/c/", hdr{"Depth": "1", "Apply-To-Redirect-Ref": "T"}, refProps).Body.Bytes()
				if r := memberOf(t, b, "/c/ref"); r.Status != "" || !strings.Contains(string(b), "<D:redirectref/>") {
					t.Errorf("member with T: %+v\n%s", r, b)
				}
			})
			t.Run("UPDATEREDIRECTREF changes target and lifetime", func(t *testing.T) {
				e := e.with(t)
				e.mustDo(200, "UPDATEREDIRECTREF", "/c/ref", nil, `<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/c/other.txt</D:href></D:reftarget></D:updateredirectref>`)
				wantRedirect(t, e, "GET", "/c/ref", nil, "", 302, "/c/other.txt")
				e.mustDo(200, "UPDATEREDIRECTREF", "/c/ref", nil, `<D:updateredirectref xmlns:D="DAV:"><D:redirect-lifetime><D:permanent/></D:redirect-lifetime></D:updateredirectref>`)
				wantRedirect(t, e, "GET", "/c/ref", nil, "", 301, "/c/other.txt")
				// The kept listing follows the change.
				r := memberOf(t, e.mustDo(207, "PROPFIND", "/c/", hdr{"Depth": "1"}, refProps).Body.Bytes(), "/c/ref")
				if r.Status != "HTTP/1.1 301 Moved Permanently" || r.Location.Href[0] != "/c/other.txt" {
					t.Errorf("listing after the update: %+v", r)
				}
				e.mustDo(200, "UPDATEREDIRECTREF", "/c/ref", nil, `<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/c/file.txt</D:href></D:reftarget><D:redirect-lifetime><D:temporary/></D:redirect-lifetime></D:updateredirectref>`)
				wantRedirect(t, e, "GET", "/c/ref", nil, "", 302, "/c/file.txt")
				// Only a reference takes it.
				e.mustDo(405, "UPDATEREDIRECTREF", "/c/file.txt", nil, `<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/x</D:href></D:reftarget></D:updateredirectref>`)
				e.mustDo(404, "UPDATEREDIRECTREF", "/c/none", nil, `<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/x</D:href></D:reftarget></D:updateredirectref>`)
				e.mustDo(422, "UPDATEREDIRECTREF", "/c/ref", nil, `<D:updateredirectref xmlns:D="DAV:"/>`)
			})
			t.Run("MKREDIRECTREF refusals", func(t *testing.T) {
				e := e.with(t)
				w := e.mustDo(403, "MKREDIRECTREF", "/c/file.txt", nil, mkref("/x", ""))
				if !strings.Contains(w.Body.String(), "resource-must-be-null") {
					t.Errorf("existing: %s", w.Body.String())
				}
				e.mustDo(403, "MKREDIRECTREF", "/c", nil, mkref("/x", ""))
				e.mustDo(403, "MKREDIRECTREF", "/", nil, mkref("/x", ""))
				w = e.mustDo(409, "MKREDIRECTREF", "/none/ref", nil, mkref("/x", ""))
				if !strings.Contains(w.Body.String(), "parent-resource-must-be-non-null") {
					t.Errorf("missing parent: %s", w.Body.String())
				}
				e.mustDo(409, "MKREDIRECTREF", "/c/file.txt/ref", nil, mkref("/x", ""))
				e.mustDo(400, "MKREDIRECTREF", "/c/r1", nil, "")
				e.mustDo(400, "MKREDIRECTREF", "/c/r1", nil, "<D:mkredirectref xmlns:D=\"DAV:\">")
				e.mustDo(422, "MKREDIRECTREF", "/c/r1", nil, `<D:mkredirectref xmlns:D="DAV:"/>`)
				e.mustDo(422, "MKREDIRECTREF", "/c/r1", nil, mkref("/a b", ""))
				e.mustDo(422, "MKREDIRECTREF", "/c/r1", nil, mkref("http://[::1", ""))
				e.mustDo(403, "MKREDIRECTREF", "/c/r1", nil, mkref("javascript:alert(1)", ""))
				e.mustDo(403, "MKREDIRECTREF", "/c/r1", nil, mkref("file:///etc/passwd", ""))
				e.mustDo(422, "MKREDIRECTREF", "/c/r1", nil, mkref("/caf\u00e9", ""))
				e.mustDo(201, "MKREDIRECTREF", "/c/r1", nil, mkref("/caf%C3%A9", ""))
				wantRedirect(t, e, "GET", "/c/r1", nil, "", 302, "/caf%C3%A9")
				e.mustDo(204, "DELETE", "/c/r1", nil, "")
				e.mustDo(404, "GET", "/c/r1", nil, "")
			})
			t.Run("COPY, MOVE and DELETE act on the reference", func(t *testing.T) {
				e := e.with(t)
				e.mustDo(201, "COPY", "/c/ref", hdr{"Destination": "/c/copy"}, "")
				wantRedirect(t, e, "GET", "/c/copy", nil, "", 302, "/c/file.txt")
				wantRedirect(t, e, "GET", "/c/ref", nil, "", 302, "/c/file.txt")
				e.mustDo(201, "MOVE", "/c/copy", hdr{"Destination": "/c/moved"}, "")
				e.mustDo(404, "GET", "/c/copy", hdr{"Apply-To-Redirect-Ref": "T"}, "")
				wantRedirect(t, e, "GET", "/c/moved", nil, "", 302, "/c/file.txt")
				// A collection with a reference in it copies and moves with it.
				e.mustDo(201, "COPY", "/c/", hdr{"Destination": "/c2/"}, "")
				wantRedirect(t, e, "GET", "/c2/ref", nil, "", 302, "/c/file.txt")
				e.mustDo(201, "MOVE", "/c2/", hdr{"Destination": "/c3/"}, "")
				wantRedirect(t, e, "GET", "/c3/perm", nil, "", 301, "https://example.org/a?b=1&c=2")
				e.mustDo(204, "DELETE", "/c/moved", nil, "")
				e.mustDo(404, "GET", "/c/moved", nil, "")
				// A new empty file at the name is an ordinary file: the reference left nothing behind.
				e.mustDo(201, "PUT", "/c/moved", nil, "")
				e.mustDo(200, "GET", "/c/moved", nil, "")
				e.mustDo(204, "DELETE", "/c3/", nil, "")
			})
			t.Run("PUT with T makes it an ordinary file", func(t *testing.T) {
				e := e.with(t)
				e.mustDo(201, "MKREDIRECTREF", "/c/r2", nil, mkref("/c/file.txt", ""))
				e.mustDo(204, "PUT", "/c/r2", hdr{"Apply-To-Redirect-Ref": "T"}, "now a file")
				if code, body := e.get("/c/r2"); code != 200 || body != "now a file" {
					t.Fatalf("GET after PUT with T: %d %q", code, body)
				}
				// Emptied again, it stays an ordinary file.
				e.mustDo(204, "PUT", "/c/r2", nil, "")
				e.mustDo(200, "GET", "/c/r2", nil, "")
			})
			t.Run("locks: a new reference in a locked collection needs the token", func(t *testing.T) {
				e := e.with(t)
				e.mustDo(201, "MKCOL", "/l", nil, "")
				tok := e.lock("/l", hdr{"Depth": "infinity"}, exclusive)
				w := e.mustDo(423, "MKREDIRECTREF", "/l/ref", nil, mkref("/c/file.txt", ""))
				if !strings.Contains(w.Body.String(), "lock-token-submitted") {
					t.Errorf("423 without the precondition: %s", w.Body.String())
				}
				e.mustDo(201, "MKREDIRECTREF", "/l/ref", hdr{"If": "(<" + tok + ">)"}, mkref("/c/file.txt", ""))
				e.mustDo(423, "UPDATEREDIRECTREF", "/l/ref", nil, `<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/x</D:href></D:reftarget></D:updateredirectref>`)
				e.mustDo(200, "UPDATEREDIRECTREF", "/l/ref", hdr{"If": "(<" + tok + ">)"}, `<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/x</D:href></D:reftarget></D:updateredirectref>`)
				wantRedirect(t, e, "GET", "/l/ref", nil, "", 302, "/x")
			})
			t.Run("access: a reader may not make references", func(t *testing.T) {
				ro := newEnv(t, func(c *dav.Config) { c.Access = readOnly{} })
				ro.mustDo(403, "MKREDIRECTREF", "/c/r3", nil, mkref("/x", ""))
				ro.mustDo(403, "UPDATEREDIRECTREF", "/c/ref", nil, `<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/x</D:href></D:reftarget></D:updateredirectref>`)
			})
		})
	}
}

// TestRedirectRefStale: a reference whose file another program removed leaves its property
// behind (as any dead property); an empty file made later at that name, by PUT or by a LOCK of
// the unmapped URL, is an ordinary file, not the old reference back.
func TestRedirectRefStale(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, name := range []string{"/put", "/lock"} {
		e.mustDo(201, "MKREDIRECTREF", name, nil, mkref("/elsewhere", ""))
		p, err := davpath.Parse(name, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.fs.Remove(ctx, p); err != nil { // behind the engine's back
			t.Fatal(err)
		}
	}
	e.mustDo(201, "PUT", "/put", nil, "")
	e.lock("/lock", nil, exclusive)
	for _, name := range []string{"/put", "/lock"} {
		if w := e.mustDo(200, "GET", name, nil, ""); w.Header().Get("Location") != "" {
			t.Errorf("%s: a Location after the new empty file", name)
		}
	}
}

// TestRedirectRefsRestart: a redirect reference is kept by the storage and the property store,
// so it survives a restart of the server (osfs with the bolt store, davd's default); a file
// that gets content on disk from another program is no longer a reference.
func TestRedirectRefsRestart(t *testing.T) {
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "davd.db")
	start := func() (*env, func()) {
		fs, db, stop := openDisk(t, dir, state)
		lm, _ := memlock.New(memlock.Options{})
		return newEnv(t, func(c *dav.Config) { c.Storage = fs; c.Props = db.Props(); c.Locks = lm }), stop
	}
	e, stop := start()
	e.mustDo(201, "MKREDIRECTREF", "/ref", nil, mkref("/target", "permanent"))
	e.mustDo(201, "MKREDIRECTREF", "/ref2", nil, mkref("/target2", ""))
	stop()
	e, stop = start()
	defer stop()
	wantRedirect(t, e, "GET", "/ref", nil, "", 301, "/target")
	r := memberOf(t, e.mustDo(207, "PROPFIND", "/", hdr{"Depth": "1"}, refProps).Body.Bytes(), "/ref2")
	if r.Status != "HTTP/1.1 302 Found" || r.Location.Href[0] != "/target2" {
		t.Errorf("after restart: %+v", r)
	}
	if err := os.WriteFile(filepath.Join(dir, "ref2"), []byte("written on disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := e.get("/ref2"); code != 200 || body != "written on disk" {
		t.Errorf("a reference given content on disk: %d %q", code, body)
	}
}

// TestRedirectRefSync: a redirect reference is listed by sync-collection (RFC 6578) as its
// redirect, and UPDATEREDIRECTREF, which changes nothing but the target, is reported as a
// change.
func TestRedirectRefSync(t *testing.T) {
	e := syncEnv(t, memfs.New(), syncstore.NewMemory(0, 0))
	e.mustDo(201, "MKCOL", "/c", nil, "")
	e.mustDo(201, "MKREDIRECTREF", "/c/ref", nil, mkref("/t1", ""))
	r0 := e.sync("/c/", "", "1", "")
	wantHrefs(t, "first", r0.changed, "/c/ref")
	e.mustDo(200, "UPDATEREDIRECTREF", "/c/ref", nil, `<D:updateredirectref xmlns:D="DAV:"><D:reftarget><D:href>/t2</D:href></D:reftarget></D:updateredirectref>`)
	w := e.mustDo(207, "REPORT", "/c/", hdr{"Depth": "0"}, syncBody(r0.token, "1", ""))
	r := memberOf(t, w.Body.Bytes(), "/c/ref")
	if r.Status != "HTTP/1.1 302 Found" || r.Location.Href[0] != "/t2" {
		t.Errorf("sync after UPDATEREDIRECTREF: %+v\n%s", r, w.Body.String())
	}
}
