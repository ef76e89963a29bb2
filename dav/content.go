package dav

import (
	"errors"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/rwcap"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/storage"
)

// contentType returns the media type of a resource by its name's extension; content is never
// sniffed (that would open every file of a listing).
func contentType(name string) string {
	ext := path.Ext(name)
	if ext == "" {
		return "application/octet-stream"
	}
	if t, ok := typeCache.Load(ext); ok {
		return t.(string)
	}
	t := mime.TypeByExtension(strings.ToLower(ext))
	if t == "" {
		t = "application/octet-stream"
	}
	if typeCacheLen.Add(1) <= 1024 {
		typeCache.Store(ext, t)
	}
	return t
}

// typeCache memoizes mime.TypeByExtension per extension (it lower-cases and locks per call);
// typeCacheLen bounds it, so names chosen by clients cannot grow it without limit.
var (
	typeCache    sync.Map
	typeCacheLen atomic.Int64
)

// activeContent reports media types a browser would execute; such files are served with a
// sandboxing CSP so an uploaded page cannot act with the origin of the browser view.
func activeContent(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "image/svg") ||
		strings.Contains(ct, "xml") || strings.Contains(ct, "javascript")
}

// serveGet answers GET and HEAD (RFC 4918 §9.4): files with Range, ETag, Last-Modified and the
// HTTP conditionals (http.ServeContent, which uses sendfile for *os.File); collections with the
// browser view or a plain listing.
func (h *Handler) serveGet(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if err := h.allow(ctx, access.Read, p); err != nil {
		return err
	}
	// An If header on a GET is legal (RFC 4918 §10.4 applies to every method) and a client may
	// use one to read only while its lock stands; it is evaluated before any content is opened.
	if len(r.Header["If"]) > 0 {
		if _, err := h.checkIf(ctx, r, p); err != nil {
			return err
		}
	}
	// Open first and Stat only for a collection: a file, the common case, then costs one
	// storage call, whose Info carries everything the headers need.
	f, info, err := h.fs.Open(ctx, p)
	if errors.Is(err, storage.ErrIsDir) {
		info, err = h.fs.Stat(ctx, p)
		if err != nil {
			return err
		}
		return h.serveCollection(w, r, p, info)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	// An empty file may be a redirect reference (RFC 4437): its redirect, unless the request
	// applies to the reference itself.
	if info.Size == 0 && !applyToRef(r) {
		if rr, ok, err := h.refAt(ctx, p, info); err != nil {
			return err
		} else if ok {
			return redirectTo(rr)
		}
	}
	if v, ok := h.browser.(FileViewer); ok && r.Method == http.MethodGet && v.ViewsFile(r, info) {
		v.ViewFile(w, r, p, f, info)
		return nil
	}
	hd := w.Header()
	var hv headerValues
	ct := contentType(info.Name)
	hv.set(hd, "Content-Type", ct)
	// nosniff: a browser must take the type above, not guess "text/html" from the bytes of an
	// upload; with the sandbox CSP below this keeps uploads from running as the browser view.
	hv.set(hd, "X-Content-Type-Options", "nosniff")
	if activeContent(ct) {
		hv.set(hd, "Content-Security-Policy", "sandbox")
	}
	if info.ETag != "" {
		hv.set(hd, "Etag", info.ETag)
	}
	if err := h.getDigest(r, hd, p, info); err != nil {
		return err
	}
	if plainRequest(r) {
		servePlain(headersFirst(w), r, &hv, f, info)
		return nil
	}
	// ServeContent does Range, If-Range, If-Modified-Since and the rest of RFC 9110 §13 against
	// the ETag set above; the empty name keeps it from guessing a type. withSize answers its
	// size probe from the Info, and headersFirst keeps sendfile(2) on the path.
	http.ServeContent(headersFirst(w), r, "", info.ModTime, withSize(f, info.Size))
	return nil
}

// plainRequest reports whether r sent none of the fields that make http.ServeContent do more
// than send the whole file: no Range and none of RFC 9110 §13's conditionals (If-Range only
// counts with a Range). Most GETs are such; servePlain answers them.
func plainRequest(r *http.Request) bool {
	h := r.Header
	return len(h["Range"]) == 0 && len(h["If-Match"]) == 0 && len(h["If-None-Match"]) == 0 &&
		len(h["If-Modified-Since"]) == 0 && len(h["If-Unmodified-Since"]) == 0
}

// servePlain is http.ServeContent for a plainRequest, with the Content-Type already set: the
// same header fields and the same copy of the body (io.CopyN, so a ReaderFrom underneath still
// gets the file), without its header work: the values share hv's array, and nothing is
// looked up that such a request cannot have. TestPlainGetIsServeContent holds the two to the
// same bytes.
func servePlain(w http.ResponseWriter, r *http.Request, hv *headerValues, f io.Reader, info storage.Info) {
	hd := w.Header()
	if t := info.ModTime; !t.IsZero() && !t.Equal(unixEpoch) {
		var b [len(http.TimeFormat)]byte
		hv.set(hd, "Last-Modified", string(t.UTC().AppendFormat(b[:0], http.TimeFormat)))
	}
	hv.set(hd, "Accept-Ranges", "bytes")
	// As ServeContent: no length when a wrapper set Content-Encoding (it compresses).
	if hd.Get("Content-Encoding") == "" {
		hv.set(hd, "Content-Length", strconv.FormatInt(info.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.CopyN(w, f, info.Size)
	}
}

// unixEpoch is, for ServeContent as for servePlain, no modification time at all.
var unixEpoch = time.Unix(0, 0)

// headerValues hands out the one-value slices of response header fields from one backing
// array: Header.Set makes a slice per field, a quarter of a small GET's allocations. Each slice
// is capped at its one value, so an Add to the field copies it rather than writing over the
// next field's value. Keys must be in canonical form, as Set would have made them.
type headerValues struct {
	buf []string
}

func (v *headerValues) set(h http.Header, key, value string) {
	if len(v.buf) == cap(v.buf) {
		v.buf = make([]string, 0, 8)
	}
	v.buf = append(v.buf, value)
	n := len(v.buf)
	h[key] = v.buf[n-1 : n : n]
}

// flushFirst sends the response headers before the body is copied: net/http then hands the
// whole body to sendfile(2), instead of first reading 512 bytes through a buffer to sniff a
// Content-Type that is already set.
type flushFirst struct {
	http.ResponseWriter
	rf io.ReaderFrom
}

// ReadFrom flushes the headers, then lets the wrapped writer copy (by sendfile(2) for a file).
func (w flushFirst) ReadFrom(r io.Reader) (int64, error) {
	_ = http.NewResponseController(w.ResponseWriter).Flush() // unsupported: the copy still works
	return w.rf.ReadFrom(r)
}

// Unwrap lets rwcap.Find and http.ResponseController reach the writer underneath.
func (w flushFirst) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ rwcap.Unwrapper = flushFirst{}

// headersFirst returns w wrapped in flushFirst where that helps: only for a writer that copies
// with ReadFrom (net/http's does, with sendfile) and sniffs what it is first given.
func headersFirst(w http.ResponseWriter) http.ResponseWriter {
	if sniffless(w) {
		return w
	}
	if rf, ok := w.(io.ReaderFrom); ok {
		return flushFirst{w, rf}
	}
	return w
}

// sniffless reports whether w, or a writer it wraps, is an rwcap.Sniffless (package server/h1's
// writer is): the flush before the copy would then only cost a write, and such a writer can
// send a small body in the write of its header.
func sniffless(w http.ResponseWriter) bool {
	_, ok := rwcap.Find[rwcap.Sniffless](w)
	return ok
}

// serveCollection answers a GET of a collection, which RFC 4918 §9.4 leaves to the server: the
// browser view for a browser (Browser.Wants), else a minimal HTML list of links, so that a
// client that GETs a folder (curl, wget's mirror, a download manager) sees its members. Every
// name is HTML-escaped and the page may load nothing (CSP default-src 'none'): a member named
// like markup stays text.
func (h *Handler) serveCollection(w http.ResponseWriter, r *http.Request, p davpath.Path, info storage.Info) error {
	if wantsZip(r) {
		return h.serveZip(w, r, p, info)
	}
	if h.browser != nil && h.browser.Wants(r) {
		h.browser.ServeCollection(w, r, p, info)
		return nil
	}
	// A plain, escaped listing for clients that GET a collection.
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
	b.WriteString(html.EscapeString(p.String()))
	b.WriteString("</title></head><body><ul>\n")
	for e, err := range h.fs.List(r.Context(), p) {
		if err != nil {
			break
		}
		b.WriteString(`<li><a href="`)
		b.WriteString(html.EscapeString(h.href(p.Join(e.Name), e.IsDir)))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(e.Name))
		if e.IsDir {
			b.WriteString("/")
		}
		b.WriteString("</a></li>\n")
	}
	b.WriteString("</ul></body></html>\n")
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", "default-src 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(b.Len()))
	if r.Method != http.MethodHead {
		io.WriteString(w, b.String())
	}
	return nil
}

// servePut answers PUT (RFC 4918 §9.7): atomic replace through the storage, 201 or 204, 409
// when the parent is missing, 405 on a collection, HTTP conditionals and the If header checked
// before the body is read (so "Expect: 100-continue" clients do not send it in vain).
func (h *Handler) servePut(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	// The memo lets the backends answer the request's later questions from its first read (in
	// cluster mode: the lock count, and the lock check when there is no lock; see
	// storage.WithMemo); a write empties it.
	ctx := storage.WithMemo(r.Context())
	if err := h.allow(ctx, access.Write, p); err != nil {
		return err
	}
	if p.IsRoot() {
		return h.notAllowed(w)
	}
	// A redirect reference (RFC 4437) answers a PUT with its redirect; with
	// Apply-To-Redirect-Ref: T the PUT replaces it and it becomes an ordinary file. Finding out
	// costs a property read (no system call with the embedded store), and a Stat only where the
	// reference's property is.
	var cur storage.Info
	curErr := errNotRead
	// refProp: the property is there, on a reference or left by a resource removed outside
	// davd; either way the new content drops it, so an empty upload never becomes a reference.
	refProp := false
	if h.props != nil {
		dead, err := h.props.Get(ctx, p)
		if err != nil {
			return err
		}
		if refProp = findDead(dead, redirectProp.Space, redirectProp.Local) >= 0; refProp {
			cur, curErr = h.fs.Stat(ctx, p)
			if curErr != nil && !errors.Is(curErr, fs.ErrNotExist) {
				return curErr
			}
			if rr, ok := refOf(cur, dead); curErr == nil && ok && !applyToRef(r) {
				return redirectTo(rr)
			}
		}
	}
	if v := r.Header.Get("Content-Range"); v != "" {
		err := h.putRange(w, r, p, v)
		if err == nil && refProp {
			h.dropRef(ctx, p)
		}
		return err
	}
	// A declared length over the limit is refused before a byte is read; a chunked body is
	// cut off by MaxBytesReader when it passes the limit (a 413, and the storage discards the
	// partial upload, so nothing is left behind).
	if h.lim.MaxPutBytes > 0 {
		if r.ContentLength > h.lim.MaxPutBytes {
			return errStatus(http.StatusRequestEntityTooLarge, errors.New("PUT body too large"))
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.lim.MaxPutBytes)
	}
	c, err := parseIf(r)
	if err != nil {
		return err
	}
	dr, err := parseDigestReq(r)
	if err != nil {
		return err
	}
	// The current state is needed only for conditional headers, for locks, and for a client
	// that waits for "100 Continue" (it must hear of a collection in the way before it sends
	// the body); a plain upload with no lock anywhere goes straight to the storage, which
	// refuses a collection itself, maybe only once a small body is in.
	exists := true
	if c.hasIf || hasHTTPConds(r) || !h.lockFree(ctx) || expectsContinue(r) {
		info, err := cur, curErr
		if errors.Is(err, errNotRead) {
			info, err = h.fs.Stat(ctx, p)
		}
		exists = err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if exists && info.IsDir {
			return h.notAllowed(w)
		}
		if err := checkHTTPConds(r, exists, info); err != nil {
			return err
		}
		if err := h.check(ctx, r, c, p); err != nil {
			return err
		}
	} else {
		// A lock may appear meanwhile: hold the parent too, as for a new member.
		exists = false
	}
	targets := []lock.Target{{Path: p}}
	if !exists {
		targets = append(targets, lock.Target{Path: p.Parent()})
	}
	ctx, g, err := h.confirm(ctx, c, targets...)
	if err != nil {
		return err
	}
	defer g.done()
	// Size is the declared length (-1 when chunked): the storage checks the body against it, so
	// a connection that breaks mid-upload is a short body (400) and never replaces the file.
	opt := storage.PutOptions{Size: r.ContentLength}
	mt, hasMtime := ocMtime(r)
	if hasMtime {
		opt.ModTime = mt
	}
	body, dg := digestBody(&dr, r.Body, r.ContentLength)
	created, ni, err := h.fs.Put(ctx, p, body, opt)
	if err != nil {
		return err
	}
	if refProp {
		h.dropRef(ctx, p)
	}
	h.putDigests(ctx, w, p, &dr, dg, ni)
	if hasMtime {
		// rclone and the ownCloud clients read this answer to know the time was kept; without
		// it they send a PROPPATCH after every upload.
		w.Header().Set("X-OC-Mtime", "accepted")
	}
	h.putDone(w, p, created, ni)
	return nil
}

// putDone answers a successful PUT: 201 with Location for a new resource (RFC 9110 §15.3.2),
// else 204; the new ETag either way, so a client can make its next request conditional on it.
func (h *Handler) putDone(w http.ResponseWriter, p davpath.Path, created bool, ni storage.Info) {
	hd := w.Header()
	if ni.ETag != "" {
		hd.Set("ETag", ni.ETag)
	}
	hd.Set("Content-Length", "0")
	if created {
		hd.Set("Location", h.href(p, false))
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
}

// putRange answers a partial PUT (RFC 9110 §14.5): the body replaces, or extends the content
// with, the bytes its Content-Range names, as Apache's mod_dav does; a resumable upload sends
// the rest of a file from where the last attempt stopped (HEAD or PROPFIND tells how much
// arrived). The new content is the old one spliced with the body, written through the storage's
// Put, so the replacement is atomic on every backend; the price is a copy of the untouched
// bytes, which a backend with a cheaper safe path may one day avoid. A range that starts past
// the current end would leave a hole and is a 416 naming the current size. Conditional headers,
// the If header and locks apply as for a whole PUT; If-Match with the ETag of the previous
// answer makes a resumed upload safe against a concurrent writer.
func (h *Handler) putRange(w http.ResponseWriter, r *http.Request, p davpath.Path, v string) error {
	ctx := r.Context()
	cr, err := parseContentRange(v)
	if err != nil {
		return errStatus(http.StatusBadRequest, err)
	}
	if n := cr.last - cr.first + 1; r.ContentLength >= 0 && r.ContentLength != n {
		return errStatus(http.StatusBadRequest, errors.New("PUT body length differs from its Content-Range"))
	}
	c, err := parseIf(r)
	if err != nil {
		return err
	}
	// A digest the client sends with a range is that of the whole new content (Repr-Digest
	// describes the representation, not the range), and it is checked on all of it.
	dr, err := parseDigestReq(r)
	if err != nil {
		return err
	}
	old, info, err := h.fs.Open(ctx, p)
	exists := err == nil
	switch {
	case errors.Is(err, storage.ErrIsDir):
		return h.notAllowed(w)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	case exists:
		defer old.Close()
	}
	if err := checkHTTPConds(r, exists, info); err != nil {
		return err
	}
	if err := h.check(ctx, r, c, p); err != nil {
		return err
	}
	if cr.first > info.Size { // info.Size is 0 for a missing resource
		return rangeNotSatisfiable(w, info.Size)
	}
	size := cr.newSize(info.Size)
	if h.lim.MaxPutBytes > 0 && size > h.lim.MaxPutBytes {
		return errStatus(http.StatusRequestEntityTooLarge, errors.New("PUT result too large"))
	}
	targets := []lock.Target{{Path: p}}
	if !exists {
		targets = append(targets, lock.Target{Path: p.Parent()})
	}
	ctx, g, err := h.confirm(ctx, c, targets...)
	if err != nil {
		return err
	}
	defer g.done()
	opt := storage.PutOptions{Size: size}
	mt, hasMtime := ocMtime(r)
	if hasMtime {
		opt.ModTime = mt
	}
	body, dg := digestBody(&dr, &spliced{old: old, body: r.Body, cr: cr, size: size}, size)
	created, ni, err := h.fs.Put(ctx, p, body, opt)
	if err != nil {
		return err
	}
	h.putDigests(ctx, w, p, &dr, dg, ni)
	if hasMtime {
		w.Header().Set("X-OC-Mtime", "accepted")
	}
	h.putDone(w, p, created, ni)
	return nil
}

// expectsContinue reports whether the client waits for "100 Continue" before it sends the
// body (RFC 9110 section 10.1.1).
func expectsContinue(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("Expect")), "100-continue")
}

// ocMtime parses the ownCloud/rclone X-OC-Mtime request header (Unix seconds, maybe fractional).
func ocMtime(r *http.Request) (time.Time, bool) {
	v := r.Header.Get("X-OC-Mtime")
	if v == "" {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

// serveMkcol answers MKCOL (RFC 4918 §9.3): 201, 405 when something exists, 409 when the parent
// is missing, 415 for any body (we support no MKCOL body format).
func (h *Handler) serveMkcol(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if err := h.allow(ctx, access.Write, p); err != nil {
		return err
	}
	// A chunked request has no length to look at: one byte is read to tell an empty body,
	// which some clients send, from a real one, which gets the 415 of §9.3.1.
	if r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody) {
		var one [1]byte
		if n, _ := io.ReadFull(r.Body, one[:]); n > 0 {
			return errStatus(http.StatusUnsupportedMediaType, errors.New("MKCOL with a body"))
		}
	}
	if p.IsRoot() {
		return h.notAllowed(w)
	}
	c, err := h.checkIf(ctx, r, p)
	if err != nil {
		return err
	}
	// A new member changes its parent's membership, so a lock on the parent (depth 0 or
	// infinity) must be submitted as well as any on p itself (§7.4, §9.3).
	ctx, g, err := h.confirm(ctx, c, lock.Target{Path: p}, lock.Target{Path: p.Parent()})
	if err != nil {
		return err
	}
	defer g.done()
	if err := h.fs.Mkcol(ctx, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return h.notAllowed(w)
		}
		return err
	}
	w.Header().Set("Location", h.href(p, true))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}
