package dav

import (
	"context"
	"errors"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
)

// Redirect references (RFC 4437).
//
// A redirect reference is kept as an empty non-collection resource with a hidden dead property
// in davd's namespace holding its status and target ("302 TARGET", the target escaped as XML
// text). Every seam keeps it without knowing of it: it survives restarts with the property
// store, and COPY, MOVE and DELETE act on the reference itself , since content and dead
// properties travel together. A GET or PROPPATCH reads the property only for an empty file, a
// listing has it already (GetDir), and a PUT reads it before anything else (about 1 µs with
// the embedded store, no system call); a file that gets content by any path, outside davd
// included, is no longer a reference, and a PUT through davd (with Apply-To-Redirect-Ref: T)
// drops the property.
//
// Without "Apply-To-Redirect-Ref: T", GET, HEAD, PUT, PROPFIND and PROPPATCH of a
// reference answer its 301 or 302 with Location and Redirect-Ref; a reference inside a
// PROPFIND or sync-collection listing is a <D:response> with that status and a DAV:location
// element (RFC 4918 §14.9, §14.24), never a Location header on the 207. With the header, the
// request applies to the reference: its properties include DAV:resourcetype DAV:redirectref,
// DAV:reftarget and DAV:redirect-lifetime.
//
// A symbolic link on disk is not presented as a redirect reference: the storage serves a link
// that stays inside the root as its target (a file or a folder) and refuses one that leaves it.
// Mount clients (davfs2, Finder, Explorer) do not follow a 302 member of a listing, so a link
// shown as a reference would vanish from their view; served as its target it keeps working.

// errNotRead marks a Stat not made yet.
var errNotRead = errors.New("not read")

// redirectProp is the hidden dead property that makes an empty file a redirect reference.
var redirectProp = props.Name{Space: nsDavd, Local: "redirectref"}

// redirectRef is the state of one redirect reference.
type redirectRef struct {
	code   int    // http.StatusFound (temporary, the default) or http.StatusMovedPermanently
	target string // the DAV:reftarget href, escaped as XML text (as stored)
}

// raw is the target as a URI, for the Location header.
func (rr redirectRef) raw() string { return html.UnescapeString(rr.target) }

// value is rr as the property stores it.
func (rr redirectRef) value() []byte {
	code := "302 "
	if rr.code == http.StatusMovedPermanently {
		code = "301 "
	}
	return append([]byte(code), rr.target...)
}

// refOf reports whether the resource described by info and dead is a redirect reference.
func refOf(info storage.Info, dead []props.Property) (redirectRef, bool) {
	if info.IsDir || info.Size != 0 {
		return redirectRef{}, false
	}
	i := findDead(dead, redirectProp.Space, redirectProp.Local)
	if i < 0 {
		return redirectRef{}, false
	}
	code, target, _ := strings.Cut(string(dead[i].Value), " ")
	rr := redirectRef{code: http.StatusFound, target: target}
	switch code {
	case "302":
	case "301":
		rr.code = http.StatusMovedPermanently
	default:
		return redirectRef{}, false
	}
	return rr, target != ""
}

// refAt reports whether p, described by info, is a redirect reference; it reads the property
// store only for an empty file.
func (h *Handler) refAt(ctx context.Context, p davpath.Path, info storage.Info) (redirectRef, bool, error) {
	if h.props == nil || info.IsDir || info.Size != 0 {
		return redirectRef{}, false, nil
	}
	dead, err := h.props.Get(ctx, p)
	if err != nil {
		return redirectRef{}, false, err
	}
	rr, ok := refOf(info, dead)
	return rr, ok, nil
}

// applyToRef reports whether the request carries "Apply-To-Redirect-Ref: T" (RFC 4437):
// it then applies to a redirect reference itself rather than being redirected.
func applyToRef(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("Apply-To-Redirect-Ref")), "T")
}

// redirectTo is the answer of a request redirected by rr (RFC 4437): its status with
// Location and Redirect-Ref, written by writeError like every other answer that is not a 2xx.
func redirectTo(rr redirectRef) error {
	return &Error{Status: rr.code, Location: rr.raw()}
}

// appendRedirectResponse appends the <D:response> of a redirect reference member of a
// multistatus (RFC 4437, RFC 4918 §14.9): its status and a DAV:location with the target.
func appendRedirectResponse(dst []byte, href []byte, rr redirectRef) []byte {
	dst = append(dst, "<D:response><D:href>"...)
	dst = append(dst, href...)
	dst = append(dst, "</D:href><D:status>"...)
	if rr.code == http.StatusMovedPermanently {
		dst = append(dst, "HTTP/1.1 301 Moved Permanently"...)
	} else {
		dst = append(dst, "HTTP/1.1 302 Found"...)
	}
	dst = append(dst, "</D:status><D:location><D:href>"...)
	dst = append(dst, rr.target...)
	return append(dst, "</D:href></D:location></D:response>"...)
}

// refTarget checks a DAV:reftarget href: a URI reference (relative, or absolute with http or
// https) of ASCII without white space or control characters, no longer than a request URI may be. A
// value that is no URI is 422 (well-formed XML with a wrong value); another scheme (a
// javascript: or file: target) is refused with 403.
func (h *Handler) refTarget(s string) (string, error) {
	if len(s) > h.lim.MaxURILen {
		return "", errStatus(http.StatusUnprocessableEntity, errors.New("reftarget too long"))
	}
	for i := 0; i < len(s); i++ {
		// A URI is ASCII (RFC 3986): anything else is percent-encoded, and the target goes
		// into a Location header as it is.
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return "", errStatus(http.StatusUnprocessableEntity, errors.New("reftarget holds white space, a control character or a byte that is not ASCII"))
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", errStatus(http.StatusUnprocessableEntity, err)
	}
	if u.Scheme != "" && !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https") {
		return "", errStatus(http.StatusForbidden, errors.New("reftarget scheme not allowed"))
	}
	return string(davxml.EscapeText(nil, s)), nil
}

// serveMkRedirectRef answers MKREDIRECTREF (RFC 4437): 201 with a new redirect reference,
// 403 DAV:resource-must-be-null when something is at the request-URI, 409
// DAV:parent-resource-must-be-non-null when its parent is not a collection, 423 when a lock
// on the new member or its parent is not submitted (DAV:locked-update-allowed is the If
// header's lock check, the same as a PUT of a new member).
func (h *Handler) serveMkRedirectRef(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if h.props == nil {
		return h.notAllowed(w)
	}
	if err := h.allow(ctx, access.Write, p); err != nil {
		return err
	}
	if p.IsRoot() {
		return errCond(http.StatusForbidden, "resource-must-be-null", errors.New("the root exists"))
	}
	body, err := davxml.ParseMkRedirectRef(r.Body, h.xmlLim)
	if err != nil {
		return err
	}
	target, err := h.refTarget(body.Target)
	if err != nil {
		return err
	}
	rr := redirectRef{code: http.StatusFound, target: target}
	if body.Permanent {
		rr.code = http.StatusMovedPermanently
	}
	c, err := parseIf(r)
	if err != nil {
		return err
	}
	if _, err := h.fs.Stat(ctx, p); err == nil {
		return errCond(http.StatusForbidden, "resource-must-be-null", fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := h.parentCollection(ctx, p); err != nil {
		if StatusOf(err) == http.StatusConflict {
			return errCond(http.StatusConflict, "parent-resource-must-be-non-null", err)
		}
		return err
	}
	if err := h.check(ctx, r, c, p); err != nil {
		return err
	}
	ctx, g, err := h.confirm(ctx, c, lock.Target{Path: p}, lock.Target{Path: p.Parent()})
	if err != nil {
		return err
	}
	defer g.done()
	// Properties left at p by a resource removed outside davd would otherwise come back on the
	// reference.
	if err := h.props.Delete(ctx, p); err != nil {
		return err
	}
	// The empty file first, then the property: a crash between the two leaves an empty file,
	// never a property that would turn a later empty upload into a reference.
	if _, _, err := h.fs.Put(ctx, p, strings.NewReader(""), storage.PutOptions{Size: 0}); err != nil {
		return err
	}
	if err := h.props.Patch(ctx, p, []props.Op{{Prop: props.Property{Name: redirectProp, Value: rr.value()}}}); err != nil {
		if rerr := h.fs.Remove(ctx, p); rerr != nil {
			h.log.Error("MKREDIRECTREF: removing the file of a failed reference", "path", p.String(), "err", rerr)
		}
		return err
	}
	hd := w.Header()
	hd.Set("Location", h.href(p, false))
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// serveUpdateRedirectRef answers UPDATEREDIRECTREF (RFC 4437): the target, the lifetime or
// both of an existing redirect reference change; 200. A resource that is no redirect
// reference does not take the method (405); a missing one is 404.
func (h *Handler) serveUpdateRedirectRef(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if h.props == nil {
		return h.notAllowed(w)
	}
	if err := h.allow(ctx, access.Write, p); err != nil {
		return err
	}
	body, err := davxml.ParseUpdateRedirectRef(r.Body, h.xmlLim)
	if err != nil {
		return err
	}
	info, err := h.fs.Stat(ctx, p)
	if err != nil {
		return err
	}
	rr, ok, err := h.refAt(ctx, p, info)
	if err != nil {
		return err
	}
	if !ok {
		return h.notAllowed(w)
	}
	if body.HasTarget {
		if rr.target, err = h.refTarget(body.Target); err != nil {
			return err
		}
	}
	if body.HasLifetime {
		rr.code = http.StatusFound
		if body.Permanent {
			rr.code = http.StatusMovedPermanently
		}
	}
	ctx, g, err := h.guardExisting(ctx, r, p, info)
	if err != nil {
		return err
	}
	defer g.done()
	if err := h.props.Patch(ctx, p, []props.Op{{Prop: props.Property{Name: redirectProp, Value: rr.value()}}}); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// dropRef removes the redirect property of p once p holds new content (a PUT, a LOCK of an
// unmapped URL): it is an ordinary file now.
func (h *Handler) dropRef(ctx context.Context, p davpath.Path) {
	err := h.props.Patch(ctx, p, []props.Op{{Remove: true, Prop: props.Property{Name: redirectProp}}})
	if err != nil {
		h.log.Error("dropping the redirect reference property", "path", p.String(), "err", err)
	}
}
