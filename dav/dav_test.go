package dav_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/memprops"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
)

// env is one engine over in-memory backends.
type env struct {
	t  *testing.T
	h  *dav.Handler
	fs *memfs.FS
	// principal, when set, is the authenticated user of every request.
	principal string
}

func newEnv(t *testing.T, mod ...func(*dav.Config)) *env {
	t.Helper()
	fs := memfs.New()
	lm, err := memlock.New(memlock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := dav.Config{Storage: fs, Props: memprops.New(props.Limits{}), Locks: lm}
	for _, m := range mod {
		m(&cfg)
	}
	h, err := dav.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, h: h, fs: fs}
}

type hdr map[string]string

// with returns a copy of e reporting to t (a subtest).
func (e *env) with(t *testing.T) *env { c := *e; c.t = t; return &c }

// do sends one request and checks the invariants every response must keep: every XML body is
// well-formed with all namespaces declared (RFC 4918 §8.2 and the seeds' rules), a 207 carries no
// Location header and an href in every response, and no status inside is 1xx.
func (e *env) do(method, target string, h hdr, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if e.principal != "" {
		req = req.WithContext(access.WithPrincipal(req.Context(), e.principal))
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	b := w.Body.Bytes()
	if ct := w.Header().Get("Content-Type"); strings.Contains(ct, "xml") && len(b) > 0 && method != "GET" {
		if err := davtest.CheckNamespaces(b); err != nil {
			e.t.Errorf("%s %s: body fails the namespace check: %v\n%s", method, target, err, b)
		}
	}
	if w.Code == http.StatusMultiStatus {
		if w.Header().Get("Location") != "" {
			e.t.Errorf("%s %s: 207 with a Location header", method, target)
		}
		checkMultistatus(e.t, b)
	}
	return w
}

func (e *env) mustDo(code int, method, target string, h hdr, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	w := e.do(method, target, h, body)
	if w.Code != code {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", method, target, w.Code, code, w.Body.String())
	}
	return w
}

// ms is a parsed multistatus body.
type ms struct {
	Responses []msResponse `xml:"DAV: response"`
}

type msResponse struct {
	Href      []string     `xml:"DAV: href"`
	Status    string       `xml:"DAV: status"`
	Propstats []msPropstat `xml:"DAV: propstat"`
	Error     msInner      `xml:"DAV: error"`
	Location  struct {
		Href []string `xml:"DAV: href"`
	} `xml:"DAV: location"`
}

type msPropstat struct {
	Status string `xml:"DAV: status"`
	Prop   struct {
		Any []struct {
			XMLName xml.Name
			Lang    string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
			Inner   string `xml:",innerxml"`
		} `xml:",any"`
	} `xml:"DAV: prop"`
	Error msInner `xml:"DAV: error"`
}

type msInner struct {
	Inner string `xml:",innerxml"`
}

func checkMultistatus(t *testing.T, b []byte) ms {
	t.Helper()
	var m ms
	if err := xml.Unmarshal(b, &m); err != nil {
		t.Fatalf("207 body does not parse: %v\n%s", err, b)
	}
	for _, r := range m.Responses {
		if len(r.Href) == 0 {
			t.Errorf("RFC 4918 §14.24: response without href\n%s", b)
		}
		statuses := []string{r.Status}
		for _, ps := range r.Propstats {
			statuses = append(statuses, ps.Status)
		}
		for _, s := range statuses {
			if strings.HasPrefix(s, "HTTP/1.1 1") {
				t.Errorf("RFC 4918 §13: 1xx status inside a 207: %s", s)
			}
		}
		// §14.9: a redirected member says where to with a DAV:location holding one href.
		if strings.HasPrefix(r.Status, "HTTP/1.1 3") && len(r.Location.Href) != 1 {
			t.Errorf("RFC 4918 §14.9: 3xx response without a DAV:location href\n%s", b)
		}
	}
	return m
}

// propStatus returns, per href, property local name → status code string.
func propStatus(t *testing.T, b []byte) map[string]map[string]string {
	t.Helper()
	m := checkMultistatus(t, b)
	out := map[string]map[string]string{}
	for _, r := range m.Responses {
		pm := map[string]string{}
		for _, ps := range r.Propstats {
			code := strings.Fields(ps.Status)[1]
			for _, a := range ps.Prop.Any {
				pm[a.XMLName.Local] = code
			}
		}
		out[r.Href[0]] = pm
	}
	return out
}

func (e *env) put(p, body string) {
	e.t.Helper()
	w := e.do("PUT", p, nil, body)
	if w.Code != http.StatusCreated && w.Code != http.StatusNoContent {
		e.t.Fatalf("PUT %s: %d", p, w.Code)
	}
}

func (e *env) get(p string) (int, string) {
	w := e.do("GET", p, nil, "")
	return w.Code, w.Body.String()
}

const allprop = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`

// rawHeader returns the values stored under exactly name: the server writes some header names
// verbatim, not in Go's canonical form.
func rawHeader(h http.Header, name string) []string {
	for k, v := range h {
		if k == name {
			return v
		}
	}
	return nil
}

func TestOptions(t *testing.T) {
	e := newEnv(t)
	w := e.mustDo(200, "OPTIONS", "/", nil, "")
	if got := rawHeader(w.Header(), "DAV"); len(got) != 1 || got[0] != "1, 2, 3, redirectrefs" {
		t.Errorf("18.1 DAV header = %q, want 1, 2, 3, redirectrefs (RFC 4437 with a property store)", got)
	}
	if len(rawHeader(w.Header(), "DAV")[0]) > 63 {
		t.Error("mini-redirector: DAV header over 63 characters")
	}
	if got := rawHeader(w.Header(), "MS-Author-Via"); len(got) != 1 || got[0] != "DAV" {
		t.Error("mini-redirector: MS-Author-Via missing")
	}
	if !strings.Contains(w.Header().Get("Allow"), "PROPFIND") {
		t.Error("Allow lacks PROPFIND")
	}
	// Class 1 only without a lock manager: advertise only what works.
	e1 := newEnv(t, func(c *dav.Config) { c.Locks = nil })
	if got := rawHeader(e1.mustDo(200, "OPTIONS", "/", nil, "").Header(), "DAV"); len(got) != 1 || got[0] != "1, 3, redirectrefs" {
		t.Errorf("without locks DAV = %q", got)
	}
	// Without a property store there are no redirect references either.
	e2 := newEnv(t, func(c *dav.Config) { c.Locks = nil; c.Props = nil })
	w2 := e2.mustDo(200, "OPTIONS", "/", nil, "")
	if got := rawHeader(w2.Header(), "DAV"); len(got) != 1 || got[0] != "1, 3" {
		t.Errorf("without locks and properties DAV = %q", got)
	}
	if strings.Contains(w2.Header().Get("Allow"), "REDIRECTREF") {
		t.Errorf("Allow without a property store = %q", w2.Header().Get("Allow"))
	}
	e1.mustDo(405, "LOCK", "/x", nil, "")
}

func TestPutGet(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		method string
		path   string
		h      hdr
		body   string
		want   int
	}{
		{"9.7.1 PUT creates", "PUT", "/a.txt", nil, "hello", 201},
		{"9.7.1 PUT replaces", "PUT", "/a.txt", nil, "hello world", 204},
		{"9.7.1 PUT without parent is 409", "PUT", "/none/a.txt", nil, "x", 409},
		{"9.7.2 PUT on a collection is 405", "PUT", "/", nil, "x", 405},
		{"RFC 9110 If-None-Match: * on an existing resource is 412", "PUT", "/a.txt", hdr{"If-None-Match": "*"}, "x", 412},
		{"RFC 9110 If-Match with another ETag is 412", "PUT", "/a.txt", hdr{"If-Match": `"nope"`}, "x", 412},
		{"RFC 9110 If-Match on a missing resource is 412", "PUT", "/new.txt", hdr{"If-Match": "*"}, "x", 412},
		{"RFC 9110 14.5 PUT with an invalid Content-Range is 400", "PUT", "/a.txt", hdr{"Content-Range": "bytes 1-0/2"}, "xy", 400},
		{"GET missing is a plain 404", "GET", "/missing.txt", nil, "", 404},
		{"path with an encoded dot segment is 400", "GET", "/%2e%2e/etc/passwd", nil, "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			_ = e
			if w := e.do(c.method, c.path, c.h, c.body); w.Code != c.want {
				t.Fatalf("status %d, want %d: %s", w.Code, c.want, w.Body.String())
			}
		})
	}
	code, body := e.get("/a.txt")
	if code != 200 || body != "hello world" {
		t.Fatalf("GET = %d %q", code, body)
	}
	w := e.do("GET", "/a.txt", hdr{"Range": "bytes=6-"}, "")
	if w.Code != 206 || w.Body.String() != "world" {
		t.Errorf("Range GET = %d %q", w.Code, w.Body.String())
	}
	etag := w.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Errorf("ETag %q is not a strong entity tag", etag)
	}
	if w := e.do("GET", "/a.txt", hdr{"If-None-Match": etag}, ""); w.Code != 304 {
		t.Errorf("If-None-Match with current ETag = %d, want 304", w.Code)
	}
	e.put("/a.txt", "changed")
	if w := e.do("HEAD", "/a.txt", nil, ""); w.Header().Get("ETag") == etag {
		t.Error("ETag did not change on write")
	}
	if w := e.do("GET", "/a.txt", nil, ""); w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("content type by extension = %q", w.Header().Get("Content-Type"))
	}
	e.put("/page.html", "<script>alert(1)</script>")
	if w := e.do("GET", "/page.html", nil, ""); w.Header().Get("Content-Security-Policy") != "sandbox" {
		t.Error("uploaded HTML served without a sandbox CSP")
	}
}

func TestPutXOCMtime(t *testing.T) {
	e := newEnv(t)
	w := e.mustDo(201, "PUT", "/m.txt", hdr{"X-OC-Mtime": "1700000000"}, "x")
	if w.Header().Get("X-OC-Mtime") != "accepted" {
		t.Error("rclone: X-OC-Mtime not accepted")
	}
	info, err := e.fs.Stat(context.Background(), "/m.txt")
	if err != nil || !info.ModTime.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("mtime = %v, %v", info.ModTime, err)
	}
}

func TestFinderChunkedPut(t *testing.T) {
	e := newEnv(t)
	body := strings.Repeat("finder", 10000)
	req := httptest.NewRequest("PUT", "/chunked.bin", io.NopCloser(strings.NewReader(body)))
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	req.Header.Set("X-Expected-Entity-Length", fmt.Sprint(len(body)))
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Code != 201 {
		t.Fatalf("status %d", w.Code)
	}
	if _, got := e.get("/chunked.bin"); got != body {
		t.Fatalf("macOS Finder: chunked PUT stored %d bytes, want %d", len(got), len(body))
	}
}

func TestMkcol(t *testing.T) {
	e := newEnv(t)
	e.mustDo(201, "MKCOL", "/c", nil, "")
	e.mustDo(405, "MKCOL", "/c", nil, "")
	if w := e.mustDo(405, "PUT", "/c", nil, "x"); w.Header().Get("Allow") == "" {
		t.Error("9.7.2 PUT on a collection: 405 without Allow")
	}
	e.mustDo(409, "MKCOL", "/x/y", nil, "")
	e.mustDo(415, "MKCOL", "/d", nil, "<x/>")
	e.put("/f", "x")
	e.mustDo(405, "MKCOL", "/f", nil, "")
	e.mustDo(409, "MKCOL", "/f/sub", nil, "")
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	e.mustDo(201, "MKCOL", "/c", nil, "")
	e.mustDo(201, "MKCOL", "/c/d", nil, "")
	e.put("/c/d/f", "x")
	e.put("/c/g", "y")
	e.mustDo(400, "DELETE", "/c", hdr{"Depth": "0"}, "")
	e.mustDo(204, "DELETE", "/c/g", nil, "")
	e.mustDo(404, "DELETE", "/c/g", nil, "")
	e.mustDo(204, "DELETE", "/c", nil, "")
	if code, _ := e.get("/c/d/f"); code != 404 {
		t.Fatalf("9.6.1 member survived DELETE of its collection: %d", code)
	}
	e.mustDo(403, "DELETE", "/", nil, "")
}

func TestCopyMove(t *testing.T) {
	e := newEnv(t)
	e.put("/src.txt", "content")
	e.mustDo(207, "PROPPATCH", "/src.txt", nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>`)
	e.mustDo(201, "MKCOL", "/coll", nil, "")
	e.put("/coll/a", "a")
	e.mustDo(201, "MKCOL", "/coll/sub", nil, "")
	e.put("/coll/sub/b", "b")
	d := func(p string) hdr { return hdr{"Destination": "http://example.com" + p} }
	cases := []struct {
		name   string
		method string
		src    string
		h      hdr
		want   int
	}{
		{"9.8.5 COPY to a new resource is 201", "COPY", "/src.txt", d("/copy.txt"), 201},
		{"9.8.5 COPY over an existing one is 204", "COPY", "/src.txt", d("/copy.txt"), 204},
		{"9.8.5 COPY with Overwrite F onto an existing one is 412", "COPY", "/src.txt", hdr{"Destination": "/copy.txt", "Overwrite": "F"}, 412},
		{"9.8.5 COPY onto itself is 403", "COPY", "/src.txt", d("/src.txt"), 403},
		{"9.8.5 COPY without destination parent is 409", "COPY", "/src.txt", d("/no/where.txt"), 409},
		{"9.8.5 COPY to another host is 502", "COPY", "/src.txt", hdr{"Destination": "http://elsewhere.example/x"}, 502},
		{"9.8.3 COPY Depth 1 is 400", "COPY", "/coll", hdr{"Destination": "/c1", "Depth": "1"}, 400},
		{"9.9.2 MOVE Depth 0 is 400", "MOVE", "/coll", hdr{"Destination": "/c1", "Depth": "0"}, 400},
		{"9.8 COPY a collection into itself is 403", "COPY", "/coll", d("/coll/sub/x"), 403},
		{"10.3 Destination with a dot segment is 400", "COPY", "/src.txt", hdr{"Destination": "/coll/../../etc"}, 400},
		{"10.6 bad Overwrite value is 400", "COPY", "/src.txt", hdr{"Destination": "/o.txt", "Overwrite": "maybe"}, 400},
		{"missing Destination is 400", "COPY", "/src.txt", nil, 400},
		{"9.8.8 COPY of a missing source is 404", "COPY", "/nothing", d("/x"), 404},
		{"9.8.3 COPY of a collection Depth infinity", "COPY", "/coll", d("/coll2"), 201},
		{"9.8.3 COPY of a collection Depth 0", "COPY", "/coll", hdr{"Destination": "/coll3", "Depth": "0"}, 201},
		{"9.9 MOVE of a file", "MOVE", "/copy.txt", d("/moved.txt"), 201},
		{"9.9 MOVE of a collection over an existing one", "MOVE", "/coll2", d("/coll3"), 204},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			_ = e
			if w := e.do(c.method, c.src, c.h, ""); w.Code != c.want {
				t.Fatalf("status %d, want %d: %s", w.Code, c.want, w.Body.String())
			}
		})
	}
	if _, b := e.get("/coll3/sub/b"); b != "b" {
		t.Errorf("moved tree lost a member: %q", b)
	}
	if code, _ := e.get("/coll2/a"); code != 404 {
		t.Errorf("MOVE left the source behind")
	}
	// Dead properties travel with COPY and MOVE (§9.8.2, §9.9.1).
	w := e.mustDo(207, "PROPFIND", "/moved.txt", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><Z:color xmlns:Z="urn:z"/></D:prop></D:propfind>`)
	if !strings.Contains(w.Body.String(), ">red<") {
		t.Errorf("dead property not moved:\n%s", w.Body.String())
	}
}

func TestPropfind(t *testing.T) {
	e := newEnv(t)
	e.mustDo(201, "MKCOL", "/c", nil, "")
	e.put("/c/a.txt", "abc")
	e.put("/c/b.bin", "")
	e.mustDo(201, "MKCOL", "/c/sub", nil, "")

	t.Run("9.1 Depth 1 lists the collection and its members", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPFIND", "/c", hdr{"Depth": "1"}, allprop)
		st := propStatus(t, w.Body.Bytes())
		for _, h := range []string{"/c/", "/c/a.txt", "/c/b.bin", "/c/sub/"} {
			if _, ok := st[h]; !ok {
				t.Errorf("no response for %s in %v", h, st)
			}
		}
		if st["/c/a.txt"]["getcontentlength"] != "200" || st["/c/a.txt"]["getetag"] != "200" {
			t.Errorf("live properties missing: %v", st["/c/a.txt"])
		}
		if _, ok := st["/c/"]["getcontentlength"]; ok {
			t.Error("collection reports getcontentlength")
		}
	})
	t.Run("9.1 empty body is allprop", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPFIND", "/c/a.txt", hdr{"Depth": "0"}, "")
		if propStatus(t, w.Body.Bytes())["/c/a.txt"]["resourcetype"] != "200" {
			t.Error("no resourcetype")
		}
	})
	t.Run("9.1 unknown property in a 404 propstat", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPFIND", "/c/a.txt", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><X:nope xmlns:X="urn:x"/></D:prop></D:propfind>`)
		st := propStatus(t, w.Body.Bytes())["/c/a.txt"]
		if st["getetag"] != "200" || st["nope"] != "404" {
			t.Errorf("statuses %v", st)
		}
	})
	t.Run("9.1 propname", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPFIND", "/c/a.txt", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`)
		m := checkMultistatus(t, w.Body.Bytes())
		for _, a := range m.Responses[0].Propstats[0].Prop.Any {
			if a.Inner != "" {
				t.Errorf("propname returned a value for %s: %q", a.XMLName.Local, a.Inner)
			}
		}
	})
	t.Run("RFC 4331 quota only when asked", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPFIND", "/c", hdr{"Depth": "0"}, allprop)
		if strings.Contains(w.Body.String(), "quota-") {
			t.Error("quota in allprop")
		}
		w = e.mustDo(207, "PROPFIND", "/c", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>`)
		st := propStatus(t, w.Body.Bytes())["/c/"]
		if st["quota-available-bytes"] != "200" || st["quota-used-bytes"] != "200" {
			t.Errorf("quota statuses %v", st)
		}
	})
	t.Run("9.1 Depth infinity refused with propfind-finite-depth", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(403, "PROPFIND", "/c", hdr{"Depth": "infinity"}, allprop)
		if !strings.Contains(w.Body.String(), "propfind-finite-depth") {
			t.Errorf("body %s", w.Body.String())
		}
	})
	t.Run("9.1 Depth infinity when enabled", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e2 := newEnv(t, func(c *dav.Config) { c.Limits.PropfindInfinity = true })
		e2.mustDo(201, "MKCOL", "/x", nil, "")
		e2.mustDo(201, "MKCOL", "/x/y", nil, "")
		e2.put("/x/y/z", "z")
		w := e2.mustDo(207, "PROPFIND", "/", hdr{"Depth": "infinity"}, allprop)
		if n := len(checkMultistatus(t, w.Body.Bytes()).Responses); n != 4 {
			t.Errorf("%d responses, want 4", n)
		}
	})
	t.Run("8.2 malformed XML is 400", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(400, "PROPFIND", "/c", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop>`)
	})
	t.Run("8.2 empty namespace binding on a prefix is 400", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(400, "PROPFIND", "/c", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><ns1:x xmlns:ns1=""/></D:prop></D:propfind>`)
	})
	t.Run("11.2 well-formed but wrong XML is 422", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(422, "PROPFIND", "/c", hdr{"Depth": "0"}, `<D:notpropfind xmlns:D="DAV:"/>`)
	})
	t.Run("9.1 missing resource is 404", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(404, "PROPFIND", "/nothing", hdr{"Depth": "0"}, "")
	})
	t.Run("413 for an XML body over the limit", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(413, "PROPFIND", "/c", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop><!--`+strings.Repeat("x", 2<<20)+`--></D:propfind>`)
	})
}

func TestProppatch(t *testing.T) {
	e := newEnv(t)
	e.put("/r", "x")
	t.Run("9.2 set and remove in document order", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPPATCH", "/r", nil, `<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/z/">
 <D:set><D:prop><Z:Author xml:lang="en">Jim <Z:b>Whitehead</Z:b></Z:Author><Z:Copyright>1</Z:Copyright></D:prop></D:set>
 <D:remove><D:prop><Z:Copyright/></D:prop></D:remove>
</D:propertyupdate>`)
		st := propStatus(t, w.Body.Bytes())["/r"]
		if st["Author"] != "200" || st["Copyright"] != "200" {
			t.Fatalf("statuses %v", st)
		}
		w = e.mustDo(207, "PROPFIND", "/r", hdr{"Depth": "0"}, allprop)
		m := checkMultistatus(t, w.Body.Bytes())
		var found bool
		for _, a := range m.Responses[0].Propstats[0].Prop.Any {
			switch a.XMLName.Local {
			case "Author":
				found = true
				if a.Lang != "en" || !strings.Contains(a.Inner, "Whitehead") {
					t.Errorf("Author = %q lang %q", a.Inner, a.Lang)
				}
			case "Copyright":
				t.Error("removed property still there")
			}
		}
		if !found {
			t.Error("Author missing from allprop")
		}
	})
	t.Run("9.2 protected property fails, the rest is 424 and nothing changes", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPPATCH", "/r", nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">
<D:set><D:prop><Z:new>1</Z:new><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>`)
		st := propStatus(t, w.Body.Bytes())["/r"]
		if st["getetag"] != "403" || st["new"] != "424" {
			t.Fatalf("statuses %v", st)
		}
		if !strings.Contains(w.Body.String(), "cannot-modify-protected-property") {
			t.Error("no cannot-modify-protected-property element")
		}
		w = e.mustDo(207, "PROPFIND", "/r", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><Z:new xmlns:Z="urn:z"/></D:prop></D:propfind>`)
		if propStatus(t, w.Body.Bytes())["/r"]["new"] != "404" {
			t.Error("atomicity: property set although the request failed")
		}
	})
	t.Run("mini-redirector: Win32 properties answered with 207 and stored", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPPATCH", "/r", nil, `<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32CreationTime>Wed, 01 Jan 2020 10:00:00 GMT</Z:Win32CreationTime><Z:Win32LastAccessTime>Wed, 01 Jan 2020 10:00:00 GMT</Z:Win32LastAccessTime><Z:Win32LastModifiedTime>Wed, 01 Jan 2020 10:00:00 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>`)
		for name, code := range propStatus(t, w.Body.Bytes())["/r"] {
			if code != "200" {
				t.Errorf("%s: %s", name, code)
			}
		}
		info, _ := e.fs.Stat(context.Background(), "/r")
		if !info.ModTime.Equal(time.Date(2020, 1, 1, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("Win32LastModifiedTime did not set mtime: %v", info.ModTime)
		}
	})
	t.Run("rclone: DAV:lastmodified sets the mtime", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(207, "PROPPATCH", "/r", nil, `<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:lastmodified>1600000000</d:lastmodified></d:prop></d:set></d:propertyupdate>`)
		info, _ := e.fs.Stat(context.Background(), "/r")
		if !info.ModTime.Equal(time.Unix(1600000000, 0)) {
			t.Errorf("mtime %v", info.ModTime)
		}
	})
	t.Run("9.2 missing resource is 404", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(404, "PROPPATCH", "/none", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`)
	})
}

var tokenRE = regexp.MustCompile(`<(urn:uuid:[^>]+)>`)

func (e *env) lock(p string, h hdr, body string) string {
	e.t.Helper()
	w := e.do("LOCK", p, h, body)
	if w.Code != 200 && w.Code != 201 {
		e.t.Fatalf("LOCK %s: %d %s", p, w.Code, w.Body.String())
	}
	m := tokenRE.FindStringSubmatch(w.Header().Get("Lock-Token"))
	if m == nil {
		e.t.Fatalf("no Lock-Token header: %q", w.Header().Get("Lock-Token"))
	}
	return m[1]
}

const exclusive = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://example.com/me</D:href></D:owner></D:lockinfo>`
const shared = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`

func TestLocks(t *testing.T) {
	e := newEnv(t)
	e.put("/f", "x")
	e.mustDo(201, "MKCOL", "/c", nil, "")
	e.put("/c/m", "m")

	tok := e.lock("/f", hdr{"Timeout": "Second-100"}, exclusive)
	t.Run("9.10.6 conflicting LOCK is 423 with no-conflicting-lock", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(423, "LOCK", "/f", nil, exclusive)
		if !strings.Contains(w.Body.String(), "no-conflicting-lock") {
			t.Error(w.Body.String())
		}
	})
	t.Run("7 PUT without the token is 423 with lock-token-submitted", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(423, "PUT", "/f", nil, "y")
		if !strings.Contains(w.Body.String(), "lock-token-submitted") || !strings.Contains(w.Body.String(), "<D:href>/f</D:href>") {
			t.Error(w.Body.String())
		}
	})
	t.Run("10.4 PUT with the token succeeds", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(204, "PUT", "/f", hdr{"If": "(<" + tok + ">)"}, "y")
	})
	t.Run("10.4 tagged list with the ETag", func(t *testing.T) {
		e := e.with(t)
		_ = e
		etag := e.do("HEAD", "/f", nil, "").Header().Get("ETag")
		e.mustDo(204, "PUT", "/f", hdr{"If": "<http://example.com/f> (<" + tok + "> [" + etag + "])"}, "z")
	})
	t.Run("10.4 wrong ETag is 412", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(412, "PUT", "/f", hdr{"If": `(<` + tok + `> ["bogus"])`}, "z")
	})
	t.Run("10.4 Not DAV:no-lock is true but the token is still missing: 423", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(423, "PUT", "/f", hdr{"If": "(<urn:uuid:00000000-0000-0000-0000-000000000000>) (Not <DAV:no-lock>)"}, "z")
	})
	t.Run("10.4 unknown token alone is 412", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(412, "PUT", "/f", hdr{"If": "(<urn:uuid:00000000-0000-0000-0000-000000000000>)"}, "z")
	})
	t.Run("10.4 malformed If header is 400", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(400, "PUT", "/f", hdr{"If": "(<unclosed"}, "z")
	})
	t.Run("15.8 lockdiscovery shows the lock", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(207, "PROPFIND", "/f", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/><D:supportedlock/></D:prop></D:propfind>`)
		b := w.Body.String()
		if !strings.Contains(b, tok) || !strings.Contains(b, "http://example.com/me") || !strings.Contains(b, "<D:lockroot><D:href>/f</D:href>") {
			t.Error(b)
		}
	})
	t.Run("9.10.2 refresh without body", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(200, "LOCK", "/f", hdr{"If": "(<" + tok + ">)", "Timeout": "Second-200"}, "")
		if !strings.Contains(w.Body.String(), "Second-") {
			t.Error(w.Body.String())
		}
	})
	t.Run("npm webdav: refresh with a lockinfo body and the If header", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(200, "LOCK", "/f", hdr{"If": "(<" + tok + ">)"}, exclusive)
	})
	t.Run("9.11 UNLOCK with a token of another resource is 409", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(409, "UNLOCK", "/c/m", hdr{"Lock-Token": "<" + tok + ">"}, "")
		if !strings.Contains(w.Body.String(), "lock-token-matches-request-uri") {
			t.Error(w.Body.String())
		}
	})
	t.Run("windows: UNLOCK with an unbracketed token", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(204, "UNLOCK", "/f", hdr{"Lock-Token": tok}, "")
	})
	t.Run("7.3 LOCK on an unmapped URL creates an empty resource: 201", func(t *testing.T) {
		e := e.with(t)
		_ = e
		w := e.mustDo(201, "LOCK", "/new", nil, exclusive)
		if code, body := e.get("/new"); code != 200 || body != "" {
			t.Errorf("GET = %d %q", code, body)
		}
		tk := tokenRE.FindStringSubmatch(w.Header().Get("Lock-Token"))[1]
		e.mustDo(204, "UNLOCK", "/new", hdr{"Lock-Token": "<" + tk + ">"}, "")
	})
	t.Run("6.1 shared locks coexist, exclusive does not join them", func(t *testing.T) {
		e := e.with(t)
		_ = e
		a := e.lock("/c/m", nil, shared)
		b := e.lock("/c/m", nil, shared)
		e.mustDo(423, "LOCK", "/c/m", nil, exclusive)
		e.mustDo(204, "PUT", "/c/m", hdr{"If": "(<" + b + ">)"}, "v")
		e.mustDo(204, "UNLOCK", "/c/m", hdr{"Lock-Token": "<" + a + ">"}, "")
		e.mustDo(204, "UNLOCK", "/c/m", hdr{"Lock-Token": "<" + b + ">"}, "")
	})
	t.Run("9.6.1 DELETE of a collection with a locked member: 207 with 423, nothing lost", func(t *testing.T) {
		e := e.with(t)
		_ = e
		mt := e.lock("/c/m", hdr{"Depth": "0"}, exclusive)
		w := e.mustDo(207, "DELETE", "/c", nil, "")
		m := checkMultistatus(t, w.Body.Bytes())
		if len(m.Responses) != 1 || m.Responses[0].Href[0] != "/c/m" || !strings.Contains(m.Responses[0].Status, "423") {
			t.Errorf("207 body: %s", w.Body.String())
		}
		if code, _ := e.get("/c/m"); code != 200 {
			t.Error("locked member deleted")
		}
		e.mustDo(204, "UNLOCK", "/c/m", hdr{"Lock-Token": "<" + mt + ">"}, "")
	})
	t.Run("7.5 depth-infinity lock covers new members", func(t *testing.T) {
		e := e.with(t)
		_ = e
		ct := e.lock("/c", nil, exclusive)
		e.mustDo(423, "PUT", "/c/newmember", nil, "x")
		e.mustDo(201, "PUT", "/c/newmember", hdr{"If": "(<" + ct + ">)"}, "x")
		w := e.mustDo(207, "PROPFIND", "/c/newmember", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`)
		if !strings.Contains(w.Body.String(), ct) {
			t.Error("new member did not join the depth-infinity lock")
		}
		e.mustDo(204, "UNLOCK", "/c/newmember", hdr{"Lock-Token": "<" + ct + ">"}, "")
	})
	t.Run("9.10.3 LOCK Depth 1 is 400", func(t *testing.T) {
		e := e.with(t)
		_ = e
		e.mustDo(400, "LOCK", "/c", hdr{"Depth": "1"}, exclusive)
	})
}

// TestConcurrentLocks fires exclusive LOCKs at one URL, and at a parent (depth infinity) vs a
// child, and checks that exactly one wins each race (run under -race).
func TestConcurrentLocks(t *testing.T) {
	for round := 0; round < 20; round++ {
		e := newEnv(t)
		e.mustDo(201, "MKCOL", "/p", nil, "")
		e.put("/p/c", "x")
		targets := []string{"/p/c", "/p/c", "/p", "/p/c", "/p"}
		var wg sync.WaitGroup
		codes := make([]int, len(targets))
		for i, p := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest("LOCK", p, strings.NewReader(exclusive))
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
				codes[i] = w.Code
			}()
		}
		wg.Wait()
		wins := 0
		for _, c := range codes {
			switch c {
			case 200:
				wins++
			case 423:
			default:
				t.Fatalf("unexpected status %d", c)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d exclusive locks granted on overlapping scopes: %v", round, wins, codes)
		}
	}
}

func TestHrefsEscaped(t *testing.T) {
	e := newEnv(t)
	e.mustDo(201, "MKCOL", "/d%20ir", nil, "")
	e.put("/d%20ir/%3Cimg%20src%3Dx%3E%26.txt", "x")
	w := e.mustDo(207, "PROPFIND", "/d%20ir/", hdr{"Depth": "1"}, "")
	st := propStatus(t, w.Body.Bytes())
	if _, ok := st["/d%20ir/%3Cimg%20src=x%3E%26.txt"]; !ok {
		t.Errorf("escaped href missing: %v", st)
	}
}

func TestPrefix(t *testing.T) {
	e := newEnv(t, func(c *dav.Config) { c.Prefix = "/dav" })
	e.mustDo(201, "PUT", "/dav/a", nil, "x")
	e.mustDo(404, "GET", "/other/a", nil, "")
	e.mustDo(201, "COPY", "/dav/a", hdr{"Destination": "http://example.com/dav/b"}, "")
	e.mustDo(502, "COPY", "/dav/a", hdr{"Destination": "http://example.com/elsewhere/b"}, "")
	w := e.mustDo(207, "PROPFIND", "/dav/", hdr{"Depth": "1"}, "")
	if _, ok := propStatus(t, w.Body.Bytes())["/dav/b"]; !ok {
		t.Error(w.Body.String())
	}
}

// TestGolden compares a whole PROPFIND body by XML meaning with the expected document.
func TestGolden(t *testing.T) {
	e := newEnv(t, func(c *dav.Config) { c.Locks = nil })
	e.put("/g.txt", "golden")
	mt := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := e.fs.SetModTime(context.Background(), "/g.txt", mt); err != nil {
		t.Fatal(err)
	}
	info, _ := e.fs.Stat(context.Background(), "/g.txt")
	w := e.mustDo(207, "PROPFIND", "/g.txt", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:resourcetype/><D:displayname/><X:missing xmlns:X="urn:x"/></D:prop></D:propfind>`)
	want := `<?xml version="1.0" encoding="utf-8"?>
<multistatus xmlns="DAV:"><response><href>/g.txt</href>
<propstat><prop><getcontentlength>6</getcontentlength><getlastmodified>Mon, 06 May 2024 07:08:09 GMT</getlastmodified>
<getetag>` + strings.ReplaceAll(info.ETag, `"`, "&quot;") + `</getetag><resourcetype/><displayname>g.txt</displayname></prop><status>HTTP/1.1 200 OK</status></propstat>
<propstat><prop><missing xmlns="urn:x"/></prop><status>HTTP/1.1 404 Not Found</status></propstat>
</response></multistatus>`
	if ok, diff := davtest.EqualXML(w.Body.Bytes(), []byte(want)); !ok {
		t.Errorf("9.1 golden PROPFIND body differs:\n%s", diff)
	}
}

// listBackend serves a synthetic collection of n members without storing them, and can fail
// partway through the listing.
type listBackend struct {
	storage.Backend
	n      int
	failAt int
}

func (b *listBackend) Stat(ctx context.Context, p davpath.Path) (storage.Info, error) {
	if p.IsRoot() {
		return storage.Info{IsDir: true, ModTime: time.Unix(0, 0)}, nil
	}
	return storage.Info{Name: p.Base(), Size: 100, ModTime: time.Unix(1, 0), ETag: `"e"`}, nil
}

func (b *listBackend) List(ctx context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		for i := 0; i < b.n; i++ {
			if i == b.failAt {
				yield(storage.Info{}, fmt.Errorf("disk on fire"))
				return
			}
			if !yield(storage.Info{Name: fmt.Sprintf("file-%06d.txt", i), Size: int64(i), ModTime: time.Unix(int64(i), 0), ETag: `"x"`}, nil) {
				return
			}
		}
	}
}

type heapWatcher struct {
	n    int
	peak uint64
}

func (h *heapWatcher) Write(p []byte) (int, error) {
	h.n++
	if h.n%200 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > h.peak {
			h.peak = ms.HeapAlloc
		}
	}
	return len(p), nil
}

// TestPropfindStreamsFlat lists 100,000 members through a discarding writer and checks that the
// heap does not grow with the listing (the 207 streams).
func TestPropfindStreamsFlat(t *testing.T) {
	b := &listBackend{n: 100000, failAt: -1}
	h, err := dav.New(dav.Config{Storage: b})
	if err != nil {
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hw := &heapWatcher{}
	w := &discardRW{h: http.Header{}, w: hw}
	req := httptest.NewRequest("PROPFIND", "/", strings.NewReader(allprop))
	req.Header.Set("Depth", "1")
	h.ServeHTTP(w, req)
	if w.code != 207 {
		t.Fatalf("status %d", w.code)
	}
	if growth := int64(hw.peak) - int64(before.HeapAlloc); growth > 16<<20 {
		t.Errorf("heap grew by %d MiB during a 100,000-entry PROPFIND", growth>>20)
	}
}

// TestPropfindFailureMidWalk checks that a storage failure after the 207 started becomes a
// <D:response> and the document is still complete.
func TestPropfindFailureMidWalk(t *testing.T) {
	b := &listBackend{n: 100, failAt: 50}
	h, _ := dav.New(dav.Config{Storage: b})
	req := httptest.NewRequest("PROPFIND", "/", nil)
	req.Header.Set("Depth", "1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 207 {
		t.Fatalf("status %d", w.Code)
	}
	m := checkMultistatus(t, w.Body.Bytes())
	last := m.Responses[len(m.Responses)-1]
	if len(m.Responses) != 52 || !strings.Contains(last.Status, "500") {
		t.Errorf("%d responses, last %+v", len(m.Responses), last)
	}
	if !strings.HasSuffix(strings.TrimSpace(w.Body.String()), "</D:multistatus>") {
		t.Error("document not closed")
	}
	if strings.Contains(w.Body.String(), "disk on fire") {
		t.Error("a Go error string reached the client")
	}
}

type discardRW struct {
	h    http.Header
	code int
	w    io.Writer
}

func (d *discardRW) Header() http.Header         { return d.h }
func (d *discardRW) WriteHeader(c int)           { d.code = c }
func (d *discardRW) Write(p []byte) (int, error) { return d.w.Write(p) }

// cutRW is a client that goes away after limit bytes of body: every later write fails.
type cutRW struct {
	h       http.Header
	headers int // WriteHeader calls
	n       int
	limit   int
}

func (c *cutRW) Header() http.Header { return c.h }
func (c *cutRW) WriteHeader(int)     { c.headers++ }
func (c *cutRW) Write(p []byte) (int, error) {
	if c.n+len(p) > c.limit {
		return 0, errors.New("connection reset by peer")
	}
	c.n += len(p)
	return len(p), nil
}

// TestMultistatusClientGone: a client that goes away in the middle of a 207 (RFC 4918 §13) gets
// nothing more: no second status, no error body written after the partial document, for a
// listing rendered, kept plain or kept coded.
func TestMultistatusClientGone(t *testing.T) {
	vfs := &versioned{FS: memfs.New()}
	e := newEnv(t, func(c *dav.Config) { c.Storage = vfs })
	e.mustDo(201, "MKCOL", "/d", nil, "")
	for i := 0; i < 300; i++ {
		e.put(fmt.Sprintf("/d/f%03d", i), "x")
	}
	for i := 0; i < 4; i++ { // cold, admitted, then hits
		req := httptest.NewRequest("PROPFIND", "/d/", strings.NewReader(allprop))
		req.Header.Set("Depth", "1")
		rw := &cutRW{h: http.Header{}, limit: 40 << 10}
		e.h.ServeHTTP(rw, req)
		if rw.headers != 1 {
			t.Fatalf("request %d: WriteHeader called %d times", i, rw.headers)
		}
	}
}
