package dav

import (
	"errors"
	"net/http"
	"strings"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/dav/internal/listcache"
	"github.com/davd/davd/dav/internal/multistatus"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
)

// propfind is one parsed PROPFIND request plus its per-request state.
type propfind struct {
	propCtx
	kind    davxml.PropfindKind
	names   []props.Name // Prop: the requested names; AllProp: the include names
	m       *multistatus.Writer
	missing []int // scratch: indexes of names without a value
	wantLD  bool  // lockdiscovery requested
	noLocks bool  // the lock manager holds no lock at all: skip Discover per entry
	// rec, when the listing cache wants this rendering, is fed every <D:response> written
	// (nil otherwise: its methods do nothing on nil).
	rec     *listcache.Recorder
	entries int
	limit   int
}

// servePropfind answers PROPFIND (RFC 4918 §9.1). Everything that can fail the whole request is
// checked before the first byte; after that, the 207 streams one <D:response> per resource and a
// failure while walking becomes its own <D:response>.
func (h *Handler) servePropfind(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if err := h.allow(ctx, access.Read, p); err != nil {
		return err
	}
	depth, err := parseDepth(r, depthInfinity)
	if err != nil {
		return err
	}
	if depth == depthInfinity && !h.lim.PropfindInfinity {
		return errCond(http.StatusForbidden, "propfind-finite-depth", errors.New("depth infinity refused"))
	}
	body, err := davxml.ParsePropfind(r.Body, h.xmlLim)
	if err != nil {
		return err
	}
	info, err := h.fs.Stat(ctx, p)
	if err != nil {
		return err
	}
	c, err := h.checkIf(ctx, r, p)
	if err != nil {
		return err
	}
	pf := &propfind{
		propCtx: propCtx{h: h, ctx: ctx, now: h.now()},
		kind:    body.Kind,
		limit:   h.lim.MaxPropfindEntries,
	}
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
	if body.Kind == davxml.PropName {
		pf.wantLD = false
	}
	pf.noLocks = h.lockFree()
	pf.m = multistatus.New(w)
	if depth == 1 && info.IsDir && pf.cacheable(c.hasIf) {
		if ver, ok := pf.listVersion(p); ok {
			hit, rec := h.cache.Lookup(listcache.Key{Dir: p, Shape: pf.shape(), Version: ver})
			if hit != nil {
				h.listHits.Add(1)
				return hit.Send(pf.m)
			}
			h.listMisses.Add(1)
			pf.rec = rec
			// On every way out: the recorder keeps (or renews) the rendering only if it is
			// complete and the version after the walk is still ver.
			defer func() { pf.rec.Finish(pf.listVersion(p)) }()
		}
	}
	var dead []props.Property
	if h.props != nil {
		if dead, err = h.props.Get(ctx, p); err != nil {
			return err
		}
	}
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
		if deadDir, err = h.props.GetDir(ctx, d); err != nil {
			pf.failure(d, true, err)
			return
		}
	}
	var subdirs []davpath.Path
	res := resource{}
	for info, err := range h.fs.List(ctx, d) {
		if err != nil {
			pf.failure(d, true, err)
			return
		}
		if pf.m.Err() != nil || ctx.Err() != nil {
			return
		}
		q := d.Join(info.Name)
		if !h.allowAll && !h.access.Allow(ctx, access.Principal(ctx), access.Read, q) {
			continue
		}
		if pf.entries >= pf.limit {
			pf.failure(d, true, errStatus(http.StatusInsufficientStorage, errors.New("PROPFIND entry limit reached")))
			return
		}
		res = resource{p: q, info: info, dead: deadDir[info.Name]}
		pf.entry(&res)
		if depth == depthInfinity && info.IsDir && !info.Link {
			subdirs = append(subdirs, q)
		}
	}
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
	code := StatusOf(err)
	if code >= 500 && code != http.StatusInsufficientStorage {
		pf.h.log.Error("propfind walk", "path", p.String(), "err", err)
	}
	m := pf.m
	m.Buf = multistatus.AppendStatusResponse(m.Buf[:0], pf.h.href(p, dir), code, "", nil)
	m.Write(m.Buf)
	pf.rec.Abort()
}

// entry writes one <D:response> for r.
func (pf *propfind) entry(r *resource) {
	pf.entries++
	h := pf.h
	if pf.wantLD && h.locks != nil && !pf.noLocks {
		locks, err := h.locks.Discover(pf.ctx, pf.now, r.p)
		if err == nil {
			r.locks = locks
		}
	}
	m := pf.m
	b := append(m.Buf[:0], "<D:response><D:href>"...)
	b = h.appendHref(b, r.p, r.info.IsDir)
	b = append(b, "</D:href><D:propstat><D:prop>"...)
	pf.missing = pf.missing[:0]
	switch pf.kind {
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
			b = appendOpen(b, r.dead[i].Name, "", true)
		}
	case davxml.AllProp:
		for i := range liveProps {
			if liveProps[i].allprop {
				b, _ = pf.appendLive(b, &liveProps[i], r)
			}
		}
		for i := range r.dead {
			d := &r.dead[i]
			b = appendProp(b, d.Name, d.Lang, d.Value)
		}
		for i, n := range pf.names {
			if lp := lookupLive(n); lp != nil && !lp.allprop {
				var ok bool
				if b, ok = pf.appendLive(b, lp, r); !ok {
					pf.missing = append(pf.missing, i)
				}
			}
		}
	default:
		for i, n := range pf.names {
			if j := findDead(r.dead, n.Space, n.Local); j >= 0 {
				d := &r.dead[j]
				b = appendProp(b, d.Name, d.Lang, d.Value)
				continue
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
	b = append(b, "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"...)
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
	if err := checkHTTPConds(r, true, info); err != nil {
		return err
	}
	c, err := h.checkIf(ctx, r, p)
	if err != nil {
		return err
	}
	g, err := h.confirm(ctx, c, lock.Target{Path: p})
	if err != nil {
		return err
	}
	defer g.done()

	statuses := make([]int, len(ops))
	conds := make([]string, len(ops))
	dead := make([]props.Op, 0, len(ops))
	var mtime timeSetting
	failed := false
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
		case lookupLive(n) != nil && lookupLive(n).protected:
			statuses[i], conds[i], failed = http.StatusForbidden, "cannot-modify-protected-property", true
			continue
		case h.props == nil:
			statuses[i], failed = http.StatusForbidden, true
			continue
		}
		if n.Space == nsMS && n.Local == "Win32LastModifiedTime" && !op.Remove {
			mtime.parseHTTP(op.Prop.Value)
		}
		statuses[i] = http.StatusOK
		dead = append(dead, props.Op{Remove: op.Remove, Prop: props.Property{Name: n, Lang: op.Prop.Lang, Value: op.Prop.Value}})
	}
	if failed {
		for i := range statuses {
			if statuses[i] == http.StatusOK {
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
// some resources only), any lock (lockdiscovery timeouts count down), a policy that may hide
// members from some principals, and quota properties (they change with writes anywhere) bypass
// it.
func (pf *propfind) cacheable(hasIf bool) bool {
	h := pf.h
	if hasIf || !h.allowAll || (h.locks != nil && !pf.noLocks) {
		return false
	}
	for _, n := range pf.names {
		if n.Space == nsDAV && strings.HasPrefix(n.Local, "quota") {
			return false
		}
	}
	return true
}

// listVersion is the storage's ListVersion of p; ok is false when it cannot vouch for p.
func (pf *propfind) listVersion(p davpath.Path) (uint64, bool) {
	lv, ok := pf.h.fs.(storage.ListVersioner)
	if !ok {
		return 0, false
	}
	return lv.ListVersion(pf.ctx, p)
}

// shape identifies what of the request changes the rendering: its kind and property names.
func (pf *propfind) shape() string {
	var b strings.Builder
	b.WriteByte(byte('0' + pf.kind))
	for _, n := range pf.names {
		b.WriteByte(0)
		b.WriteString(n.Space)
		b.WriteByte(' ')
		b.WriteString(n.Local)
	}
	return b.String()
}
