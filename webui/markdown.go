package webui

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// A Markdown file is shown rendered, on GET FILE.md?view=html (the preview dialog puts that
// in a sandboxed frame). goldmark renders CommonMark with GitHub's tables, strikethrough,
// autolinks and task lists; it drops raw HTML and javascript:-style link targets (it is not
// run with html.WithUnsafe), and the response carries a CSP sandbox without scripts, so what
// an uploader wrote stays text and markup, never code in davd's origin.

// markdownLimit bounds the Markdown a view renders; a bigger file is shown as its source.
const markdownLimit = 1 << 20

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// markdownStyle is the rendered page's one style sheet, allowed by its hash.
const markdownStyle = `:root{color-scheme:light dark}body{font:15px/1.6 system-ui,sans-serif;max-width:48em;margin:0 auto;padding:16px 20px;overflow-wrap:anywhere}` +
	`pre{overflow:auto;padding:10px;border-radius:6px;background:rgba(127,127,127,.12)}code{font:13px ui-monospace,monospace}` +
	`table{border-collapse:collapse}th,td{border:1px solid rgba(127,127,127,.4);padding:4px 8px}img{max-width:100%}` +
	`blockquote{margin-left:0;padding-left:12px;border-left:3px solid rgba(127,127,127,.4)}`

// markdownCSP: no script at all, an opaque origin (sandbox), the style above, images from the
// server itself.
var markdownCSP = func() string {
	sum := sha256.Sum256([]byte(markdownStyle))
	return "sandbox; default-src 'none'; img-src 'self' data:; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// isMarkdown reports a file name the view renders.
func isMarkdown(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return false
	}
	switch strings.ToLower(name[i+1:]) {
	case "md", "markdown":
		return true
	}
	return false
}

// ViewsFile reports a request for a file's rendered view: ?view=html of a Markdown file
// (dav.FileViewer).
func (u *UI) ViewsFile(r *http.Request, info storage.Info) bool {
	// Parsing the query costs an allocation: most GETs have none.
	return r.URL.RawQuery != "" && r.URL.Query().Get("view") == "html" && isMarkdown(info.Name)
}

// ViewFile renders the Markdown file read from content as a page (dav.FileViewer). A file over
// markdownLimit is answered 413: the page then shows the source.
func (u *UI) ViewFile(w http.ResponseWriter, r *http.Request, p davpath.Path, content io.Reader, info storage.Info) {
	src, err := io.ReadAll(io.LimitReader(content, markdownLimit+1))
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-cache")
	if len(src) > markdownLimit {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "This file is too big to be shown rendered; open it for its source.\n")
		return
	}
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
	template.HTMLEscape(&b, []byte(info.Name))
	b.WriteString("</title><style>" + markdownStyle + "</style></head><body>\n")
	if err := markdown.Convert(src, &b); err != nil {
		u.fail(w, r, p, err)
		return
	}
	b.WriteString("</body></html>\n")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", markdownCSP)
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}
