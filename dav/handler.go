package dav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/dav/internal/listcache"
	"github.com/davd/davd/dav/internal/multistatus"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/syncstore"
)

// Browser renders collections for people (webui). The engine calls it on GET/HEAD of a
// collection when Wants says so, after the access check.
type Browser interface {
	Wants(r *http.Request) bool
	ServeCollection(w http.ResponseWriter, r *http.Request, p davpath.Path, info storage.Info)
}

// ErrorPager is implemented by a Browser that also renders the failures of the requests it
// Wants as pages for people (an HTML page with a way back, rather than "Not Found"). The engine
// has chosen the status; ServeError writes the whole response with it, or reports false to
// leave the engine's plain answer (a script asking for JSON, say).
type ErrorPager interface {
	ServeError(w http.ResponseWriter, r *http.Request, code int) bool
}

// FileViewer is implemented by a Browser that also shows some files to people in a form of
// its own (a Markdown file rendered as a page, say). On a GET of a file, after the access check
// and the If header, the engine asks ViewsFile; if true, ViewFile writes the whole response
// from the file's content, which the engine closes afterwards.
type FileViewer interface {
	ViewsFile(r *http.Request, info storage.Info) bool
	ViewFile(w http.ResponseWriter, r *http.Request, p davpath.Path, content io.Reader, info storage.Info)
}

// Limits bound what one request may cost. Zero fields take the defaults in DefaultLimits. The
// toml tags are the keys of davd's configuration file ([limits]), which embeds this type. Lock
// timeouts are capped by the lock manager alone (lock.Limits.MaxTimeout).
type Limits struct {
	// MaxXMLBytes caps request bodies of PROPFIND, PROPPATCH and LOCK (413 past it).
	MaxXMLBytes int64 `toml:"max_xml_bytes"`
	// MaxXMLDepth caps element nesting in request bodies (400 past it).
	MaxXMLDepth int `toml:"max_xml_depth"`
	// MaxPutBytes caps PUT bodies (413 past it); 0 means no limit.
	MaxPutBytes int64 `toml:"max_put_bytes"`
	// MaxURILen caps the request target and Destination (414 / 400 past it).
	MaxURILen int `toml:"max_uri_len"`
	// PropfindInfinity allows PROPFIND with Depth: infinity (RFC 4918 §9.1), which recursive
	// listings send (npm webdav's getDirectoryContents with deep, go-webdav's recursive
	// ReadDir); when false it is answered with 403 and propfind-finite-depth. A bool has no
	// "unset": the zero Limits refuses, DefaultLimits (where davd's configuration starts)
	// allows. The walk streams in flat memory and stops at MaxPropfindEntries; measured on
	// 100,000 files: 0.5 s warm, 1.3 s from a cold page cache, 29 MiB peak RSS with eight at
	// once, the same work as a hundred Depth 1 listings of 1,000 members.
	PropfindInfinity bool `toml:"propfind_infinity"`
	// MaxPropfindEntries bounds the number of responses of one Depth: infinity PROPFIND: past
	// it, a 507 response on the collection where the walk stopped marks the cut.
	MaxPropfindEntries int `toml:"max_propfind_entries"`
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	PropfindInfinity:   true,
	MaxXMLBytes:        1 << 20,
	MaxXMLDepth:        64,
	MaxURILen:          davpath.MaxLen,
	MaxPropfindEntries: 100000,
}

// withDefaults returns l with its zero (or negative) fields set to DefaultLimits'.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxXMLBytes <= 0 {
		l.MaxXMLBytes = d.MaxXMLBytes
	}
	if l.MaxXMLDepth <= 0 {
		l.MaxXMLDepth = d.MaxXMLDepth
	}
	if l.MaxURILen <= 0 {
		l.MaxURILen = d.MaxURILen
	}
	if l.MaxPropfindEntries <= 0 {
		l.MaxPropfindEntries = d.MaxPropfindEntries
	}
	return l
}

// Config wires a Handler to its seams. Storage is required; everything else is optional.
type Config struct {
	// Storage holds content and namespace.
	Storage storage.Backend
	// Props keeps dead properties; nil refuses PROPPATCH of dead properties with 403.
	Props props.Store
	// Locks makes the server class 2; nil leaves it class 1 and 3 (LOCK/UNLOCK answer 405).
	Locks lock.Manager
	// Access decides who may read and write what; nil allows everything.
	Access access.Policy
	// Browser renders collections for browsers; nil serves a plain listing.
	Browser Browser
	// Prefix is the unescaped URL path the handler is mounted at ("" or "/" for the root).
	Prefix string
	// PublicHosts are extra host[:port] values a Destination header may name (reverse proxies).
	PublicHosts []string
	// TrustForwarded trusts X-Forwarded-Host for the Destination host check.
	TrustForwarded bool
	// Limits bounds request cost.
	Limits Limits
	// Logger receives the causes of 5xx responses; nil discards them.
	Logger *slog.Logger
	// Now returns the current time (lock timeouts); nil is time.Now.
	Now func() time.Time
	// Sync keeps the snapshots named by RFC 6578 sync tokens; nil leaves out the sync-token
	// property and answers every REPORT with 403 supported-report.
	Sync syncstore.Store
}

// Handler is the RFC 4918 protocol engine: an http.Handler over the storage, property, lock and
// access seams. It is safe for concurrent use.
type Handler struct {
	fs       storage.Backend
	props    props.Store
	journal  props.Journal
	locks    lock.Manager
	access   access.Policy
	allowAll bool
	reader   access.WholeReader // the policy's capability, or nil
	browser  Browser
	prefix   string
	hosts    []string
	fwd      bool
	lim      Limits
	xmlLim   davxml.Limits
	log      *slog.Logger
	now      func() time.Time
	cache    *listcache.Cache
	sync     syncstore.Store
	// listHits and listMisses count the Depth 1 PROPFINDs answered from the listing cache and
	// those that had to walk (Stats).
	listHits, listMisses atomic.Uint64
}

// Stats are counters of a Handler's work, for monitoring.
type Stats struct {
	// ListingHits and ListingMisses count cacheable Depth 1 PROPFINDs answered from a kept
	// rendering and those rendered anew.
	ListingHits, ListingMisses uint64
}

// Stats returns h's counters.
func (h *Handler) Stats() Stats {
	return Stats{ListingHits: h.listHits.Load(), ListingMisses: h.listMisses.Load()}
}

// New validates cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Storage == nil {
		return nil, errors.New("dav: Config.Storage is required")
	}
	h := &Handler{
		fs:      cfg.Storage,
		props:   cfg.Props,
		locks:   cfg.Locks,
		access:  cfg.Access,
		browser: cfg.Browser,
		prefix:  strings.TrimRight(cfg.Prefix, "/"),
		hosts:   cfg.PublicHosts,
		fwd:     cfg.TrustForwarded,
		lim:     cfg.Limits.withDefaults(),
		log:     cfg.Logger,
		now:     cfg.Now,
		sync:    cfg.Sync,
	}
	if j, ok := cfg.Props.(props.Journal); ok {
		h.journal = j
	}
	if h.access == nil {
		h.access = access.AllowAll{}
	}
	_, h.allowAll = h.access.(access.AllowAll)
	h.reader, _ = h.access.(access.WholeReader)
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.cache = listcache.New(h.now)
	h.xmlLim = davxml.Limits{MaxBytes: h.lim.MaxXMLBytes, MaxDepth: h.lim.MaxXMLDepth}
	return h, nil
}

// ServeHTTP implements http.Handler.
//
// Every method returns an error rather than writing one: the one place that turns errors into
// responses is writeError, so a status or a §16 condition element is never written twice. The
// URI length is checked on the raw request line, before any parsing (RFC 9110 §15.5.15: 414).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var err error
	if len(r.RequestURI) > h.lim.MaxURILen {
		err = errStatus(http.StatusRequestURITooLong, davpath.ErrTooLong)
	} else if r.Method == http.MethodOptions && r.RequestURI == "*" {
		err = h.serveOptions(w, r, davpath.Root)
	} else {
		var p davpath.Path
		p, err = davpath.Parse(r.URL.EscapedPath(), h.prefix)
		if err == nil {
			err = h.dispatch(w, r, p)
		}
	}
	switch {
	case errors.Is(err, multistatus.ErrStarted):
		// The 207 is under way: its status line and part of it were sent. Nothing can be added.
		h.log.Debug("response cut short", "method", r.Method, "path", r.URL.Path, "err", err)
	case err != nil:
		h.writeError(w, r, err)
	}
}

// dispatch runs the method's handler on the canonical path p.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "PROPFIND", "REPORT":
	default:
		// Anything else may change content, properties or locks: the cached listings it
		// concerns are not served until it is over.
		id := h.cache.WriteStarted(h.writeScopes(r, p))
		defer h.cache.WriteDone(id)
	}
	switch r.Method {
	case http.MethodOptions:
		return h.serveOptions(w, r, p)
	case http.MethodGet, http.MethodHead:
		return h.serveGet(w, r, p)
	case http.MethodPut:
		return h.servePut(w, r, p)
	case http.MethodDelete:
		return h.serveDelete(w, r, p)
	case "MKCOL":
		return h.serveMkcol(w, r, p)
	case "COPY", "MOVE":
		return h.serveCopyMove(w, r, p)
	case "PROPFIND":
		return h.servePropfind(w, r, p)
	case "PROPPATCH":
		return h.serveProppatch(w, r, p)
	case "REPORT":
		return h.serveReport(w, r, p)
	case "LOCK":
		if h.locks == nil {
			return h.notAllowed(w)
		}
		return h.serveLock(w, r, p)
	case "UNLOCK":
		if h.locks == nil {
			return h.notAllowed(w)
		}
		return h.serveUnlock(w, r, p)
	// Methods HTTP defines that this resource does not allow are 405 with Allow (RFC 9110
	// §15.5.6); a method the server does not know at all is 501 (§15.6.2).
	case http.MethodPatch:
		return h.servePatch(w, r, p)
	case "MKREDIRECTREF":
		return h.serveMkRedirectRef(w, r, p)
	case "UPDATEREDIRECTREF":
		return h.serveUpdateRedirectRef(w, r, p)
	case http.MethodPost, http.MethodTrace, http.MethodConnect:
		return h.notAllowed(w)
	}
	return errStatus(http.StatusNotImplemented, nil)
}

// writeScopes returns what a write request may change, for the listing cache. It errs on the
// wide side: a Destination it cannot parse, or a method it does not know, drops every
// rendering, since the request may still change something before it fails.
func (h *Handler) writeScopes(r *http.Request, p davpath.Path) []listcache.Scope {
	switch r.Method {
	case http.MethodPut, "PROPPATCH", "MKCOL", "LOCK", "UNLOCK", http.MethodPatch, "MKREDIRECTREF", "UPDATEREDIRECTREF":
		return []listcache.Scope{{Path: p}}
	case http.MethodDelete:
		return []listcache.Scope{{Path: p, Recursive: true}}
	case "COPY", "MOVE":
		if dst, err := h.parseDestination(r); err == nil {
			return []listcache.Scope{{Path: p, Recursive: true}, {Path: dst, Recursive: true}}
		}
	}
	return []listcache.Scope{{Path: davpath.Root, Recursive: true}}
}

// notAllowed is the 405 of a method this resource does not take; RFC 9110 §15.5.6 requires the
// Allow header with it.
func (h *Handler) notAllowed(w http.ResponseWriter) error {
	w.Header().Set("Allow", h.allowHeader())
	return errStatus(http.StatusMethodNotAllowed, nil)
}

// allowHeader lists the methods; LOCK and UNLOCK only with a lock manager (class 2), REPORT
// only with a sync store (RFC 6578), the redirect reference methods only with a property store
// (RFC 4437), which keeps the references.
func (h *Handler) allowHeader() string {
	s := "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH"
	if h.locks != nil {
		s += ", LOCK, UNLOCK"
	}
	if h.sync != nil {
		s += ", REPORT"
	}
	if h.props != nil {
		s += ", MKREDIRECTREF, UPDATEREDIRECTREF"
	}
	return s
}

// serveOptions answers OPTIONS (RFC 4918 §10.1, §18). The DAV value stays under 63 characters
// (Web Folders chokes on longer ones, per Apache's mod_dav) and always lists class 1 with 2
// (LibreOffice and davfs2 reject "2" alone); "redirectrefs" is RFC 4437's.
func (h *Handler) serveOptions(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	hd := w.Header()
	// The names are written as RFC 4918 and Microsoft spell them (Set would send "Dav" and
	// "Ms-Author-Via"): header names are case-insensitive, but not every client's parser is.
	dav := "1, 3"
	if h.locks != nil {
		dav = "1, 2, 3"
	}
	if h.props != nil {
		// RFC 4437: the server supports redirect references.
		dav += ", redirectrefs"
	}
	hd["DAV"] = []string{dav}
	hd.Set("Allow", h.allowHeader())
	hd["MS-Author-Via"] = []string{"DAV"}
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// href returns the escaped URL path of p as clients see it.
func (h *Handler) href(p davpath.Path, dir bool) string { return p.Escape(h.prefix, dir) }

// appendHref appends href(p, dir) to dst without allocating (the PROPFIND hot path).
func (h *Handler) appendHref(dst []byte, p davpath.Path, dir bool) []byte {
	dst = davpath.AppendEscaped(dst, h.prefix)
	if p.IsRoot() {
		return append(dst, '/')
	}
	dst = davpath.AppendEscaped(dst, string(p))
	if dir {
		dst = append(dst, '/')
	}
	return dst
}

// allow checks the access policy for one path.
func (h *Handler) allow(ctx context.Context, op access.Op, p davpath.Path) error {
	if h.allowAll || h.access.Allow(ctx, access.Principal(ctx), op, p) {
		return nil
	}
	return errStatus(http.StatusForbidden, fmt.Errorf("access denied to %s", p))
}

// writeError sends err as a response. Clients see a generic text or an RFC 4918 §16 error
// element, never the cause; 5xx causes are logged.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := StatusOf(err)
	var de *Error
	if errors.As(err, &de) && de.Location != "" {
		// RFC 4437: every 3xx of a redirect reference carries Redirect-Ref with the
		// target; Location is what HTTP clients follow.
		w.Header().Set("Location", de.Location)
		w.Header().Set("Redirect-Ref", de.Location)
		http.Error(w, http.StatusText(code), code)
		return
	}
	// The response says nothing of the cause: a storage error may carry a host path or a
	// backend's message, which is for the log only.
	if errors.Is(err, storage.ErrUnavailable) {
		// RFC 9110 section 10.2.3: a backend outage is temporary; say when to come back.
		w.Header().Set("Retry-After", "5")
	}
	if code >= 500 {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	if cond, hrefs := condOf(err); cond != "" {
		b := []byte(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:error xmlns:D="DAV:"><D:`)
		b = append(b, cond...)
		if len(hrefs) == 0 {
			b = append(b, "/>"...)
		} else {
			b = append(b, '>')
			for _, href := range hrefs {
				b = append(b, "<D:href>"...)
				b = davxml.EscapeText(b, href)
				b = append(b, "</D:href>"...)
			}
			b = append(b, "</D:"...)
			b = append(b, cond...)
			b = append(b, '>')
		}
		b = append(b, "</D:error>\n"...)
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(code)
		if r.Method != http.MethodHead {
			w.Write(b)
		}
		return
	}
	if code == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
		w.Header().Set("Allow", h.allowHeader())
	}
	// A 304 has no body (RFC 9110 §15.4.5), and its validators were set by the conditional check.
	if code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	if ep, ok := h.browser.(ErrorPager); ok && h.browser.Wants(r) && ep.ServeError(w, r, code) {
		return
	}
	http.Error(w, http.StatusText(code), code)
}

// parseDestination resolves the Destination header (RFC 4918 §10.3) to a canonical path. A
// destination on another host or outside the prefix is a 502 (§9.8.5, §9.9.4).
func (h *Handler) parseDestination(r *http.Request) (davpath.Path, error) {
	d := r.Header.Get("Destination")
	if d == "" {
		return "", errStatus(http.StatusBadRequest, errors.New("missing Destination"))
	}
	if len(d) > h.lim.MaxURILen {
		return "", errStatus(http.StatusBadRequest, davpath.ErrTooLong)
	}
	u, err := url.Parse(d)
	if err != nil {
		return "", errStatus(http.StatusBadRequest, err)
	}
	if u.Host != "" && !h.sameHost(r, u.Host) {
		return "", errStatus(http.StatusBadGateway, errors.New("destination on another host"))
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return "", errStatus(http.StatusBadGateway, errors.New("destination scheme"))
	}
	ep := u.EscapedPath()
	if ep == "" {
		ep = "/"
	}
	p, err := davpath.Parse(ep, h.prefix)
	if errors.Is(err, davpath.ErrOutside) {
		return "", errStatus(http.StatusBadGateway, err)
	}
	if err != nil {
		return "", errStatus(http.StatusBadRequest, err)
	}
	return p, nil
}

func (h *Handler) sameHost(r *http.Request, host string) bool {
	if hostEqual(host, r.Host) {
		return true
	}
	if h.fwd {
		if fh := r.Header.Get("X-Forwarded-Host"); fh != "" && hostEqual(host, strings.TrimSpace(strings.Split(fh, ",")[0])) {
			return true
		}
	}
	for _, ph := range h.hosts {
		if hostEqual(host, ph) {
			return true
		}
	}
	return false
}

// hostEqual compares host[:port] values case-insensitively, treating a missing port as equal to
// the default ports 80 and 443.
func hostEqual(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	ah, ap := splitHostPort(a)
	bh, bp := splitHostPort(b)
	if !strings.EqualFold(ah, bh) {
		return false
	}
	return ap == bp || (ap == "" && (bp == "80" || bp == "443")) || (bp == "" && (ap == "80" || ap == "443"))
}

func splitHostPort(s string) (string, string) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return strings.Trim(s, "[]"), ""
	}
	return h, p
}

// depthHeader parses Depth (RFC 4918 §10.2). def is used when the header is absent.
const depthInfinity = -1

func parseDepth(r *http.Request, def int) (int, error) {
	switch v := r.Header.Get("Depth"); strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "0":
		return 0, nil
	case "1":
		return 1, nil
	case "infinity":
		return depthInfinity, nil
	}
	return 0, errStatus(http.StatusBadRequest, errors.New("bad Depth header"))
}
