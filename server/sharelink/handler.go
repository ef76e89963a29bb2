// Package sharelink serves davd's share links: a user hands out an unguessable URL to a file or a folder,
// read-only or upload-only (a "file drop"), optionally expiring and optionally behind a password.
//
// A link is a record in a share.Store (the embedded bbolt store, or etcd in cluster mode) naming its
// creator and a path of the served tree. It grants nothing by itself: every request through it is
// checked against the creator's scope and rules as they are now, then narrowed to the link's
// sub-tree and kind. So a link never grants more than its creator has, and dies with the
// creator's access (a user removed, a scope or rule narrowed, the path renamed or deleted).
//
// The URL layout, under the server's prefix:
//
//	POST /PATH (creator's credentials, X-Requested-With: davd-webui, form share=read|upload,
//	           expires=SECONDS, password=…)        → 201, Location: the link's URL
//	GET  /.davd-share/                 (creator)   → JSON list of the creator's links
//	DELETE /.davd-share/TOKEN/… (creator, X-Requested-With: davd-webui) → 204
//	/.davd-share/TOKEN/…               (anyone with the URL, and its password if it has one)
//
// A folder link's URL is /.davd-share/TOKEN/, and the folder is the root of a read-only WebDAV
// view (PROPFIND, GET, HEAD, OPTIONS, a zip download and the browser page work there). A file
// link's URL is /.davd-share/TOKEN/NAME: the view holds that one member. An upload link takes
// PUT of new files directly in its folder and nothing else; a browser gets a drop page there.
//
// The name ".davd-share" at the top of the served tree is therefore reserved while users are
// configured: the server answers for it, and a file or folder of that name at the top of the tree
// is not reachable over HTTP.
package sharelink

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/davd/davd/access"
	"github.com/davd/davd/auth"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/scope"
	"github.com/davd/davd/share"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/webui"
)

// Dir is the reserved top-level name under which links are served.
const Dir = ".davd-share"

// RequestedWith is the X-Requested-With value that creating and revoking a link need, as every
// change the browser page makes carries it: a cross-site form cannot set a header, so a page on
// another site cannot make a signed-in user's browser create or revoke links.
const RequestedWith = "davd-webui"

// Owner is what a link's creator may do now, from the server's current configuration.
type Owner struct {
	// Scope is the owner's root in the served tree.
	Scope davpath.Path
	// Storage is the owner's view of the tree (its Scope as the root).
	Storage storage.Backend
	// Resolver tells where a path of the owner's view leads through symbolic links; nil when
	// the storage has none.
	Resolver access.Resolver
	// Policy is the owner's access, checked with the owner's name on paths of its view; nil
	// allows everything.
	Policy access.Policy
}

// Config configures the links' handler.
type Config struct {
	Store share.Store
	// Prefix is the server's URL prefix, unescaped ("" for none).
	Prefix string
	// Owner returns the current access of a user; false when the user is gone.
	Owner func(name string) (Owner, bool)
	// Props and Locks are the served tree's dead properties and locks (unwrapped).
	Props props.Store
	Locks lock.Manager
	// Engine holds the engine settings every link's view shares (Limits, PublicHosts,
	// TrustForwarded, Logger); its seams and prefix are set per link.
	Engine dav.Config
	// Throttle counts unknown tokens and wrong link passwords with failed logins; nil: none.
	Throttle *auth.Throttle
	// OnThrottled is called for each request refused with 429.
	OnThrottled func()
	Logger      *slog.Logger
	Now         func() time.Time
	// MaxPerOwner bounds the links of one user (default 1000).
	MaxPerOwner int
}

// Handler serves the links. Create it with New.
type Handler struct {
	c       Config
	rootURL string // the server's root URL path, escaped, with a trailing slash

	mu       sync.Mutex
	verified map[[32]byte]bool // link passwords already checked against their bcrypt hash
}

// New returns the links' handler.
func New(c Config) *Handler {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxPerOwner <= 0 {
		c.MaxPerOwner = 1000
	}
	c.Prefix = strings.TrimRight(c.Prefix, "/")
	return &Handler{c: c, rootURL: davpath.Root.Escape(c.Prefix, true), verified: map[[32]byte]bool{}}
}

// segments returns the path segments below Dir of a request for a link URL. A path under Dir
// that does not parse (dot segments, an encoded slash) is the links' too, with bad set: it is
// refused there rather than handed to the authenticated server.
func (h *Handler) segments(r *http.Request) (segs []string, ok bool) {
	segs, ok, _ = h.parse(r)
	return segs, ok
}

func (h *Handler) parse(r *http.Request) (segs []string, ok, bad bool) {
	esc := r.URL.EscapedPath()
	if !strings.HasPrefix(esc, h.rootURL+Dir) {
		return nil, false, false
	}
	p, err := davpath.Parse(esc, h.c.Prefix)
	if err != nil {
		rest := esc[len(h.rootURL+Dir):]
		ok = rest == "" || rest[0] == '/' || len(rest) >= 3 && strings.EqualFold(rest[:3], "%2f")
		return nil, ok, ok
	}
	segs = p.Segments()
	if len(segs) == 0 || segs[0] != Dir {
		return nil, false, false
	}
	return segs[1:], true, false
}

// Under reports whether r is for the links' URL space.
func (h *Handler) Under(r *http.Request) bool {
	_, ok := h.segments(r)
	return ok
}

// Admin reports whether r, under the links' URL space, is the creator's: the list of its links
// (GET of /.davd-share/) or a revocation. Those go through authentication first; every other
// request there is a use of a link and does not.
func (h *Handler) Admin(r *http.Request) bool {
	segs, ok, bad := h.parse(r)
	if !ok || bad {
		return false
	}
	switch {
	case len(segs) == 0:
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	case r.Method == http.MethodDelete:
		return r.Header.Get("X-Requested-With") == RequestedWith
	}
	return false
}

// Creates reports whether r asks to create a link: a POST with the page's header and a form.
func Creates(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("X-Requested-With") != RequestedWith {
		return false
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
}

// linkInfo is a link as the JSON answers show it to its owner.
type linkInfo struct {
	URL      string     `json:"url"`
	Path     string     `json:"path"` // in the owner's view; "" when it is no longer in it
	Dir      bool       `json:"dir"`
	Kind     share.Kind `json:"kind"`
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires"`
	Password bool       `json:"password"`
}

func (h *Handler) url(l share.Link) string {
	u := h.rootURL + Dir + "/" + l.Token + "/"
	if !l.Dir {
		u = string(davpath.AppendEscaped([]byte(u), l.Path.Base()))
	}
	return u
}

func (h *Handler) info(l share.Link, o Owner) linkInfo {
	in := linkInfo{URL: h.url(l), Dir: l.Dir, Kind: l.Kind, Created: l.Created, Password: l.PasswordHash != ""}
	if !l.Expires.IsZero() {
		e := l.Expires
		in.Expires = &e
	}
	if v, above, ok := (scope.Mapper{Base: o.Scope}).Out(l.Path); ok && !above {
		in.Path = string(v)
	}
	return in
}

// signedIn returns the request's principal and what it may share, or answers 403 (no user, or
// one the configuration no longer has) and returns false.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) (string, Owner, bool) {
	owner := access.Principal(r.Context())
	o, ok := h.c.Owner(owner)
	if owner == "" || !ok {
		plain(w, http.StatusForbidden, "Share links need a signed-in user.")
		return "", Owner{}, false
	}
	return owner, o, true
}

// Create answers a request for which Creates is true, from the authenticated principal in its
// context: 201 with Location the link's URL and a JSON description.
func (h *Handler) Create(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	owner, o, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		plain(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	kind := share.Kind(r.PostForm.Get("share"))
	if kind != share.Read && kind != share.Upload {
		plain(w, http.StatusBadRequest, `share must be "read" or "upload".`)
		return
	}
	now := h.c.Now()
	l := share.Link{Token: share.NewToken(), Owner: owner, Kind: kind, Created: now.UTC()}
	if s := r.PostForm.Get("expires"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n > maxExpires {
			plain(w, http.StatusBadRequest, "expires must be a number of seconds from 1 to "+strconv.Itoa(maxExpires)+".")
			return
		}
		l.Expires = now.Add(time.Duration(n) * time.Second).UTC()
	}
	if pw := r.PostForm.Get("password"); pw != "" {
		if len(pw) > 72 { // bcrypt's limit
			plain(w, http.StatusBadRequest, "The password is longer than 72 bytes.")
			return
		}
		hash, err := auth.HashPassword([]byte(pw), 0)
		if err != nil {
			h.internal(w, "hashing a link password", err)
			return
		}
		l.PasswordHash = hash
	}
	p, err := davpath.Parse(r.URL.EscapedPath(), h.c.Prefix)
	if err != nil {
		plain(w, http.StatusBadRequest, "The path is not valid.")
		return
	}
	info, err := o.Storage.Stat(ctx, p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		plain(w, http.StatusNotFound, "Nothing to share at this path.")
		return
	case err != nil:
		h.internal(w, "share: stat", err)
		return
	}
	need := access.Read
	if kind == share.Upload {
		if !info.IsDir {
			plain(w, http.StatusConflict, "An upload link is for a folder.")
			return
		}
		need = access.Write
	}
	if o.Policy != nil && !o.Policy.Allow(ctx, owner, need, p) {
		plain(w, http.StatusForbidden, "You cannot share what you may not "+map[access.Op]string{access.Read: "read", access.Write: "change"}[need]+".")
		return
	}
	if p.IsRoot() && !info.IsDir {
		plain(w, http.StatusConflict, "The root is not a file.")
		return
	}
	l.Dir = info.IsDir
	l.Path = scope.Mapper{Base: o.Scope}.In(p)
	have, err := h.c.Store.List(ctx, owner)
	if err != nil {
		h.internal(w, "share: list", err)
		return
	}
	if len(have) >= h.c.MaxPerOwner {
		plain(w, http.StatusForbidden, "You have too many share links; revoke some first.")
		return
	}
	if err := h.c.Store.Create(ctx, l); err != nil {
		h.internal(w, "share: create", err)
		return
	}
	h.c.Logger.Info("share link created", "user", owner, "path", string(l.Path), "kind", string(kind))
	w.Header().Set("Location", h.url(l))
	writeJSON(w, http.StatusCreated, h.info(l, o))
}

// maxExpires bounds expires= (ten years).
const maxExpires = 10 * 365 * 24 * 3600

// ServeAdmin answers a request for which Admin is true, from the authenticated principal: the
// JSON list of its links, or a revocation (204). A link of another user is a 404, as if absent.
func (h *Handler) ServeAdmin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	owner, o, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	segs, _ := h.segments(r)
	if len(segs) == 0 {
		ls, err := h.c.Store.List(ctx, owner)
		if err != nil {
			h.internal(w, "share: list", err)
			return
		}
		now := h.c.Now()
		out := []linkInfo{}
		for _, l := range ls {
			if l.Expired(now) {
				h.c.Store.Delete(ctx, l.Token)
				continue
			}
			out = append(out, h.info(l, o))
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"links": out})
		return
	}
	l, err := h.c.Store.Get(ctx, segs[0])
	if errors.Is(err, share.ErrNotFound) || err == nil && l.Owner != owner {
		plain(w, http.StatusNotFound, "No such link.")
		return
	}
	if err != nil {
		h.internal(w, "share: get", err)
		return
	}
	if err := h.c.Store.Delete(ctx, l.Token); err != nil && !errors.Is(err, share.ErrNotFound) {
		h.internal(w, "share: delete", err)
		return
	}
	h.c.Logger.Info("share link revoked", "user", owner, "path", string(l.Path))
	w.WriteHeader(http.StatusNoContent)
}

// shareChallenge is the 401 challenge of a link with a password: any user name, the link's
// password (curl -u :PASSWORD).
const shareChallenge = `Basic realm="davd share link", charset="UTF-8"`

// ServeLink answers a use of a link: everything under /.davd-share/TOKEN/ that is not Admin.
func (h *Handler) ServeLink(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	segs, _, bad := h.parse(r)
	th := h.c.Throttle
	if th != nil {
		if wait := th.Banned(r.RemoteAddr); wait > 0 {
			if h.c.OnThrottled != nil {
				h.c.OnThrottled()
			}
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			plain(w, http.StatusTooManyRequests, "Too many failed attempts; try later.")
			return
		}
	}
	if bad {
		plain(w, http.StatusBadRequest, "The path is not valid.")
		return
	}
	if len(segs) == 0 {
		plain(w, http.StatusNotFound, "No such link.")
		return
	}
	token := segs[0]
	l, err := share.Link{}, share.ErrNotFound
	if share.ValidToken(token) {
		l, err = h.c.Store.Get(ctx, token)
	}
	if err == nil && l.Expired(h.c.Now()) {
		h.c.Store.Delete(ctx, token)
		err = share.ErrNotFound
	}
	if errors.Is(err, share.ErrNotFound) {
		h.failed(r, "\x00share")
		plain(w, http.StatusNotFound, "This link does not exist, has expired or was revoked.")
		return
	}
	if err != nil {
		h.internal(w, "share: get", err)
		return
	}
	if l.PasswordHash != "" {
		_, pw, ok := r.BasicAuth()
		if ok && !h.verify(l, pw) {
			h.c.Logger.Warn("share link: wrong password", "remote", r.RemoteAddr)
			h.failed(r, "\x00share/"+token)
			ok = false
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", shareChallenge)
			plain(w, http.StatusUnauthorized, "This link needs its password (any user name).")
			return
		}
	}
	r.Header.Del("Authorization")
	gone := func() { plain(w, http.StatusNotFound, "This link no longer leads anywhere.") }
	o, ok := h.c.Owner(l.Owner)
	if !ok {
		gone()
		return
	}
	view, above, ok := scope.Mapper{Base: o.Scope}.Out(l.Path)
	if !ok || above {
		gone()
		return
	}
	pol := &policy{kind: l.Kind, base: view, owner: l.Owner, pol: o.Policy, res: o.Resolver}
	treeBase := l.Path
	if !l.Dir {
		pol.base, pol.file, treeBase = view.Parent(), view.Base(), l.Path.Parent()
	}
	// The shared resource must still be what was shared, where it was, and the owner must
	// still have the access the link hands on.
	need := access.Read
	if l.Kind == share.Upload {
		need = access.Write
	}
	if info, err := o.Storage.Stat(ctx, view); err != nil || info.IsDir != l.Dir || !pol.owns(ctx, need, view) {
		gone()
		return
	}
	linkPrefix := h.c.Prefix + "/" + Dir + "/" + token
	sub := subFS{o.Storage, pol.base}
	cfg := h.c.Engine
	cfg.Storage = sub
	cfg.Props = scope.Props(h.c.Props, treeBase)
	cfg.Locks = scope.Locks(h.c.Locks, treeBase)
	cfg.Access = pol
	cfg.Prefix = linkPrefix
	cfg.Browser = nil
	if l.Kind == share.Read && l.Dir {
		title := view.Base()
		if view.IsRoot() {
			title = "davd"
		}
		ui := webui.New(sub, webui.Options{
			Prefix:   linkPrefix,
			Title:    title,
			Logger:   h.c.Logger,
			Visible:  func(ctx context.Context, p davpath.Path) bool { return pol.Allow(ctx, "", access.Read, p) },
			Writable: func(context.Context, davpath.Path) bool { return false },
		})
		cfg.Browser = browser{ui}
	}
	if l.Kind == share.Upload {
		rel, _ := davpath.Parse(r.URL.EscapedPath(), linkPrefix)
		switch r.Method {
		case http.MethodPut:
			// A file drop adds files and never replaces one: the uploader cannot see what is
			// there, and must not overwrite another's file (RFC 9110 §13.1.2: 412 if it exists).
			r.Header.Set("If-None-Match", "*")
			r.Header.Del("If-Match")
			r.Header.Del("Content-Range")
		case http.MethodOptions:
		case http.MethodGet, http.MethodHead:
			if rel.IsRoot() && strings.Contains(r.Header.Get("Accept"), "text/html") {
				serveDropPage(w, r, view.Base())
				return
			}
		default:
			w.Header().Set("Allow", "OPTIONS, PUT")
			plain(w, http.StatusMethodNotAllowed, "An upload link takes new files (PUT) only.")
			return
		}
	}
	eng, err := dav.New(cfg)
	if err != nil {
		h.internal(w, "share: engine", err)
		return
	}
	eng.ServeHTTP(w, r.WithContext(access.WithPrincipal(ctx, "")))
}

// failed counts a failed use of a link against the client address (with failed logins: one
// who guesses tokens is banned from guessing passwords too) and waits when name is under attack.
func (h *Handler) failed(r *http.Request, name string) {
	th := h.c.Throttle
	if th == nil {
		return
	}
	if th.FailAndWait(r.Context(), r.RemoteAddr, name) {
		h.c.Logger.Warn("share links: client address banned", "remote", r.RemoteAddr)
	}
}

// verify checks pw against l's hash. A bcrypt comparison costs tens of milliseconds, and a
// WebDAV client sends the password with every request, so a success is remembered (by a hash
// of token, password and bcrypt hash: a new password or a new link never matches an old entry).
func (h *Handler) verify(l share.Link, pw string) bool {
	key := sha256.Sum256([]byte(l.Token + "\x00" + l.PasswordHash + "\x00" + pw))
	h.mu.Lock()
	ok := h.verified[key]
	h.mu.Unlock()
	if ok {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(l.PasswordHash), []byte(pw)) != nil {
		return false
	}
	h.mu.Lock()
	if len(h.verified) >= 4096 {
		clear(h.verified)
	}
	h.verified[key] = true
	h.mu.Unlock()
	return true
}

func (h *Handler) internal(w http.ResponseWriter, what string, err error) {
	h.c.Logger.Error(what, "err", err)
	plain(w, http.StatusInternalServerError, "Internal error.")
}

// policy is a link's access: its kind and sub-tree, within what the owner may do now. Paths are
// the link view's; base is where its root is in the owner's view.
type policy struct {
	kind  share.Kind
	file  string // a file link's one member; "" for a folder link
	base  davpath.Path
	owner string
	pol   access.Policy
	res   access.Resolver
}

// Allow implements access.Policy. The principal is ignored: whoever holds the link.
func (p *policy) Allow(ctx context.Context, _ string, op access.Op, q davpath.Path) bool {
	switch p.kind {
	case share.Read:
		if op != access.Read || p.file != "" && q != davpath.Root.Join(p.file) {
			return false
		}
	case share.Upload:
		if op != access.Write || q.Depth() != 1 {
			return false
		}
	default:
		return false
	}
	v := q
	if !p.base.IsRoot() {
		v = q.Rebase(davpath.Root, p.base)
	}
	return p.owns(ctx, op, v)
}

// owns reports whether the owner may do op on v (its view) and v leads, through any symbolic
// links, to a place inside the link: a link inside a shared folder that points elsewhere in
// the owner's tree is worth nothing through the share.
func (p *policy) owns(ctx context.Context, op access.Op, v davpath.Path) bool {
	if p.pol != nil && !p.pol.Allow(ctx, p.owner, op, v) {
		return false
	}
	if p.res == nil {
		return true
	}
	to, err := p.res.Resolve(ctx, v)
	if err != nil {
		return false
	}
	if p.file != "" {
		return to == v
	}
	return p.base.Contains(to)
}

// browser adapts the webui package to dav.Browser for a read link's folder.
type browser struct{ *webui.UI }

func (browser) Wants(r *http.Request) bool { return webui.Wants(r) }

func plain(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(msg)+1))
	w.WriteHeader(code)
	w.Write([]byte(msg + "\n"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}
