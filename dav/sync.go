package dav

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"iter"
	"net/http"
	"slices"
	"strings"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/dav/internal/multistatus"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/syncstore"
)

// RFC 6578 collection synchronisation.
//
// A sync token names a snapshot, kept in the syncstore.Store, of what the principal could see
// of the collection when the token was issued: each member's relative path, whether it is a
// collection, and a fingerprint (syncTag) of its ETag, size, modification time and dead
// properties. A sync-collection REPORT walks the collection as it is now, in the snapshot's
// order (syncstore.Compare: depth first, siblings sorted by name), and merges the walk with the
// snapshot in one pass: a member that is new or whose fingerprint differs is reported with its
// properties, one that is in the snapshot and no longer in the walk is reported removed (404
// without propstat, §3.5.2). Changes made on disk by other programs are seen like any other,
// since nothing relies on a change log. The walk holds one sorted listing per level of the path
// it is in, never the whole tree; the new snapshot streams into the store.

// syncTokenPrefix makes a sync token a URI (§3.2): the store's ids are version 4 UUIDs.
const syncTokenPrefix = "urn:uuid:"

// syncReport is the supported-report-set value (RFC 3253 §3.1.5) of a collection when the
// handler has a sync store.
const syncReport = `<D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report>`

// syncMember is one member of a collection as a sync walk sees it.
type syncMember struct {
	info storage.Info
	dead []props.Property
	tag  uint64
}

// syncTag fingerprints what a client sees change of a member: a different value means the
// member is reported again. A collection's modification time and ETag are left out: backends
// derive both from its membership, which the members' own entries report (at sync-level 1 a
// client did not ask about them, §3.3), so a collection is reported when it appears, when its
// dead properties change and when it goes.
func syncTag(info storage.Info, dead []props.Property) uint64 {
	f := fnv.New64a()
	var b [8]byte
	if info.IsDir {
		f.Write([]byte{1})
	} else {
		f.Write([]byte{0})
		binary.BigEndian.PutUint64(b[:], uint64(info.Size))
		f.Write(b[:])
		binary.BigEndian.PutUint64(b[:], uint64(info.ModTime.UnixNano()))
		f.Write(b[:])
		f.Write([]byte(info.ETag))
	}
	for _, d := range dead {
		// davd's own properties (kept digests) follow the content, whose ETag is counted;
		// a redirect reference's target is counted, as UPDATEREDIRECTREF changes nothing else.
		if d.Name.Space == nsDavd && d.Name != redirectProp {
			continue
		}
		for _, s := range []string{d.Name.Space, d.Name.Local, d.Lang} {
			f.Write([]byte{0})
			f.Write([]byte(s))
		}
		f.Write([]byte{0})
		f.Write(d.Value)
	}
	return f.Sum64()
}

// syncMembers lists the members of d the principal may read, sorted by name, with their dead
// properties and fingerprints. One collection's listing is held in memory at a time per level.
func (h *Handler) syncMembers(ctx context.Context, d davpath.Path, readsAll bool) ([]syncMember, error) {
	var dead map[string][]props.Property
	if h.props != nil {
		var err error
		if dead, err = h.props.GetDir(ctx, d); err != nil {
			return nil, err
		}
	}
	var ms []syncMember
	for info, err := range h.fs.List(ctx, d) {
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Members the principal may not read never appear, as in PROPFIND (and so never in
		// its snapshots either).
		if !readsAll && !h.access.Allow(ctx, access.Principal(ctx), access.Read, d.Join(info.Name)) {
			continue
		}
		ms = append(ms, syncMember{info: info, dead: dead[info.Name], tag: syncTag(info, dead[info.Name])})
	}
	slices.SortFunc(ms, func(a, b syncMember) int { return strings.Compare(a.info.Name, b.info.Name) })
	return ms, nil
}

// syncToken returns the DAV:sync-token (§4) of collection p at sync-level 1: the token of a
// snapshot of its members now, the same token as before while nothing changed (the store
// reuses an identical newest snapshot). ok is false without a sync store, for a
// non-collection, or when the snapshot cannot be taken.
func (pc *propCtx) syncToken(r *resource) ([]byte, bool) {
	h := pc.h
	if h.sync == nil || !r.info.IsDir {
		return nil, false
	}
	readsAll := h.allowAll || h.reader != nil && h.reader.ReadsAll(access.Principal(pc.ctx))
	ms, err := h.syncMembers(pc.ctx, r.p, readsAll)
	if err != nil || len(ms) > h.lim.MaxPropfindEntries {
		return nil, false
	}
	key := syncstore.Key{Root: r.p, Principal: access.Principal(pc.ctx)}
	id, err := h.sync.Save(pc.ctx, key, func(yield func(syncstore.Entry) bool) {
		for _, m := range ms {
			if !yield(syncstore.Entry{Path: m.info.Name, Dir: m.info.IsDir, Tag: m.tag}) {
				return
			}
		}
	})
	if err != nil {
		h.log.Warn("sync-token snapshot", "path", r.p.String(), "err", err)
		return nil, false
	}
	return []byte(syncTokenPrefix + id), true
}

// serveReport answers REPORT (RFC 3253 §3.6). The only report is RFC 6578's sync-collection,
// on collections, when the handler has a sync store; any other is 403 supported-report.
func (h *Handler) serveReport(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if err := h.allow(ctx, access.Read, p); err != nil {
		return err
	}
	// RFC 6578 §3.2: the report is defined for Depth: 0 only (an absent Depth is 0, RFC 3253
	// §3.6); sync-level says how deep it goes.
	if depth, err := parseDepth(r, 0); err != nil || depth != 0 {
		return errStatus(http.StatusBadRequest, errors.New("sync-collection needs Depth: 0"))
	}
	body, err := davxml.ParseSyncCollection(r.Body, h.xmlLim)
	if errors.Is(err, davxml.ErrUnsupportedReport) || err == nil && h.sync == nil {
		return errCond(http.StatusForbidden, "supported-report", err)
	}
	if err != nil {
		return err
	}
	info, err := h.fs.Stat(ctx, p)
	if err != nil {
		return err
	}
	if !info.IsDir {
		return errCond(http.StatusForbidden, "supported-report", errors.New("sync-collection of a non-collection"))
	}
	principal := access.Principal(ctx)
	key := syncstore.Key{Root: p, Principal: principal, Infinite: body.Infinite}
	sw := &syncWalk{h: h, ctx: ctx, root: p, infinite: body.Infinite, limit: h.lim.MaxPropfindEntries}
	if body.Limit > 0 && body.Limit < sw.limit {
		sw.limit = body.Limit
	}
	// §3.2: an empty token is the initial sync (everything is new). Any other must name a
	// snapshot kept for this collection, user and level, or the client gets 403
	// valid-sync-token and starts over — the answer for tokens that expired, too.
	if body.Token != "" {
		id, ok := strings.CutPrefix(body.Token, syncTokenPrefix)
		if !ok || id == "" {
			return errCond(http.StatusForbidden, "valid-sync-token", errors.New("foreign sync token"))
		}
		next, stop := iter.Pull2(h.sync.Load(ctx, key, id))
		defer stop()
		sw.next = next
		// The first entry is read before the 207 starts: an unknown token is a whole-request
		// error.
		sw.advance()
		if sw.err != nil {
			if errors.Is(sw.err, syncstore.ErrUnknown) {
				return errCond(http.StatusForbidden, "valid-sync-token", sw.err)
			}
			return sw.err
		}
	}
	pf := &propfind{propCtx: propCtx{h: h, ctx: ctx, now: h.now()}, kind: davxml.Prop, limit: sw.limit}
	pf.names = make([]props.Name, len(body.Props))
	for i, n := range body.Props {
		pf.names[i] = props.Name{Space: n.Space, Local: n.Local}
		if n.Space == nsDAV && n.Local == "lockdiscovery" {
			pf.wantLD = true
		}
	}
	pf.noLocks = h.lockFree(ctx)
	pf.readsAll = h.allowAll || h.reader != nil && h.reader.ReadsAll(principal)
	pf.m = multistatus.New(w)
	sw.pf = pf
	id, err := h.sync.Save(ctx, key, func(yield func(syncstore.Entry) bool) {
		sw.keep = yield
		if sw.walk(p, "") {
			// What is left of the snapshot is gone now (§3.5.2).
			for sw.has && !sw.stopped {
				sw.removed(sw.old)
				sw.advance()
			}
		}
	})
	if err == nil && sw.err != nil {
		err = sw.err
	}
	m := pf.m
	if err != nil {
		// The 207 may be under way: the failure is the request-URI's own response, and no
		// token is given, so the client keeps its old one.
		if code := StatusOf(err); code >= 500 {
			h.log.Error("sync-collection", "path", p.String(), "err", err)
		}
		m.Buf = multistatus.AppendStatusResponse(m.Buf[:0], h.href(p, true), StatusOf(err), "", nil)
		m.Write(m.Buf)
		return m.Close()
	}
	b := m.Buf[:0]
	// §3.6: a truncated result says 507 on the request-URI, with RFC 5323's
	// number-of-matches-within-limits, and the token covers only what was reported: the client
	// asks again with it for the rest.
	if sw.truncated {
		b = multistatus.AppendStatusResponse(b, h.href(p, true), http.StatusInsufficientStorage, "number-of-matches-within-limits", nil)
	}
	b = append(b, "<D:sync-token>"...)
	b = davxml.EscapeText(b, syncTokenPrefix+id)
	b = append(b, "</D:sync-token>"...)
	m.Buf = b
	m.Write(b)
	return m.Close()
}

// syncWalk is the merge of one REPORT's walk with the snapshot of its token.
type syncWalk struct {
	h        *Handler
	ctx      context.Context
	pf       *propfind
	root     davpath.Path
	infinite bool
	// next pulls the old snapshot (nil for an initial sync); old is its current entry when has.
	next func() (syncstore.Entry, error, bool)
	old  syncstore.Entry
	has  bool
	// keep hands an entry to the new snapshot; stopped once it refused one.
	keep    func(syncstore.Entry) bool
	stopped bool
	// reported counts the changes written; past limit the rest are left out (truncated) and
	// the new snapshot keeps their old state, so that the next REPORT reports them.
	reported, limit int
	truncated       bool
	err             error
}

// advance moves to the next entry of the old snapshot.
func (sw *syncWalk) advance() {
	sw.has = false
	if sw.next == nil || sw.err != nil {
		return
	}
	e, err, ok := sw.next()
	switch {
	case !ok:
	case err != nil:
		sw.err = err
	default:
		sw.old, sw.has = e, true
	}
}

// put hands e to the new snapshot.
func (sw *syncWalk) put(e syncstore.Entry) {
	if !sw.stopped && !sw.keep(e) {
		sw.stopped = true
	}
}

// room reports whether one more change may be reported, and counts it.
func (sw *syncWalk) room() bool {
	if sw.reported >= sw.limit {
		sw.truncated = true
		return false
	}
	sw.reported++
	return true
}

// removed reports the old entry e gone (§3.5.2: a response with the href and a 404 status, no
// propstat), or, past the limit, keeps it in the new snapshot.
func (sw *syncWalk) removed(e syncstore.Entry) {
	if !sw.room() {
		sw.put(e)
		return
	}
	m := sw.pf.m
	m.Buf = multistatus.AppendStatusResponse(m.Buf[:0], sw.h.href(sw.root.Join(e.Path), e.Dir), http.StatusNotFound, "", nil)
	m.Write(m.Buf)
}

// walk visits the members of collection d (rel is d relative to the request-URI, "" for it)
// and, at sync-level infinite, below. It reports false when the walk must stop.
func (sw *syncWalk) walk(d davpath.Path, rel string) bool {
	ms, err := sw.h.syncMembers(sw.ctx, d, sw.pf.readsAll)
	if err != nil {
		sw.err = err
		return false
	}
	for i := range ms {
		mb := &ms[i]
		if sw.stopped || sw.err != nil || sw.pf.m.Err() != nil || sw.ctx.Err() != nil {
			if sw.err == nil {
				sw.err = sw.ctx.Err()
			}
			return false
		}
		e := syncstore.Entry{Path: mb.info.Name, Dir: mb.info.IsDir, Tag: mb.tag}
		if rel != "" {
			e.Path = rel + "/" + e.Path
		}
		for sw.has && syncstore.Compare(sw.old.Path, e.Path) < 0 {
			sw.removed(sw.old)
			sw.advance()
		}
		q := d.Join(mb.info.Name)
		switch {
		case sw.has && sw.old.Path == e.Path && sw.old.Tag == e.Tag && sw.old.Dir == e.Dir:
			sw.put(e) // unchanged
			sw.advance()
		case sw.has && sw.old.Path == e.Path:
			sw.changed(e, &sw.old, q, mb)
			sw.advance()
		default:
			sw.changed(e, nil, q, mb)
		}
		// §3.3: sync-level infinite reports members at any depth; below a symbolic link the
		// walk does not go (it may lead back to an ancestor), as in PROPFIND.
		if sw.infinite && mb.info.IsDir && !mb.info.Link {
			if !sw.walk(q, e.Path) {
				return false
			}
		}
	}
	return true
}

// changed reports a new or changed member with the requested properties (§3.5.1), or, past
// the limit, keeps its old state (old, nil for a new member) in the new snapshot.
func (sw *syncWalk) changed(e syncstore.Entry, old *syncstore.Entry, q davpath.Path, mb *syncMember) {
	if !sw.room() {
		if old != nil {
			sw.put(*old)
		}
		return
	}
	sw.put(e)
	sw.pf.entry(&resource{p: q, info: mb.info, dead: mb.dead})
}
