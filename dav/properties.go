package dav

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
)

const nsDAV = "DAV:"

// Microsoft's namespace for the Mini-Redirector's Win32 properties.
const nsMS = "urn:schemas-microsoft-com:"

// resource is what the live properties of one resource are computed from.
type resource struct {
	p     davpath.Path
	info  storage.Info
	dead  []props.Property
	locks []lock.Lock
	// ref, when isRef, is the redirect reference r is: found once per entry (refOf), read by
	// resourcetype, reftarget and redirect-lifetime.
	ref   redirectRef
	isRef bool
}

// propCtx carries per-request state of a PROPFIND: the quota figures are fetched at most once.
type propCtx struct {
	h        *Handler
	ctx      context.Context
	now      time.Time
	quotaOK  bool
	quotaErr bool
	avail    int64
	used     int64
	created  dateMemo
	modified dateMemo
}

// dateMemo formats times to whole seconds, reusing the previous result when the second is the
// same: the members of one collection often share their modification second.
type dateMemo struct {
	sec int64
	buf []byte
}

func (m *dateMemo) append(dst []byte, t time.Time, layout string) []byte {
	if s := t.Unix(); s != m.sec || m.buf == nil {
		m.buf = appendDate(m.buf[:0], t, layout)
		m.sec = s
	}
	return append(dst, m.buf...)
}

// Date layouts of live properties: getlastmodified (RFC 4918 §15.7: RFC 1123, as HTTP) and
// creationdate (§15.1: RFC 3339, in UTC).
const (
	layoutHTTP = http.TimeFormat
	layoutISO  = "2006-01-02T15:04:05Z"
)

// appendDate formats t in UTC to layout, as t.UTC().AppendFormat does, but without the
// general formatter for the two layouts of live properties and four-digit years.
func appendDate(dst []byte, t time.Time, layout string) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 || (layout != layoutHTTP && layout != layoutISO) {
		return t.AppendFormat(dst, layout)
	}
	hh, mm, ss := t.Clock()
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	four := func(b []byte, v int) []byte {
		return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	if layout == layoutISO {
		dst = four(dst, y)
		dst = two(append(dst, '-'), int(mo))
		dst = two(append(dst, '-'), d)
		dst = two(append(dst, 'T'), hh)
		dst = two(append(dst, ':'), mm)
		dst = two(append(dst, ':'), ss)
		return append(dst, 'Z')
	}
	dst = append(dst, t.Weekday().String()[:3]...)
	dst = two(append(dst, ", "...), d)
	dst = append(append(append(dst, ' '), mo.String()[:3]...), ' ')
	dst = four(dst, y)
	dst = two(append(dst, ' '), hh)
	dst = two(append(dst, ':'), mm)
	dst = two(append(dst, ':'), ss)
	return append(dst, " GMT"...)
}

// liveProp describes one live property (RFC 4918 §15, RFC 4331 §3-4).
type liveProp struct {
	local string
	// allprop: returned for allprop (RFC 4918 §9.1: the properties defined in the document;
	// RFC 4331 quota properties are not).
	allprop bool
	// protected: PROPPATCH gets 403 cannot-modify-protected-property.
	protected bool
	// value appends the property element's content; ok is false when the resource does not have
	// the property (e.g. getcontentlength of a collection).
	value func(pc *propCtx, r *resource, dst []byte) (out []byte, ok bool)
}

// liveProps is the table of DAV: live properties. displayname and getcontentlanguage are
// settable (RFC 4918 §15.2, §15.3): a dead value wins over the computed one.
var liveProps = []liveProp{
	{"creationdate", true, true, func(pc *propCtx, r *resource, dst []byte) ([]byte, bool) {
		// §15.1: a storage that does not know the birth time gives the modification time, the
		// closest value it has, rather than an empty creationdate.
		t := r.info.Created
		if t.IsZero() {
			t = r.info.ModTime
		}
		return pc.created.append(dst, t, layoutISO), true
	}},
	{"displayname", true, false, func(_ *propCtx, r *resource, dst []byte) ([]byte, bool) {
		// The root has no name of its own; a dead displayname was already written by the caller.
		if r.p.IsRoot() || findDead(r.dead, nsDAV, "displayname") >= 0 {
			return dst, false
		}
		return davxml.EscapeText(dst, r.info.Name), true
	}},
	{"getcontentlength", true, true, func(_ *propCtx, r *resource, dst []byte) ([]byte, bool) {
		if r.info.IsDir {
			return dst, false
		}
		return strconv.AppendInt(dst, r.info.Size, 10), true
	}},
	{"getcontenttype", true, true, func(_ *propCtx, r *resource, dst []byte) ([]byte, bool) {
		if r.info.IsDir {
			return dst, false
		}
		// By extension only, never by sniffing the content: a listing must not open every file
		// (x/net's allprop did), and GET serves the same type (contentType).
		return davxml.EscapeText(dst, contentType(r.info.Name)), true
	}},
	{"getetag", true, true, func(_ *propCtx, r *resource, dst []byte) ([]byte, bool) {
		// No ETag from the storage means no getetag: one made up here would not be the one GET,
		// If-Match and the If header's entity tags see.
		if r.info.ETag == "" {
			return dst, false
		}
		return davxml.EscapeText(dst, r.info.ETag), true
	}},
	{"getlastmodified", true, true, func(pc *propCtx, r *resource, dst []byte) ([]byte, bool) {
		return pc.modified.append(dst, r.info.ModTime, layoutHTTP), true
	}},
	{"resourcetype", true, true, func(_ *propCtx, r *resource, dst []byte) ([]byte, bool) {
		if r.info.IsDir {
			return append(dst, "<D:collection/>"...), true
		}
		if r.isRef {
			return append(dst, "<D:redirectref/>"...), true
		}
		return dst, true
	}},
	// RFC 4437: a redirect reference's target and lifetime, seen with Apply-To-Redirect-Ref: T
	// (without it the reference is listed as its redirect); absent on every other resource, so
	// allprop shows them where they exist. Protected: UPDATEREDIRECTREF changes them.
	{"reftarget", true, true, func(_ *propCtx, r *resource, dst []byte) ([]byte, bool) {
		if !r.isRef {
			return dst, false
		}
		dst = append(dst, "<D:href>"...)
		dst = append(dst, r.ref.target...)
		return append(dst, "</D:href>"...), true
	}},
	{"redirect-lifetime", true, true, func(_ *propCtx, r *resource, dst []byte) ([]byte, bool) {
		if !r.isRef {
			return dst, false
		}
		if r.ref.code == http.StatusMovedPermanently {
			return append(dst, "<D:permanent/>"...), true
		}
		return append(dst, "<D:temporary/>"...), true
	}},
	// Without a lock manager the server is not class 2 (OPTIONS says "1, 3"), and the lock
	// properties are absent, not empty.
	{"supportedlock", true, true, func(pc *propCtx, _ *resource, dst []byte) ([]byte, bool) {
		if pc.h.locks == nil {
			return dst, false
		}
		return append(dst, supportedLock...), true
	}},
	{"lockdiscovery", true, true, func(pc *propCtx, r *resource, dst []byte) ([]byte, bool) {
		if pc.h.locks == nil {
			return dst, false
		}
		for i := range r.locks {
			dst = pc.h.appendActiveLock(dst, &r.locks[i], pc.now)
		}
		return dst, true
	}},
	// RFC 6578 §4: the token of the collection's state now; not in allprop (§4.1), since
	// it costs a listing.
	{"sync-token", false, true, func(pc *propCtx, r *resource, dst []byte) ([]byte, bool) {
		tok, ok := pc.syncToken(r)
		if !ok {
			return dst, false
		}
		return davxml.EscapeText(dst, string(tok)), true
	}},
	// RFC 3253 §3.1.5: the reports a resource answers; sync-collection on collections when
	// there is a sync store. Without one the property stays absent, as before.
	{"supported-report-set", false, true, func(pc *propCtx, r *resource, dst []byte) ([]byte, bool) {
		if pc.h.sync == nil {
			return dst, false
		}
		if r.info.IsDir {
			dst = append(dst, syncReport...)
		}
		return dst, true
	}},
	{"quota-available-bytes", false, true, func(pc *propCtx, _ *resource, dst []byte) ([]byte, bool) {
		// RFC 4331 §3-4: both quota properties are absent when the storage cannot tell, never
		// a guess; they describe the whole storage, so they are computed once per request.
		if !pc.quota() {
			return dst, false
		}
		return strconv.AppendInt(dst, pc.avail, 10), true
	}},
	{"quota-used-bytes", false, true, func(pc *propCtx, _ *resource, dst []byte) ([]byte, bool) {
		if !pc.quota() {
			return dst, false
		}
		return strconv.AppendInt(dst, pc.used, 10), true
	}},
}

// supportedlock (§15.10) is the same for every resource: exclusive and shared write locks.
const supportedLock = `<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>` +
	`<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>`

// liveIndex maps a DAV: local name to its row of liveProps, for requests that name them.
var liveIndex = func() map[string]int {
	m := make(map[string]int, len(liveProps))
	for i, lp := range liveProps {
		m[lp.local] = i
	}
	return m
}()

// lookupLive returns the live property named n, or nil.
func lookupLive(n props.Name) *liveProp {
	if n.Space != nsDAV {
		return nil
	}
	if i, ok := liveIndex[n.Local]; ok {
		return &liveProps[i]
	}
	return nil
}

// quota fetches the quota figures at most once per request (the first entry that asks),
// remembering a failure too: a listing of 10,000 entries asks the storage once.
func (pc *propCtx) quota() bool {
	if !pc.quotaOK && !pc.quotaErr {
		q, ok := pc.h.fs.(storage.Quota)
		if !ok {
			pc.quotaErr = true
			return false
		}
		var err error
		pc.avail, pc.used, err = q.Quota(pc.ctx, davpath.Root)
		pc.quotaOK, pc.quotaErr = err == nil, err != nil
	}
	return pc.quotaOK
}

// findDead returns the index of the dead property space:local in dead, or -1. A linear scan:
// a resource has a handful of dead properties, fewer than a map would be worth.
func findDead(dead []props.Property, space, local string) int {
	for i := range dead {
		if dead[i].Name.Local == local && dead[i].Name.Space == space {
			return i
		}
	}
	return -1
}

// appendOpen appends the start tag of a property element. DAV: properties use the D prefix
// bound on the multistatus root; others declare their namespace on the element itself, so every
// prefix always resolves.
func appendOpen(dst []byte, n props.Name, lang string, empty bool) []byte {
	dst = append(dst, '<')
	switch n.Space {
	case nsDAV:
		dst = append(dst, "D:"...)
		dst = append(dst, n.Local...)
	// A name in no namespace (xmlns="" in the request) is written without a prefix, and the
	// multistatus root binds no default namespace, so it stays in none.
	case "":
		dst = append(dst, n.Local...)
	default:
		dst = append(dst, "P:"...)
		dst = append(dst, n.Local...)
		dst = append(dst, ` xmlns:P="`...)
		dst = davxml.EscapeAttr(dst, n.Space)
		dst = append(dst, '"')
	}
	if lang != "" {
		dst = append(dst, ` xml:lang="`...)
		dst = davxml.EscapeAttr(dst, lang)
		dst = append(dst, '"')
	}
	if empty {
		return append(dst, "/>"...)
	}
	return append(dst, '>')
}

// appendClose appends the end tag matching appendOpen's prefix choice for n.
func appendClose(dst []byte, n props.Name) []byte {
	dst = append(dst, "</"...)
	switch n.Space {
	case nsDAV:
		dst = append(dst, "D:"...)
	case "":
	default:
		dst = append(dst, "P:"...)
	}
	dst = append(dst, n.Local...)
	return append(dst, '>')
}

// appendProp appends a whole property element with value content (empty content → empty tag).
func appendProp(dst []byte, n props.Name, lang string, value []byte) []byte {
	// The value is the element's content as raw, namespace-self-contained XML
	// (props.Property), so it is appended verbatim, without escaping.
	if len(value) == 0 {
		return appendOpen(dst, n, lang, true)
	}
	dst = appendOpen(dst, n, lang, false)
	dst = append(dst, value...)
	return appendClose(dst, n)
}

// appendLive appends live property lp of r, reporting false when r lacks it.
func (pc *propCtx) appendLive(dst []byte, lp *liveProp, r *resource) ([]byte, bool) {
	n := props.Name{Space: nsDAV, Local: lp.local}
	// The element is written optimistically and cut back when r has no value, so no property
	// needs a second pass or a temporary buffer.
	mark := len(dst)
	dst = appendOpen(dst, n, "", false)
	start := len(dst)
	dst, ok := lp.value(pc, r, dst)
	if !ok {
		return dst[:mark], false
	}
	if len(dst) == start {
		// Empty value: rewrite as an empty-element tag.
		dst = appendOpen(dst[:mark], n, "", true)
		return dst, true
	}
	return appendClose(dst, n), true
}

// appendActiveLock appends one DAV:activelock (RFC 4918 §14.1).
func (h *Handler) appendActiveLock(dst []byte, l *lock.Lock, now time.Time) []byte {
	dst = append(dst, "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>"...)
	if l.Shared {
		dst = append(dst, "<D:shared/>"...)
	} else {
		dst = append(dst, "<D:exclusive/>"...)
	}
	dst = append(dst, "</D:lockscope><D:depth>"...)
	if l.Depth == lock.DepthInfinity {
		dst = append(dst, "infinity"...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, "</D:depth>"...)
	// §14.17: the owner is returned as the client sent it (raw, namespace-self-contained XML).
	if len(l.Owner) > 0 {
		dst = append(dst, "<D:owner>"...)
		dst = append(dst, l.Owner...)
		dst = append(dst, "</D:owner>"...)
	}
	dst = append(dst, "<D:timeout>"...)
	// §10.7, §14.29: the remaining time in whole seconds, counting down from the lock's
	// creation or last refresh; a lock without expiry is Infinite.
	if l.Expires.IsZero() {
		dst = append(dst, "Infinite"...)
	} else {
		dst = append(dst, "Second-"...)
		dst = strconv.AppendInt(dst, int64(l.Remaining(now)/time.Second), 10)
	}
	dst = append(dst, "</D:timeout><D:locktoken><D:href>"...)
	dst = davxml.EscapeText(dst, l.Token)
	dst = append(dst, "</D:href></D:locktoken><D:lockroot><D:href>"...)
	dst = append(dst, h.href(l.Root, false)...)
	return append(dst, "</D:href></D:lockroot></D:activelock>"...)
}
