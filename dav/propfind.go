package dav

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/dav/internal/listcache"
	"github.com/davd/davd/dav/internal/multistatus"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
)

// propfind is one parsed PROPFIND request plus its per-request state.
// Its fields are set once in servePropfind and then only read by entry and walk, except the
// scratch (missing, m.Buf), which each entry reuses rather than allocating its own.
type propfind struct {
	propCtx
	kind    davxml.PropfindKind
	names   []props.Name // Prop: the requested names; AllProp: the include names
	m       *multistatus.Writer
	missing []int // scratch: indexes of names without a value
	wantLD  bool  // lockdiscovery requested
	noLocks bool  // the lock manager holds no lock at all: skip Discover per entry
	// readsAll: the principal may read every member (access.WholeReader), so no member is
	// checked against the policy and the rendering is the same whoever asks.
	readsAll bool
	// rec, when the listing cache wants this rendering, is fed every <D:response> written
	// (nil otherwise: its methods do nothing on nil).
	rec *listcache.Recorder
	// entries counts the <D:response> elements written; limit is Limits.MaxPropfindEntries,
	// which bounds a Depth: infinity walk (a 507 member marks the cut).
	entries int
	limit   int
	// applyRef: Apply-To-Redirect-Ref: T (RFC 4437): redirect references are described
	// with their own properties instead of as 3xx members with a DAV:location.
	applyRef bool
}

// servePropfind answers PROPFIND (RFC 4918 §9.1). Everything that can fail the whole request is
// checked before the first byte; after that, the 207 streams one <D:response> per resource and a
// failure while walking becomes its own <D:response>.
func (h *Handler) servePropfind(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	// PROPFIND writes nothing, so what the storage's first read tells (in cluster mode: etcd's
	// revision and the lock count, with the target) can answer the lock count and ListVersion
	// below without another round trip (storage.WithMemo). The Stat is that first read; it
	// comes after the request began, so the answers are no older than the request.
	ctx := storage.WithMemo(r.Context())
	// The access check comes first so that a refused principal learns nothing, not even whether
	// p exists.
	if err := h.allow(ctx, access.Read, p); err != nil {
		return err
	}
	// §9.1: a PROPFIND without Depth acts as infinity; §9.1 also lets a server refuse that with
	// 403 and the propfind-finite-depth precondition (Limits.PropfindInfinity false).
	depth, err := parseDepth(r, depthInfinity)
	if err != nil {
		return err
	}
	if depth == depthInfinity && !h.lim.PropfindInfinity {
		return errCond(http.StatusForbidden, "propfind-finite-depth", errors.New("depth infinity refused"))
	}
	// An empty body is an allprop request (§9.1); a malformed one is a 400 before the 207 starts.
	body, err := davxml.ParsePropfind(r.Body, h.xmlLim)
	if err != nil {
		return err
	}
	info, err := h.fs.Stat(ctx, p)
	if err != nil {
		return err
	}
	// An If header on a PROPFIND is evaluated too (§10.4): a failed condition is a 412 for the
	// whole request. Its presence also keeps the listing cache out (cacheable).
	c, err := h.checkIf(ctx, r, p)
	if err != nil {
		return err
	}
	pf := &propfind{
		propCtx:  propCtx{h: h, ctx: ctx, now: h.now()},
		kind:     body.Kind,
		limit:    h.lim.MaxPropfindEntries,
		applyRef: applyToRef(r),
	}
	// For allprop, the names are those of the include element (§9.1: live properties that
	// allprop leaves out, returned on request); lockdiscovery is in allprop.
	names := body.Props
	if body.Kind == davxml.AllProp {
		names = body.Include
		pf.wantLD = true
	}
	pf.names = make([]props.Name, len(names))
	for i, n := range names {
		pf.names[i] = props.Name{Space: n.Space, Local: n.Local}
		if n.Space == nsDAV && n.Local == "lockdiscovery" {
			pf.wantLD = true
		}
	}
	// propname lists names only: no lock lookups are needed for it.
	if body.Kind == davxml.PropName {
		pf.wantLD = false
	}
	// Asked once per request: with no lock anywhere, no entry needs a Discover call.
	pf.noLocks = h.lockFree(ctx)
	pf.readsAll = h.allowAll || h.reader != nil && h.reader.ReadsAll(access.Principal(ctx))
	pf.m = multistatus.New(w)
	// The listing cache (dav/doc.go, "Listing cache"): only Depth 1 of a collection, only when
	// the rendering is a function of the Key alone, and only when the storage vouches for the
	// collection's version before the walk.
	if depth == 1 && info.IsDir && pf.cacheable(c.hasIf) {
		if ver, ok := pf.listVersion(ctx, p); ok {
			hit, rec := h.cache.Lookup(listcache.Key{Dir: p, Shape: pf.shape(), Version: ver})
			if hit != nil {
				h.listHits.Add(1)
				return hit.Send(pf.m)
			}
			h.listMisses.Add(1)
			pf.rec = rec
			// On every way out: the recorder keeps (or renews) the rendering only if it is
			// complete and the version after the walk is still ver. That version is read
			// afresh, not from the memo (which holds ver): a rendering is kept only when
			// nothing changed while it was made.
			defer func() { pf.rec.Finish(pf.listVersion(r.Context(), p)) }()
		}
	}
	// The target's own dead properties; its members' come from one GetDir per collection in walk.
	var dead []props.Property
	if h.props != nil {
		if dead, err = h.props.Get(ctx, p); err != nil {
			return err
		}
	}
	// A redirect reference as the request-URI answers with its redirect, not a 207 (RFC 4437).
	if rr, ok := refOf(info, dead); ok && !pf.applyRef {
		return redirectTo(rr)
	}
	// The target comes first, then its members: the order clients expect, though §9.1 does not
	// require one.
	pf.entry(&resource{p: p, info: info, dead: dead})
	if depth != 0 && info.IsDir {
		pf.walk(p, depth)
	}
	return pf.m.Close()
}

// walk streams the members of collection d (and below, for Depth: infinity).
func (pf *propfind) walk(d davpath.Path, depth int) {
	h, ctx := pf.h, pf.ctx
	var deadDir map[string][]props.Property
	if h.props != nil {
		var err error
		// One call for the dead properties of all members, instead of one per member: a property
		// store can answer a whole listing in one read.
		if deadDir, err = h.props.GetDir(ctx, d); err != nil {
			pf.failure(d, true, err)
			return
		}
	}
	var subdirs []davpath.Path
	res := resource{}
	// A List or GetDir error comes after the 207 started: it cannot change the status line, so
	// it becomes the collection's own <D:response> with its status.
	for info, err := range h.fs.List(ctx, d) {
		if err != nil {
			pf.failure(d, true, err)
			return
		}
		// The client went away or the writer failed: stop walking, nothing more can be delivered.
		if pf.m.Err() != nil || ctx.Err() != nil {
			return
		}
		q := d.Join(info.Name)
		// A member the principal may not read is left out, not listed with 403: its name would
		// already tell what the policy hides.
		if !pf.readsAll && !h.access.Allow(ctx, access.Principal(ctx), access.Read, q) {
			continue
		}
		if pf.entries >= pf.limit {
			pf.failure(d, true, errStatus(http.StatusInsufficientStorage, errors.New("PROPFIND entry limit reached")))
			return
		}
		res = resource{p: q, info: info, dead: deadDir[info.Name]}
		pf.entry(&res)
		// Below a link the walk does not go: it may lead back to an ancestor and never end.
		if depth == depthInfinity && info.IsDir && !info.Link {
			subdirs = append(subdirs, q)
		}
	}
	// Subcollections are walked after the whole collection is listed, so that one List is open
	// at a time; the entry limit (a 507 member marks the cut) is checked before each.
	for _, sd := range subdirs {
		if pf.entries >= pf.limit {
			pf.failure(d, true, errStatus(http.StatusInsufficientStorage, errors.New("PROPFIND entry limit reached")))
			return
		}
		pf.walk(sd, depth)
	}
}

// failure writes a response entry for a resource whose walk failed after the 207 started.
func (pf *propfind) failure(p davpath.Path, dir bool, err error) {
	// The same mapping as a whole-request error (StatusOf), so that a member's status means
	// what the request's would; only server faults are logged.
	code := StatusOf(err)
	if code >= 500 && code != http.StatusInsufficientStorage {
		pf.h.log.Error("propfind walk", "path", p.String(), "err", err)
	}
	m := pf.m
	m.Buf = multistatus.AppendStatusResponse(m.Buf[:0], pf.h.href(p, dir), code, "", nil)
	m.Write(m.Buf)
	// A rendering with a failure in it is not a listing to keep.
	pf.rec.Abort()
}

// entry writes one <D:response> for r.
func (pf *propfind) entry(r *resource) {
	pf.entries++
	h := pf.h
	// A redirect reference member: its status and DAV:location (RFC 4918 §14.9), no properties.
	r.ref, r.isRef = refOf(r.info, r.dead) // cheap: refOf looks only at empty files
	if r.isRef && !pf.applyRef {
		m := pf.m
		m.Buf = appendRedirectResponse(m.Buf[:0], h.appendHref(nil, r.p, false), r.ref)
		m.Write(m.Buf)
		pf.rec.Add(m.Buf)
		return
	}
	// A Discover error leaves lockdiscovery empty rather than failing the entry: the
	// resource itself was found, and the rest of its properties are worth more than a 500.
	if pf.wantLD && h.locks != nil && !pf.noLocks {
		locks, err := h.locks.Discover(pf.ctx, pf.now, r.p)
		if err == nil {
			r.locks = locks
		}
	}
	m := pf.m
	b := append(m.Buf[:0], "<D:response><D:href>"...)
	b = h.appendHref(b, r.p, r.info.IsDir)
	b = append(b, "</D:href>"...)
	okStart := len(b)
	b = append(b, "<D:propstat><D:prop>"...)
	okProps := len(b)
	pf.missing = pf.missing[:0]
	switch pf.kind {
	// propname (§9.1): the names of the properties the resource has, without values.
	case davxml.PropName:
		for i := range liveProps {
			lp := &liveProps[i]
			if !lp.allprop {
				continue
			}
			mark := len(b)
			var ok bool
			if b, ok = pf.appendLive(b, lp, r); ok {
				b = appendOpen(b[:mark], props.Name{Space: nsDAV, Local: lp.local}, "", true)
			}
		}
		for i := range r.dead {
			if r.dead[i].Name.Space != nsDavd {
				b = appendOpen(b, r.dead[i].Name, "", true)
			}
		}
	// allprop: every live property marked allprop, all dead properties, and the live ones the
	// include element asks for (§9.1); an include name without a value is a 404 like in prop.
	case davxml.AllProp:
		for i := range liveProps {
			if liveProps[i].allprop {
				b, _ = pf.appendLive(b, &liveProps[i], r)
			}
		}
		for i := range r.dead {
			if d := &r.dead[i]; d.Name.Space != nsDavd {
				b = appendProp(b, d.Name, d.Lang, d.Value)
			}
		}
		for i, n := range pf.names {
			if lp := lookupLive(n); lp != nil && !lp.allprop {
				var ok bool
				if b, ok = pf.appendLive(b, lp, r); !ok {
					pf.missing = append(pf.missing, i)
				}
			}
		}
	// prop: each requested name, its dead value first (displayname and getcontentlanguage are
	// settable, and what a client set wins over the computed value), then the live one; a name
	// with neither goes to the 404 propstat.
	default:
		for i, n := range pf.names {
			if n.Space == nsDavd {
				pf.missing = append(pf.missing, i) // davd's own, never shown
				continue
			}
			if j := findDead(r.dead, n.Space, n.Local); j >= 0 {
				d := &r.dead[j]
				b = appendProp(b, d.Name, d.Lang, d.Value)
				continue
			}
			// oc:checksums (ownCloud, rclone): the digests known for the current content.
			if n.Space == nsOC && n.Local == "checksums" && !r.info.IsDir {
				if known := knownDigests(r.dead, r.info.ETag); len(known) > 0 {
					b = appendOCChecksums(appendOpen(b, n, "", false), known)
					b = appendClose(b, n)
					continue
				}
			}
			if lp := lookupLive(n); lp != nil {
				var ok bool
				if b, ok = pf.appendLive(b, lp, r); ok {
					continue
				}
			}
			pf.missing = append(pf.missing, i)
		}
	}
	if len(b) == okProps && len(pf.missing) > 0 {
		// Nothing found: no empty 200 propstat beside the 404 one (a response keeps the 200
		// one only when it would otherwise have no propstat at all).
		b = b[:okStart]
	} else {
		b = append(b, "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"...)
	}
	// §9.1: requested properties without a value are reported in their own propstat with 404,
	// so the 200 propstat holds only what exists.
	if len(pf.missing) > 0 {
		b = append(b, "<D:propstat><D:prop>"...)
		for _, i := range pf.missing {
			b = appendOpen(b, pf.names[i], "", true)
		}
		b = append(b, "</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>"...)
	}
	b = append(b, "</D:response>"...)
	m.Buf = b
	m.Write(b)
	// The listing cache sees exactly the bytes the client got (its one sink).
	pf.rec.Add(b)
}

// serveProppatch answers PROPPATCH (RFC 4918 §9.2): instructions are processed in document
// order and all or nothing; a failing property gets its status and the others 424. Always a 207.
func (h *Handler) serveProppatch(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if err := h.allow(ctx, access.Write, p); err != nil {
		return err
	}
	ops, err := davxml.ParseProppatch(r.Body, h.xmlLim)
	if err != nil {
		return err
	}
	info, err := h.fs.Stat(ctx, p)
	if err != nil {
		return err
	}
	if !applyToRef(r) {
		if rr, ok, err := h.refAt(ctx, p, info); err != nil {
			return err
		} else if ok {
			return redirectTo(rr)
		}
	}
	ctx, g, err := h.guardExisting(ctx, r, p, info)
	if err != nil {
		return err
	}
	defer g.done()

	statuses := make([]int, len(ops))
	conds := make([]string, len(ops))
	dead := make([]props.Op, 0, len(ops))
	var mtime timeSetting
	failed := false
	// §9.2: instructions are processed in document order, all or nothing: every status is
	// decided first, and the store is patched only when none failed.
	for i, op := range ops {
		n := props.Name{Space: op.Prop.Name.Space, Local: op.Prop.Name.Local}
		switch {
		case n.Space == nsDAV && n.Local == "lastmodified":
			// rclone's fallback for setting a modification time (Unix seconds).
			if op.Remove || !mtime.parseUnix(op.Prop.Value) {
				statuses[i], failed = http.StatusConflict, true
			} else {
				statuses[i] = http.StatusOK
			}
			continue
		// A computed live property is protected (§15): setting it is 403 with the
		// cannot-modify-protected-property precondition (§16).
		case lookupLive(n) != nil && lookupLive(n).protected, n.Space == nsDavd:
			statuses[i], conds[i], failed = http.StatusForbidden, "cannot-modify-protected-property", true
			continue
		// Without a property store no dead property can be kept: 403, rather than a 200 for a
		// value that would be lost.
		case h.props == nil:
			statuses[i], failed = http.StatusForbidden, true
			continue
		}
		// Windows' Mini-Redirector sets the modification time this way; the property is also kept
		// as a dead one, as it was sent.
		if n.Space == nsMS && n.Local == "Win32LastModifiedTime" && !op.Remove {
			mtime.parseHTTP(op.Prop.Value)
		}
		statuses[i] = http.StatusOK
		dead = append(dead, props.Op{Remove: op.Remove, Prop: props.Property{Name: n, Lang: op.Prop.Lang, Value: op.Prop.Value}})
	}
	if failed {
		for i := range statuses {
			if statuses[i] == http.StatusOK {
				// §9.2: when one instruction fails, every other one is 424 Failed Dependency.
				statuses[i] = http.StatusFailedDependency
			}
		}
	} else {
		if len(dead) > 0 {
			if err := h.props.Patch(ctx, p, dead); err != nil {
				code := StatusOf(err)
				if code >= 500 && code != http.StatusInsufficientStorage {
					h.log.Error("proppatch", "path", p.String(), "err", err)
				}
				for i := range statuses {
					statuses[i] = code
				}
			}
		}
		// The time is set only once the properties were stored; a storage that cannot set it is
		// logged, not reported: the properties were applied.
		if mtime.set && statuses[0] == http.StatusOK {
			if ms, ok := h.fs.(storage.MtimeSetter); ok {
				if err := ms.SetModTime(ctx, p, mtime.t); err != nil {
					h.log.Warn("set mtime", "path", p.String(), "err", err)
				}
			}
		}
	}
	h.writeProppatch(w, p, info.IsDir, ops, statuses, conds)
	return nil
}

// writeProppatch writes the single-response 207 of a PROPPATCH, one propstat per status.
func (h *Handler) writeProppatch(w http.ResponseWriter, p davpath.Path, dir bool, ops []davxml.PatchOp, statuses []int, conds []string) {
	m := multistatus.New(w)
	b := append(m.Buf[:0], "<D:response><D:href>"...)
	b = append(b, h.href(p, dir)...)
	b = append(b, "</D:href>"...)
	done := make([]bool, len(ops))
	for i := range ops {
		if done[i] {
			continue
		}
		code, cond := statuses[i], conds[i]
		b = append(b, "<D:propstat><D:prop>"...)
		// The properties with the same status and precondition share one propstat (§9.2.1).
		for j := i; j < len(ops); j++ {
			if !done[j] && statuses[j] == code && conds[j] == cond {
				done[j] = true
				n := ops[j].Prop.Name
				b = appendOpen(b, props.Name{Space: n.Space, Local: n.Local}, "", true)
			}
		}
		b = append(b, "</D:prop><D:status>"...)
		b = multistatus.StatusLine(b, code)
		b = append(b, "</D:status>"...)
		if cond != "" {
			b = append(b, "<D:error><D:"...)
			b = append(b, cond...)
			b = append(b, "/></D:error>"...)
		}
		b = append(b, "</D:propstat>"...)
	}
	b = append(b, "</D:response>"...)
	m.Buf = b
	m.Write(b)
	m.Close()
}

// The listing cache's side of PROPFIND (package listcache holds the cache itself).

// cacheable reports whether this PROPFIND may use the listing cache at all: a rendering must be
// a function of the Key alone (see dav/doc.go, "Listing cache"). An If header (it may fail for
// some resources only), any lock (lockdiscovery timeouts count down), a principal from whom the
// policy may hide members (the rendering would then depend on who asks), and quota properties
// (they change with writes anywhere) bypass it.
func (pf *propfind) cacheable(hasIf bool) bool {
	h := pf.h
	if hasIf || !pf.readsAll || (h.locks != nil && !pf.noLocks) {
		return false
	}
	for _, n := range pf.names {
		if n.Space == nsDAV && strings.HasPrefix(n.Local, "quota") {
			return false
		}
		// A sync token is a principal's and depends on the sync store's state, not only on
		// the listing (RFC 6578 §4).
		if n.Space == nsDAV && n.Local == "sync-token" {
			return false
		}
	}
	return true
}

// listVersion is the storage's ListVersion of p, asked with ctx; ok is false when it cannot
// vouch for p.
func (pf *propfind) listVersion(ctx context.Context, p davpath.Path) (uint64, bool) {
	lv, ok := pf.h.fs.(storage.ListVersioner)
	if !ok {
		return 0, false
	}
	return lv.ListVersion(ctx, p)
}

// shape identifies what of the request changes the rendering: its kind and property names.
func (pf *propfind) shape() string {
	var b strings.Builder
	b.WriteByte(byte('0' + pf.kind))
	if pf.applyRef {
		b.WriteByte('T')
	}
	for _, n := range pf.names {
		b.WriteByte(0)
		b.WriteString(n.Space)
		b.WriteByte(' ')
		b.WriteString(n.Local)
	}
	return b.String()
}
