package webui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
	"github.com/davd/davd/webui"
)

// A Markdown file asked for with ?view=html is rendered through the engine's FileViewer hook:
// markup as HTML, raw HTML and javascript: links dropped, no script allowed, an opaque origin
// (CSP sandbox). Without ?view, or for another type, the file is served as it is (RFC 9110 GET).
func TestMarkdownView(t *testing.T) {
	fs := memfs.New()
	put := func(name, body string) {
		t.Helper()
		p, _ := davpath.Parse("/"+name, "")
		if _, _, err := fs.Put(context.Background(), p, strings.NewReader(body), storage.PutOptions{Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
	}
	const md = "# Title <b>x</b>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>\n\n[bad](javascript:alert(2)) [good](other.md)\n\n- [x] done\n"
	put("notes.md", md)
	put("plain.txt", "# not markdown\n")
	put("big.markdown", strings.Repeat("a", 1<<20+1))
	h, err := dav.New(dav.Config{Storage: fs, Browser: webui.New(fs, webui.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	get := func(target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		return w
	}

	w := get("/notes.md?view=html")
	body := w.Body.String()
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("view: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{"<h1>Title", "<table>", "<td>1</td>", `<a href="other.md">good</a>`, `type="checkbox"`, "<title>notes.md</title>"} {
		if !strings.Contains(body, want) {
			t.Errorf("rendered page lacks %q:\n%s", want, body)
		}
	}
	for _, bad := range []string{"<script", "<b>", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("rendered page carries %q:\n%s", bad, body)
		}
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "sandbox;") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}

	if w := get("/notes.md"); w.Body.String() != md || strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("plain GET: %q %q", w.Header().Get("Content-Type"), w.Body.String())
	}
	if w := get("/plain.txt?view=html"); w.Body.String() != "# not markdown\n" {
		t.Errorf("a text file with ?view=html: %q", w.Body.String())
	}
	if w := get("/big.markdown?view=html"); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/notes.md?view=html", nil))
	if strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("HEAD is the file's: %q", w.Header().Get("Content-Type"))
	}
}
