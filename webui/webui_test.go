package webui

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"iter"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// fakeFS is a read-only storage.Backend over a fixed map of collections; only List is used.
type fakeFS struct {
	dirs  map[davpath.Path][]storage.Info
	err   error
	lists int
}

var _ storage.Backend = (*fakeFS)(nil)

func (f *fakeFS) Stat(context.Context, davpath.Path) (storage.Info, error) {
	return storage.Info{}, errors.ErrUnsupported
}

func (f *fakeFS) List(_ context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	f.lists++
	return func(yield func(storage.Info, error) bool) {
		if f.err != nil {
			yield(storage.Info{}, f.err)
			return
		}
		members, ok := f.dirs[p]
		if !ok {
			yield(storage.Info{}, fs.ErrNotExist)
			return
		}
		for _, m := range members {
			if !yield(m, nil) {
				return
			}
		}
	}
}

func (f *fakeFS) Open(context.Context, davpath.Path) (storage.File, storage.Info, error) {
	return nil, storage.Info{}, errors.ErrUnsupported
}

func (f *fakeFS) Put(context.Context, davpath.Path, io.Reader, storage.PutOptions) (bool, storage.Info, error) {
	return false, storage.Info{}, errors.ErrUnsupported
}

func (f *fakeFS) Mkcol(context.Context, davpath.Path) error  { return errors.ErrUnsupported }
func (f *fakeFS) Remove(context.Context, davpath.Path) error { return errors.ErrUnsupported }

const hostile = `<img src=x onerror=alert(1)>.txt`

var when = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func testFS() *fakeFS {
	return &fakeFS{dirs: map[davpath.Path][]storage.Info{
		"/": {
			{Name: "b.txt", Size: 2048, ModTime: when, ETag: `"b1"`},
			{Name: "Zeta", IsDir: true, ModTime: when},
			{Name: "a dir", IsDir: true, ModTime: when},
			{Name: hostile, Size: 5, ModTime: when, ETag: `"h1"`},
			{Name: `"quoted" & 'single'`, Size: 1, ModTime: when},
		},
		"/a dir": {},
		"/a dir/sub%20dir": {
			{Name: "x.go", Size: 10, ModTime: when},
		},
		"/<b>bold": {},
	}}
}

func serve(t *testing.T, u *UI, method, target string, p davpath.Path, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	u.ServeCollection(w, r, p, storage.Info{IsDir: true, ModTime: when})
	return w
}

var browser = map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

// browserIface is the shape of dav.Browser; *UI satisfies it without an adapter.
var _ interface {
	Wants(*http.Request) bool
	ServeCollection(http.ResponseWriter, *http.Request, davpath.Path, storage.Info)
} = (*UI)(nil)

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, accept string
		want                         bool
	}{
		{"browser", "GET", "/", browser["Accept"], true},
		{"browser HEAD", "HEAD", "/", "text/html", true},
		{"format=json", "GET", "/?format=json", "*/*", true},
		{"Accept json", "GET", "/", "application/json", true},
		{"davfs2 */*", "GET", "/", "*/*", false},
		{"no Accept", "GET", "/", "", false},
		{"html with q=0", "GET", "/", "text/html;q=0, */*", false},
		{"PROPFIND never", "PROPFIND", "/", "text/html", false},
		{"PUT never", "PUT", "/?format=json", "text/html", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			if got := Wants(r); got != tc.want {
				t.Errorf("Wants = %v, want %v", got, tc.want)
			}
		})
	}
}

var (
	scriptRE = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	styleRE  = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	anyTagRE = regexp.MustCompile(`(?is)<(script|style)\b`)
	// urlAttrRE finds attributes that load or navigate; the page only has same-origin hrefs,
	// fragment references to its own icons and the data: favicon.
	urlAttrRE = regexp.MustCompile(`\s(href|src|srcset|action|formaction|poster|data|xlink:href)="([^"]*)"`)
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

func directives(csp string) map[string]string {
	m := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		d = strings.TrimSpace(d)
		name, val, _ := strings.Cut(d, " ")
		m[name] = val
	}
	return m
}

func TestPageHeadersAndCSP(t *testing.T) {
	u := New(testFS(), Options{})
	w := serve(t, u, "GET", "/", "/", browser)
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	h := w.Header()
	for k, v := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
		"Cache-Control":          "no-store",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	d := directives(h.Get("Content-Security-Policy"))
	for k, v := range map[string]string{
		"default-src":     "'none'",
		"img-src":         "'self' data:",
		"media-src":       "'self'",
		"frame-src":       "'self'",
		"connect-src":     "'self'",
		"base-uri":        "'none'",
		"form-action":     "'none'",
		"frame-ancestors": "'none'",
	} {
		if d[k] != v {
			t.Errorf("CSP %s = %q, want %q", k, d[k], v)
		}
	}
	body := w.Body.String()
	// Exactly one script and one style, each allowed by its hash and nothing else.
	if n := len(anyTagRE.FindAllString(body, -1)); n != 2 {
		t.Fatalf("found %d script/style elements, want 2", n)
	}
	scripts := scriptRE.FindAllStringSubmatch(body, -1)
	styles := styleRE.FindAllStringSubmatch(body, -1)
	if len(scripts) != 1 || len(styles) != 1 {
		t.Fatalf("scripts %d, styles %d; want 1 and 1", len(scripts), len(styles))
	}
	if got, want := d["script-src"], sha(scripts[0][1]); got != want {
		t.Errorf("script-src = %q, want the inline script's hash %q", got, want)
	}
	if got, want := d["style-src"], sha(styles[0][1]); got != want {
		t.Errorf("style-src = %q, want the inline style's hash %q", got, want)
	}
	if strings.Contains(d["script-src"], "unsafe") || strings.Contains(d["style-src"], "unsafe") {
		t.Error("CSP allows unsafe sources")
	}
	// No external URLs, no inline event handlers or style attributes (CSP would block them).
	// The SVG namespace name is an identifier, not a URL anything loads.
	stripped := strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")
	for _, bad := range []string{"http://", "https://", " style=", " onclick=", " onload=", "javascript:"} {
		if i := strings.Index(stripped, bad); i >= 0 {
			t.Errorf("page contains %q near %q", bad, stripped[max(0, i-40):min(len(stripped), i+40)])
		}
	}
	for _, m := range urlAttrRE.FindAllStringSubmatch(body, -1) {
		v := m[2]
		if m[1] != "href" || strings.HasPrefix(v, "//") ||
			!(strings.HasPrefix(v, "/") || strings.HasPrefix(v, "#") || strings.HasPrefix(v, "data:image/svg+xml,")) {
			t.Errorf("attribute %s=%q may load something foreign", m[1], v)
		}
	}
}

func TestHostileNamesEscapedInHTML(t *testing.T) {
	u := New(testFS(), Options{})
	body := serve(t, u, "GET", "/", "/", browser).Body.String()
	if strings.Contains(body, "<img") {
		t.Fatal("a name was rendered as markup")
	}
	for _, want := range []string{
		`<span class="name">&lt;img src=x onerror=alert(1)&gt;.txt</span>`,
		`data-name="&lt;img src=x onerror=alert(1)&gt;.txt"`,
		`href="/%3Cimg%20src=x%20onerror=alert%281%29%3E.txt"`,
		`<span class="name">&#34;quoted&#34; &amp; &#39;single&#39;</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestJSON(t *testing.T) {
	u := New(testFS(), Options{Prefix: "/dav"})
	for _, tc := range []struct {
		name   string
		target string
		hdr    map[string]string
	}{
		{"format=json", "/dav/?format=json", nil},
		{"Accept json", "/dav/", map[string]string{"Accept": "application/json"}},
		{"format wins over browser Accept", "/dav/?format=json", browser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(t, u, "GET", tc.target, "/", tc.hdr)
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" {
				t.Error("missing nosniff or no-store")
			}
			raw := w.Body.String()
			if strings.Contains(raw, "<") || strings.Contains(raw, ">") {
				t.Errorf("JSON carries raw angle brackets: %s", raw)
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got["path"] != "/" {
				t.Errorf("path = %v", got["path"])
			}
			list := got["entries"].([]any)
			if len(list) != 5 {
				t.Fatalf("%d entries", len(list))
			}
			first := list[0].(map[string]any)
			wantKeys := []string{"dir", "etag", "href", "modified", "name", "size", "writable"}
			for _, k := range wantKeys {
				if _, ok := first[k]; !ok {
					t.Errorf("entry lacks %q", k)
				}
			}
			if len(first) != len(wantKeys) {
				t.Errorf("entry has keys %v", first)
			}
			// Collections first, then by name ignoring case.
			var names []string
			for _, e := range list {
				names = append(names, e.(map[string]any)["name"].(string))
			}
			wantNames := []string{"a dir", "Zeta", `"quoted" & 'single'`, hostile, "b.txt"}
			if strings.Join(names, "|") != strings.Join(wantNames, "|") {
				t.Errorf("order %q, want %q", names, wantNames)
			}
		})
	}

	var l Listing
	w := serve(t, u, "GET", "/dav/?format=json", "/", nil)
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	byName := map[string]Entry{}
	for _, e := range l.Entries {
		byName[e.Name] = e
	}
	for name, want := range map[string]Entry{
		hostile: {Name: hostile, Href: "/dav/%3Cimg%20src=x%20onerror=alert(1)%3E.txt", Size: 5,
			Modified: "2026-03-04T05:06:07Z", ETag: `"h1"`, Writable: true},
		"a dir": {Name: "a dir", Href: "/dav/a%20dir/", Dir: true, Modified: "2026-03-04T05:06:07Z", Writable: true},
	} {
		if got := byName[name]; got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
		if _, err := time.Parse(time.RFC3339, byName[name].Modified); err != nil {
			t.Errorf("modified not RFC 3339: %v", err)
		}
	}
}

func TestEmptyJSONIsArray(t *testing.T) {
	w := serve(t, New(testFS(), Options{}), "GET", "/a%20dir/?format=json", "/a dir", nil)
	if got := strings.TrimSpace(w.Body.String()); got != `{"path":"/a dir","entries":[]}` {
		t.Errorf("body %s", got)
	}
}

func TestBreadcrumbs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string
		p      davpath.Path
		want   []string
	}{
		{"root", "", "/", []string{`<a href="/" class="home" aria-current="page">`}},
		{"nested escaped", "", "/a dir/sub%20dir", []string{
			`<a href="/" class="home">`,
			`<li><a href="/a%20dir/">a dir</a></li>`,
			`<li><span aria-current="page">sub%20dir</span></li>`,
		}},
		{"prefix", "/dav", "/a dir/sub%20dir", []string{
			`<a href="/dav/" class="home">`,
			`<li><a href="/dav/a%20dir/">a dir</a></li>`,
			`data-href="/dav/a%20dir/sub%2520dir/"`,
			`<a href="/dav/a%20dir/sub%2520dir/x.go">`,
		}},
		{"prefix with space and trailing slash", "/my files/", "/a dir", []string{
			`<a href="/my%20files/" class="home">`,
			`<li><span aria-current="page">a dir</span></li>`,
			`data-href="/my%20files/a%20dir/"`,
		}},
		{"markup in a collection name", "", "/<b>bold", []string{
			`<span aria-current="page">&lt;b&gt;bold</span>`,
			`<title>&lt;b&gt;bold · davd</title>`,
			`data-href="/%3Cb%3Ebold/"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(t, New(testFS(), Options{Prefix: tc.prefix}), "GET", "/", tc.p, browser)
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			body := w.Body.String()
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %s", s)
				}
			}
			if strings.Contains(body, "<b>") {
				t.Error("markup leaked")
			}
		})
	}
}

func TestTitle(t *testing.T) {
	body := serve(t, New(testFS(), Options{Title: "Team <files>"}), "GET", "/", "/", browser).Body.String()
	for _, s := range []string{"<title>Team &lt;files&gt;</title>", "<span>Team &lt;files&gt;</span>"} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
}

func TestHEAD(t *testing.T) {
	f := testFS()
	u := New(f, Options{})
	w := serve(t, u, "HEAD", "/", "/", browser)
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("status %d, %d body bytes", w.Code, w.Body.Len())
	}
	if w.Header().Get("Content-Security-Policy") == "" || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("headers %v", w.Header())
	}
	if f.lists != 0 {
		t.Errorf("HEAD listed %d times", f.lists)
	}
	serve(t, u, "GET", "/", "/", browser)
	if f.lists != 1 {
		t.Errorf("GET listed %d times, want 1", f.lists)
	}
}

func TestListErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{fs.ErrNotExist, 404},
		{fs.ErrPermission, 403},
		{errors.New("disk on fire /secret/path"), 500},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			w := serve(t, New(&fakeFS{err: tc.err}, Options{}), "GET", "/", "/", browser)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d", w.Code, tc.code)
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Error("error text leaked to the client")
			}
		})
	}
	var got error
	u := New(&fakeFS{err: fs.ErrPermission}, Options{Error: func(w http.ResponseWriter, _ *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}})
	if w := serve(t, u, "GET", "/", "/", browser); w.Code != http.StatusTeapot || !errors.Is(got, fs.ErrPermission) {
		t.Errorf("Error hook not used: %d %v", w.Code, got)
	}
}

func TestVisible(t *testing.T) {
	u := New(testFS(), Options{Visible: func(_ context.Context, p davpath.Path) bool { return p != "/Zeta" }})
	var l Listing
	if err := json.Unmarshal(serve(t, u, "GET", "/?format=json", "/", nil).Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Entries {
		if e.Name == "Zeta" {
			t.Error("hidden member listed")
		}
	}
	if len(l.Entries) != 4 {
		t.Errorf("%d entries", len(l.Entries))
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 10 << 20: "10 MiB", 5 << 30: "5.0 GiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestIconFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  bool
		want string
	}{
		{"x.PNG", false, "i-image"}, {"a.tar.gz", false, "i-archive"}, {"README", false, "i-file"},
		{"photos.jpg", true, "i-folder"}, {".bashrc", false, "i-file"}, {"main.go", false, "i-code"},
	} {
		if got := iconFor(tc.name, tc.dir); got != tc.want {
			t.Errorf("iconFor(%q, %v) = %q, want %q", tc.name, tc.dir, got, tc.want)
		}
	}
}

// TestRightsInPage: the page offers only what the principal may do (issue 18 item 7). A
// read-only folder has no Upload or New folder and says it is read-only; a member the principal
// may not change has no Rename or Delete (data-writable false, the script's cue); the JSON
// listing carries the same flag; the signed-in user is named in the header.
func TestRightsInPage(t *testing.T) {
	ro := map[davpath.Path]bool{"/": true, "/b.txt": true}
	u := New(testFS(), Options{Prefix: "/dav", Writable: func(_ context.Context, p davpath.Path) bool { return !ro[p] }})
	r := httptest.NewRequest("GET", "/dav/", nil)
	for k, v := range browser {
		r.Header.Set(k, v)
	}
	r = r.WithContext(access.WithPrincipal(r.Context(), "alice"))
	w := httptest.NewRecorder()
	u.ServeCollection(w, r, "/", storage.Info{IsDir: true, ModTime: when})
	body := w.Body.String()
	for _, bad := range []string{`id="new-folder"`, `id="picker"`, "Drop files"} {
		if strings.Contains(body, bad) {
			t.Errorf("read-only folder page offers %s", bad)
		}
	}
	for _, want := range []string{`data-writable="false"`, "You can read this folder but not change it", `<span class="who" title="Signed in as alice">`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	rows := regexp.MustCompile(`<tr data-name="([^"]*)"[^>]*data-writable="(true|false)"`).FindAllStringSubmatch(body, -1)
	if len(rows) != 5 {
		t.Fatalf("%d rows with data-writable", len(rows))
	}
	for _, m := range rows {
		if want := m[1] != "b.txt"; (m[2] == "true") != want {
			t.Errorf("row %s: data-writable=%s", m[1], m[2])
		}
	}

	// A writable folder offers both; an anonymous request names nobody.
	ro["/"] = false
	w = serve(t, u, "GET", "/dav/", "/", browser)
	body = w.Body.String()
	for _, want := range []string{`id="new-folder"`, `id="picker"`, `data-writable="true"`} {
		if !strings.Contains(body, want) {
			t.Errorf("writable folder page lacks %s", want)
		}
	}
	if strings.Contains(body, `class="who"`) {
		t.Error("anonymous page names a user")
	}

	var l Listing
	w = serve(t, u, "GET", "/dav/?format=json", "/", nil)
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Entries {
		if e.Writable != (e.Name != "b.txt") {
			t.Errorf("JSON %s: writable %v", e.Name, e.Writable)
		}
	}
}

// TestErrorPage: a browser's failed GET is a page with the status, a sentence, and links to the
// parent folder and the top under the prefix (issue 18 item 7), served under the page's CSP;
// a script's JSON request is left to the engine's plain answer.
func TestErrorPage(t *testing.T) {
	u := New(testFS(), Options{Prefix: "/dav"})
	for _, tc := range []struct {
		target       string
		code         int
		parent, text string
	}{
		{"/dav/a%20dir/gone.txt", 404, "/dav/a%20dir/", "Nothing is at this address"},
		{"/dav/secret/", 403, "/dav/", "You may not open this"},
		{"/dav/", 404, "/dav/", "Nothing is at this address"},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Header.Set("Accept", browser["Accept"])
		w := httptest.NewRecorder()
		if !u.ServeError(w, r, tc.code) {
			t.Fatalf("%s: not served", tc.target)
		}
		body := w.Body.String()
		if w.Code != tc.code || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: %d %q", tc.target, w.Code, w.Header().Get("Content-Type"))
		}
		for _, want := range []string{`href="` + tc.parent + `">Parent folder`, `href="/dav/">Top`, tc.text, http.StatusText(tc.code)} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q:\n%s", tc.target, want, body)
			}
		}
		if w.Header().Get("Content-Security-Policy") != u.csp || strings.Contains(body, "<script") {
			t.Errorf("%s: CSP %q, or a script in the page", tc.target, w.Header().Get("Content-Security-Policy"))
		}
	}
	r := httptest.NewRequest("GET", "/dav/x?format=json", nil)
	if u.ServeError(httptest.NewRecorder(), r, 404) {
		t.Error("a JSON request got the HTML error page")
	}
}
