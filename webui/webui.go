package webui

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

//go:embed assets/page.html assets/style.css assets/app.js
var assets embed.FS

// RequestedWith is the value of the X-Requested-With header the page sends with every
// state-changing request.
const RequestedWith = "davd-webui"

// Options configures a UI.
type Options struct {
	// Prefix is the URL path the dav handler is mounted at, unescaped ("/dav"), or "" for none.
	Prefix string
	// Title names the server in the page title and the first breadcrumb; "davd" if empty.
	Title string
	// Visible, when non-nil, hides the members for which it returns false. The engine passes
	// its read-access check, so the page lists what a PROPFIND by the same principal would.
	Visible func(ctx context.Context, p davpath.Path) bool
	// Writable, when non-nil, reports whether the principal may change p (the engine's write
	// check): the page offers upload, new folder, rename and delete only where they would
	// succeed. Without it everything visible is writable. The server still checks every request;
	// this only keeps the page from offering what it would refuse.
	Writable func(ctx context.Context, p davpath.Path) bool
	// Shares offers share links (creating, listing and revoking them) to a signed-in user: the
	// server serves them (server/sharelink). Off for anonymous principals and link views.
	Shares bool
	// Chunked, when non-nil, tells where the principal's large uploads go in resumable chunks
	// (Nextcloud's chunking, server/nextcloud): the escaped href of their upload area and of
	// collection p in the files space the chunks are assembled into; ok false: plain PUTs.
	Chunked func(ctx context.Context, p davpath.Path) (uploads, dest string, ok bool)
	// Error, when non-nil, writes the response for a failed listing (nothing has been written
	// yet), so the engine can use its one error-to-status mapping. Without it, fs.ErrNotExist
	// is a 404, fs.ErrPermission a 403 and anything else a 500 with a generic body.
	Error func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives listing failures; nil discards them.
	Logger *slog.Logger
}

// UI renders collections of one storage.Backend. It is safe for concurrent use.
type UI struct {
	b       storage.Backend
	opt     Options
	prefix  string
	page    *template.Template
	style   template.CSS
	script  template.JS
	csp     string
	rootURL string
	errPage *template.Template
}

// New returns a UI over b. It is cheap: the templates and assets are parsed once per process
// (share links build a UI per request).
func New(b storage.Backend, opt Options) *UI {
	if opt.Title == "" {
		opt.Title = "davd"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	a := parsed()
	u := &UI{
		b:       b,
		opt:     opt,
		prefix:  strings.TrimRight(opt.Prefix, "/"),
		page:    a.page,
		style:   a.style,
		script:  a.script,
		csp:     a.csp,
		errPage: a.errPage,
	}
	u.rootURL = davpath.Root.Escape(u.prefix, true)
	return u
}

// parsedAssets are the templates and assets every UI shares; templates are safe for
// concurrent use.
type parsedAssets struct {
	page, errPage *template.Template
	style         template.CSS
	script        template.JS
	csp           string
}

var parsed = sync.OnceValue(func() parsedAssets {
	style := mustRead("assets/style.css")
	script := mustRead("assets/app.js")
	return parsedAssets{
		page: template.Must(template.New("page.html").Funcs(template.FuncMap{
			"size": formatSize,
			"icon": iconFor,
		}).ParseFS(assets, "assets/page.html")),
		errPage: template.Must(template.New("error").Parse(errorPage)),
		style:   template.CSS(style),
		script:  template.JS(script),
		csp:     contentSecurityPolicy(script, style),
	}
})

func mustRead(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// contentSecurityPolicy allows exactly the page's one inline script and one inline style, by
// hash, and nothing else but same-origin requests, data: images (the favicon), and same-origin
// images, audio, video and frames for the preview (a PDF in the browser's own viewer; files a
// browser would run are served with a sandbox CSP of their own, and the preview never frames
// them).
func contentSecurityPolicy(script, style string) string {
	return "default-src 'none'" +
		"; script-src " + hashSource(script) +
		"; style-src " + hashSource(style) +
		"; img-src 'self' data:" +
		"; media-src 'self'" +
		"; frame-src 'self'" +
		"; connect-src 'self'" +
		"; base-uri 'none'" +
		"; form-action 'none'" +
		"; frame-ancestors 'none'" +
		"; require-trusted-types-for 'script'; trusted-types 'none'"
}

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// Wants reports whether a GET or HEAD of a collection should get the browser view (or its JSON
// listing) rather than the engine's own answer: browsers send Accept with text/html, and the
// page's script asks with ?format=json or Accept: application/json.
func Wants(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	q := r.URL.Query()
	switch q.Get("format") {
	case "json", "html":
		return true
	}
	return q.Has("search") || accepts(r, "text/html") || accepts(r, "application/json")
}

// Wants is the package-level Wants, as a method, so that a *UI satisfies an engine interface
// with both Wants and ServeCollection.
func (*UI) Wants(r *http.Request) bool { return Wants(r) }

// accepts reports whether the Accept header names media type typ with a non-zero quality.
// Wildcards do not count: a client that sends only */* is not a browser.
func accepts(r *http.Request, typ string) bool {
	for _, h := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != typ {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// wantsJSON picks the representation: ?format wins, then an Accept that names JSON but not HTML.
func wantsJSON(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "json":
		return true
	case "html":
		return false
	}
	return accepts(r, "application/json") && !accepts(r, "text/html")
}

// Entry is one member in the JSON listing.
type Entry struct {
	Name string `json:"name"`
	// Href is the member's escaped URL path, with the prefix and, for collections, a trailing
	// slash.
	Href string `json:"href"`
	Dir  bool   `json:"dir"`
	Size int64  `json:"size"`
	// Modified is the modification time in RFC 3339, UTC, or "" when unknown.
	Modified string `json:"modified"`
	ETag     string `json:"etag"`
	// Writable reports whether the principal may change (rename, delete, overwrite) the member.
	Writable bool `json:"writable"`
}

// Listing is the JSON document served for ?format=json.
type Listing struct {
	// Path is the collection's canonical, unescaped path (without the prefix).
	Path    string  `json:"path"`
	Entries []Entry `json:"entries"`
}

// ServeCollection writes the page, or the JSON listing, for the collection p whose Info is info.
// The caller has checked that the principal may read p. It lists p with one call to List (none
// for HEAD).
func (u *UI) ServeCollection(w http.ResponseWriter, r *http.Request, p davpath.Path, info storage.Info) {
	if q := r.URL.Query(); q.Has("search") {
		u.serveSearch(w, r, p, q.Get("search"))
		return
	}
	asJSON := wantsJSON(r)
	var entries []Entry
	if r.Method != http.MethodHead {
		var err error
		entries, err = u.list(r.Context(), p)
		if err != nil {
			u.fail(w, r, p, err)
			return
		}
	}

	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Add("Vary", "Accept")
	if !info.ModTime.IsZero() {
		h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	}
	if asJSON {
		h.Set("Content-Type", "application/json")
		// The JSON is data, never a document: nothing in it may run if opened directly.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	} else {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", u.csp)
		h.Set("X-Frame-Options", "DENY")
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}

	bw := bufio.NewWriterSize(w, 32<<10)
	var err error
	if asJSON {
		err = json.NewEncoder(bw).Encode(Listing{Path: p.String(), Entries: entries})
	} else {
		err = u.page.Execute(bw, u.pageData(r.Context(), p, entries))
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil && r.Context().Err() == nil {
		// The status line is gone; all that is left is to log it.
		u.opt.Logger.Error("webui: render", "path", p.String(), "err", err)
	}
}

// entryOf describes the member child, whose Info is info, as the page and the JSON show it.
func (u *UI) entryOf(ctx context.Context, child davpath.Path, info storage.Info) Entry {
	e := Entry{
		Name:     info.Name,
		Href:     child.Escape(u.prefix, info.IsDir),
		Dir:      info.IsDir,
		Size:     info.Size,
		ETag:     info.ETag,
		Writable: u.writable(ctx, child),
	}
	if info.IsDir {
		e.Size = 0
	}
	if !info.ModTime.IsZero() {
		e.Modified = info.ModTime.UTC().Format(time.RFC3339)
	}
	return e
}

// list collects the visible members of p, collections first, then by name.
func (u *UI) list(ctx context.Context, p davpath.Path) ([]Entry, error) {
	entries := []Entry{}
	for info, err := range u.b.List(ctx, p) {
		if err != nil {
			return nil, err
		}
		if !davpath.ValidName(info.Name) {
			continue // never render what the namespace cannot hold
		}
		child := p.Join(info.Name)
		if u.opt.Visible != nil && !u.opt.Visible(ctx, child) {
			continue
		}
		entries = append(entries, u.entryOf(ctx, child, info))
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Name, b.Name))
	})
	return entries, nil
}

// ServeError writes the page of a failed GET or HEAD for a browser navigating (Accept with
// text/html): the status the engine chose, what it means in a sentence, and links to the parent
// folder and the top, under the page's CSP. It reports false, writing nothing, for a script's
// JSON request, which keeps the engine's plain answer. It implements dav.ErrorPager.
func (u *UI) ServeError(w http.ResponseWriter, r *http.Request, code int) bool {
	if wantsJSON(r) || !accepts(r, "text/html") {
		return false
	}
	msg := "The server could not answer this request."
	switch {
	case code == http.StatusNotFound:
		msg = "Nothing is at this address. It may have been moved, renamed or deleted."
	case code == http.StatusForbidden:
		msg = "You may not open this."
	case code == http.StatusServiceUnavailable:
		msg = "The server cannot reach its storage just now. Try again in a moment."
	case code >= 500:
		msg = "The server failed to answer this request. Try again later."
	}
	// The parent of the requested path, from its escaped form, so that nothing is decoded and
	// re-encoded; never above the prefix.
	parent := strings.TrimSuffix(r.URL.EscapedPath(), "/")
	if i := strings.LastIndexByte(parent, '/'); i >= 0 {
		parent = parent[:i+1]
	}
	if !strings.HasPrefix(parent, u.rootURL) {
		parent = u.rootURL
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", u.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	var b bytes.Buffer
	if err := u.errPage.Execute(&b, errorData{
		Title: u.opt.Title, Code: code, Status: http.StatusText(code), Message: msg,
		Parent: parent, RootHref: u.rootURL, Style: u.style,
	}); err != nil {
		return false
	}
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(b.Bytes())
	}
	return true
}

type errorData struct {
	Title, Status, Message, Parent, RootHref string
	Code                                     int
	Style                                    template.CSS
}

// favicon is the pages' icon, inline, so that no page makes the browser ask for /favicon.ico.
const favicon = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'%3E%3Cpath fill='%234f7cff' d='M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z'/%3E%3C/svg%3E"

// errorPage is the page of ServeError: the browser view's style, no script.
const errorPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{{.Status}} · {{.Title}}</title>
<link rel="icon" href="` + favicon + `">
<style>{{.Style}}</style>
</head>
<body>
<main class="error-page">
  <div class="card">
    <h1>{{.Code}} {{.Status}}</h1>
    <p>{{.Message}}</p>
    <p class="error-links"><a class="btn" href="{{.Parent}}">Parent folder</a> <a class="btn primary" href="{{.RootHref}}">Top</a></p>
  </div>
</main>
</body>
</html>
`

// writable applies Options.Writable.
func (u *UI) writable(ctx context.Context, p davpath.Path) bool {
	return u.opt.Writable == nil || u.opt.Writable(ctx, p)
}

func (u *UI) fail(w http.ResponseWriter, r *http.Request, p davpath.Path, err error) {
	if u.opt.Error != nil {
		u.opt.Error(w, r, err)
		return
	}
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		code = http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		code = http.StatusForbidden
	case errors.Is(err, storage.ErrNotDir):
		code = http.StatusConflict
	default:
		if r.Context().Err() == nil {
			u.opt.Logger.Error("webui: list", "path", p.String(), "err", err)
		}
	}
	http.Error(w, http.StatusText(code), code)
}

// crumb is one step of the breadcrumb trail; the current collection has no Href.
type crumb struct {
	Name string
	Href string
}

// inlineRows bounds the rows written into a page; the script loads the rest (see pageData).
const inlineRows = 300

type pageData struct {
	Title    string
	Path     string
	Heading  string
	Href     string
	RootHref string
	Crumbs   []crumb
	Entries  []Entry
	// CanWrite: the principal may create members here (upload, new folder).
	CanWrite bool
	// User is the signed-in principal's name, "" when anonymous.
	User string
	// Total is the number of entries; only the first inlineRows are in Entries.
	Total int
	// CanShare: the page offers share links.
	CanShare bool
	// ChunkUploads and ChunkDest: where large files upload in resumable chunks (see
	// Options.Chunked); empty: plain PUTs.
	ChunkUploads, ChunkDest string
	Style                   template.CSS
	Script                  template.JS
}

func (u *UI) pageData(ctx context.Context, p davpath.Path, entries []Entry) pageData {
	d := pageData{
		CanWrite: u.writable(ctx, p),
		User:     access.Principal(ctx),
		CanShare: u.opt.Shares && access.Principal(ctx) != "",
		Title:    u.opt.Title,
		Path:     p.String(),
		Heading:  p.Base(),
		Href:     p.Escape(u.prefix, true),
		RootHref: u.rootURL,
		Entries:  entries,
		Total:    len(entries),
		Style:    u.style,
		Script:   u.script,
	}
	if d.Heading == "" {
		d.Heading = u.opt.Title
	}
	// A big folder's page carries its first rows only, so that the first screen shows at once;
	// the script fetches the whole listing as JSON (one parse instead of thousands of elements).
	if len(d.Entries) > inlineRows {
		d.Entries = d.Entries[:inlineRows]
	}
	cur := davpath.Root
	segs := p.Segments()
	for i, s := range segs {
		cur = cur.Join(s)
		c := crumb{Name: s}
		if i < len(segs)-1 {
			c.Href = cur.Escape(u.prefix, true)
		}
		d.Crumbs = append(d.Crumbs, c)
	}
	if u.opt.Chunked != nil && d.CanWrite {
		if up, dest, ok := u.opt.Chunked(ctx, p); ok {
			d.ChunkUploads, d.ChunkDest = up, dest
		}
	}
	return d
}

// formatSize renders a byte count for people: 512 B, 1.5 KiB, 23 MiB.
func formatSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n) / 1024
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f < 10 {
		return fmt.Sprintf("%.1f %s", f, units[i])
	}
	return fmt.Sprintf("%.0f %s", f, units[i])
}

// iconKinds maps lower-case extensions to icon symbols. app.js holds the same table.
var iconKinds = map[string]string{}

func init() {
	for kind, exts := range map[string]string{
		"image":   "png jpg jpeg gif webp svg bmp ico tif tiff heic avif",
		"audio":   "mp3 wav flac ogg oga m4a aac opus",
		"video":   "mp4 mkv webm mov avi m4v ogv",
		"archive": "zip tar gz tgz bz2 xz zst 7z rar",
		"code":    "go js ts py rb rs c h cc cpp java sh json xml html css yaml yml toml sql",
		"text":    "txt md csv log ini conf rst",
		"pdf":     "pdf",
	} {
		for ext := range strings.FieldsSeq(exts) {
			iconKinds[ext] = kind
		}
	}
}

// iconFor returns the id of the icon symbol for a member ("i-folder", "i-image", ...).
func iconFor(name string, dir bool) string {
	if dir {
		return "i-folder"
	}
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if k, ok := iconKinds[ext]; ok {
		return "i-" + k
	}
	return "i-file"
}
