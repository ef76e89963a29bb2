package dav

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/multistatus"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
)

// failure is one member of a tree operation that could not be processed; it becomes a
// <D:response> in a 207 (RFC 4918 §9.6.1, §9.8.8, §9.9.4: only failing members are listed).
type failure struct {
	p   davpath.Path
	dir bool
	err error
}

// writeFailures answers a tree operation whose members partly failed.
func (h *Handler) writeFailures(w http.ResponseWriter, fails []failure) error {
	m := multistatus.New(w)
	for _, f := range fails {
		code := StatusOf(f.err)
		// Only server-side failures are logged: a 4xx member (locked, forbidden) is the client's
		// business and is already in the body.
		if code >= 500 {
			h.log.Error("member failed", "path", f.p.String(), "err", f.err)
		}
		// A precondition (RFC 4918 §16) travels with its member as a <D:error>, e.g.
		// lock-token-submitted with the href of the lock's root, or quota-not-exceeded for a
		// member of a COPY that did not fit (RFC 4331 §6).
		cond, hrefs := condOf(f.err)
		m.Buf = multistatus.AppendStatusResponse(m.Buf[:0], h.href(f.p, f.dir), code, cond, hrefs)
		m.Write(m.Buf)
	}
	return m.Close()
}

// lockedMembers turns a lock conflict on a recursive target whose conflicting roots all lie
// strictly inside it into per-member failures (a 207 with 423 for each locked member, nothing
// else touched); any other error is returned as is.
func (h *Handler) lockedMembers(err error, root davpath.Path) ([]failure, error) {
	var ce *lock.ConflictError
	var de *Error
	if !errors.As(err, &de) || !errors.As(err, &ce) {
		return nil, err
	}
	var fails []failure
	for _, lr := range ce.Roots {
		// A lock on the target itself or above it blocks the whole request: that stays one 423 with
		// its precondition, not a 207 of members.
		if lr == root || !root.Contains(lr) {
			return nil, err
		}
		fails = append(fails, failure{p: lr, err: errCond(http.StatusLocked, "lock-token-submitted", err, h.href(lr, false))})
	}
	return fails, nil
}

// serveDelete answers DELETE (RFC 4918 §9.6): files and whole trees; 204 when everything is
// gone, a 207 listing only the members that could not be deleted otherwise.
func (h *Handler) serveDelete(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if err := h.allow(ctx, access.Write, p); err != nil {
		return err
	}
	if p.IsRoot() {
		return errStatus(http.StatusForbidden, errors.New("DELETE of the root"))
	}
	// The common case first: one file with nothing to check costs one storage call.
	if done, err := h.deletePlain(w, r, p); done || err != nil {
		return err
	}
	info, err := h.fs.Stat(ctx, p)
	if err != nil {
		return err
	}
	if info.IsDir {
		// §9.6.1: DELETE on a collection acts as if Depth: infinity; any other value is an error.
		if d, err := parseDepth(r, depthInfinity); err != nil || d != depthInfinity {
			return errStatus(http.StatusBadRequest, errors.New("DELETE Depth must be infinity"))
		}
	}
	// HTTP conditional headers (RFC 9110 §13) apply to the target as a whole; the WebDAV If
	// header (RFC 4918 §10.4) follows, both before anything is touched.
	if err := checkHTTPConds(r, true, info); err != nil {
		return err
	}
	c, err := h.checkIf(ctx, r, p)
	if err != nil {
		return err
	}
	// Removing a resource changes its parent's membership, so a lock on the parent needs its
	// token too (RFC 4918 §7.4); a collection is held with everything below it.
	ctx, g, err := h.confirm(ctx, c, lock.Target{Path: p, Recursive: info.IsDir}, lock.Target{Path: p.Parent()})
	if err != nil {
		fails, err := h.lockedMembers(err, p)
		if err != nil {
			return err
		}
		return h.writeFailures(w, fails)
	}
	defer g.done()
	fails, err := h.removeTree(ctx, p, info)
	if err != nil {
		return err
	}
	if len(fails) > 0 {
		return h.writeFailures(w, fails)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deletePlain is the common DELETE of one file (or empty collection) with no If header, no
// conditional header, no Depth and no lock anywhere: one storage call, no Stat first. It
// reports done false when p is a collection with members, for the full path to handle.
func (h *Handler) deletePlain(w http.ResponseWriter, r *http.Request, p davpath.Path) (bool, error) {
	// Each of these needs the Stat first (conditions, the Depth of a collection) or a check of
	// every member against the policy, which one storage call cannot give.
	if !h.lockFree(r.Context()) || len(r.Header.Values("If")) > 0 || hasHTTPConds(r) || r.Header.Get("Depth") != "" || !h.allowAll {
		return false, nil
	}
	ctx := r.Context()
	// A lock may appear meanwhile: hold the resource and its parent as the full path does.
	ctx, g, err := h.confirm(ctx, &conds{}, lock.Target{Path: p, Recursive: true}, lock.Target{Path: p.Parent()})
	if err != nil {
		return false, nil
	}
	defer g.done()
	err = h.fs.Remove(ctx, p)
	// A collection with members needs the walk and its per-member 207: the storage refuses
	// rather than removing a tree here.
	if errors.Is(err, storage.ErrNotEmpty) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if err := h.dropState(ctx, p); err != nil {
		return true, err
	}
	w.WriteHeader(http.StatusNoContent)
	return true, nil
}

// removeTree deletes p and everything below it with its dead properties and locks. An error is
// returned when p itself could not be touched at all; member failures are returned as a list.
func (h *Handler) removeTree(ctx context.Context, p davpath.Path, info storage.Info) ([]failure, error) {
	if !info.IsDir || info.Link {
		if err := h.fs.Remove(ctx, p); err != nil {
			return nil, err
		}
		return nil, h.dropState(ctx, p)
	}
	var complete func(bool) error
	if h.journal != nil {
		var err error
		// With a journal (props.Journal) the intent is durable before the first member goes, so that
		// a crash midway never leaves properties on a path that is gone.
		if complete, err = h.journal.Intend(ctx, props.Intent{Kind: props.IntentDelete, Src: p}); err != nil {
			return nil, err
		}
	}
	finish := func(fails []failure) ([]failure, error) {
		if complete != nil {
			// The journal removes the properties of every path under p that is gone.
			if err := complete(len(fails) == 0); err != nil {
				return fails, err
			}
			if len(fails) == 0 {
				return nil, h.dropLocks(ctx, p)
			}
		} else if len(fails) == 0 {
			return nil, h.dropState(ctx, p)
		}
		return fails, nil
	}
	// A storage that removes a tree in one call (storage.TreeRemover) cannot say which member
	// failed, so it is used only when the policy refuses nothing below p; when it fails, the walk
	// starts over and reports each member that cannot go.
	denied := h.denied(ctx, access.Write, p)
	if tr, ok := h.fs.(storage.TreeRemover); ok && len(denied) == 0 {
		if err := tr.RemoveAll(ctx, p); err == nil {
			return finish(nil)
		}
	}
	var fails []failure
	h.deleteWalk(ctx, p, true, denied, &fails)
	return finish(fails)
}

// deleteWalk removes p bottom-up, reporting the members that fail; a collection whose members
// failed is left in place and not reported (its failure follows from theirs).
func (h *Handler) deleteWalk(ctx context.Context, p davpath.Path, dir bool, denied map[davpath.Path]bool, fails *[]failure) bool {
	// A refused member is reported (403) and its ancestors are kept: RFC 4918 §9.6.1, none of
	// the ancestors of a member that cannot be deleted may be deleted.
	if denied[p] {
		*fails = append(*fails, failure{p: p, dir: dir, err: errStatus(http.StatusForbidden, nil)})
		return false
	}
	if dir {
		ok := true
		var kids []storage.Info
		for e, err := range h.fs.List(ctx, p) {
			if err != nil {
				*fails = append(*fails, failure{p: p, dir: true, err: err})
				return false
			}
			kids = append(kids, e)
		}
		for _, e := range kids {
			// A link is removed itself, never walked through (storage.Info.Link).
			if !h.deleteWalk(ctx, p.Join(e.Name), e.IsDir && !e.Link, denied, fails) {
				ok = false
			}
		}
		if !ok {
			return false
		}
	}
	// Gone already (a concurrent DELETE, a change from outside) is what was asked for.
	if err := h.fs.Remove(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		*fails = append(*fails, failure{p: p, dir: dir, err: err})
		return false
	}
	// With a journal the properties go when the intent completes (removeTree). Without one, a
	// failure here only leaves unreachable properties behind: logged, not reported to the client,
	// whose resource is gone.
	if h.journal == nil && h.props != nil {
		if err := h.props.Delete(ctx, p); err != nil {
			h.log.Error("props delete", "path", p.String(), "err", err)
		}
	}
	return true
}

// denied walks the tree under p and returns the members the access policy refuses for op
// (nil when the policy allows everything, without walking).
func (h *Handler) denied(ctx context.Context, op access.Op, p davpath.Path) map[davpath.Path]bool {
	if h.allowAll {
		return nil
	}
	var out map[davpath.Path]bool
	var walk func(davpath.Path)
	walk = func(d davpath.Path) {
		for e, err := range h.fs.List(ctx, d) {
			if err != nil {
				return
			}
			q := d.Join(e.Name)
			// A refused member is not walked into: its refusal already stops the operation there.
			if !h.access.Allow(ctx, access.Principal(ctx), op, q) {
				if out == nil {
					out = map[davpath.Path]bool{}
				}
				out[q] = true
				continue
			}
			// A link is not followed: what it leads to is not part of this tree.
			if e.IsDir && !e.Link {
				walk(q)
			}
		}
	}
	walk(p)
	return out
}

// dropState removes the dead properties and the locks of p and below after p is gone.
func (h *Handler) dropState(ctx context.Context, p davpath.Path) error {
	if h.props != nil {
		if err := h.props.Delete(ctx, p); err != nil {
			return err
		}
	}
	return h.dropLocks(ctx, p)
}

// dropLocks removes locks rooted at or below p once the resources are gone (RFC 4918 §7.4: a
// lock lives with its resource).
func (h *Handler) dropLocks(ctx context.Context, p davpath.Path) error {
	if h.locks == nil {
		return nil
	}
	return h.locks.Drop(ctx, h.now(), p)
}

// serveCopyMove answers COPY (RFC 4918 §9.8) and MOVE (§9.9).
func (h *Handler) serveCopyMove(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	move := r.Method == "MOVE"
	dst, err := h.parseDestination(r)
	if err != nil {
		return err
	}
	// COPY takes Depth 0 or infinity (RFC 4918 §9.8.3: 1 is not defined); MOVE acts as infinity
	// and any other value is an error (§9.9.2).
	depth, err := parseDepth(r, depthInfinity)
	if err != nil || depth == 1 || (move && depth != depthInfinity) {
		return errStatus(http.StatusBadRequest, errors.New("bad Depth for COPY/MOVE"))
	}
	overwrite := true
	// §10.6: absent means T; anything but T or F is a malformed request.
	switch strings.ToUpper(strings.TrimSpace(r.Header.Get("Overwrite"))) {
	case "", "T":
	case "F":
		overwrite = false
	default:
		return errStatus(http.StatusBadRequest, errors.New("bad Overwrite header"))
	}
	// COPY only reads the source; MOVE removes it, so it needs write access there as well.
	srcOp := access.Read
	if move {
		srcOp = access.Write
	}
	if err := h.allow(ctx, srcOp, p); err != nil {
		return err
	}
	if err := h.allow(ctx, access.Write, dst); err != nil {
		return err
	}
	// §9.8.5: 403 when source and destination are the same resource.
	if p == dst {
		return errStatus(http.StatusForbidden, errors.New("source and destination are the same"))
	}
	if move && p.IsRoot() {
		return errStatus(http.StatusForbidden, errors.New("MOVE of the root"))
	}
	sinfo, err := h.fs.Stat(ctx, p)
	if err != nil {
		return err
	}
	// A destination inside a collection source: a MOVE or an infinite COPY would walk into its
	// own copy, while a Depth 0 COPY creates only the empty collection and may. A destination
	// above the source is always refused: the overwrite would delete the source first.
	if sinfo.IsDir && (p.Contains(dst) || dst.Contains(p)) && (move || depth != 0 || dst.Contains(p)) {
		return errStatus(http.StatusForbidden, errors.New("destination inside the source"))
	}
	if !sinfo.IsDir && dst.Contains(p) {
		return errStatus(http.StatusForbidden, errors.New("destination is an ancestor of the source"))
	}
	dinfo, err := h.fs.Stat(ctx, dst)
	dexists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// §9.8.4, §9.9.3: Overwrite F on an existing destination is 412, before anything is touched.
	if dexists && !overwrite {
		return errStatus(http.StatusPreconditionFailed, errors.New("destination exists and Overwrite is F"))
	}
	// §9.8.5: 409 when the destination's parent does not exist; intermediate collections are
	// never created.
	if err := h.parentCollection(ctx, dst); err != nil {
		return err
	}
	if err := checkHTTPConds(r, true, sinfo); err != nil {
		return err
	}
	c, err := h.checkIf(ctx, r, p, dst)
	if err != nil {
		return err
	}
	// The locks to honour: the destination (with everything below it when it is overwritten) and
	// its parent, whose membership changes; for MOVE also the source tree and its parent, since
	// the source is removed.
	targets := []lock.Target{{Path: dst, Recursive: dexists}, {Path: dst.Parent()}}
	if move {
		targets = append(targets, lock.Target{Path: p, Recursive: true}, lock.Target{Path: p.Parent()})
	}
	ctx, g, err := h.confirm(ctx, c, targets...)
	if err != nil {
		return err
	}
	defer g.done()

	// Overwrite: T deletes the destination first (§9.8.4, §9.9.3), except when a file replaces a
	// file: then the storage replaces it atomically and nothing is ever missing.
	if dexists && (dinfo.IsDir || sinfo.IsDir) {
		fails, err := h.removeTree(ctx, dst, dinfo)
		if err != nil {
			return err
		}
		if len(fails) > 0 {
			return h.writeFailures(w, fails)
		}
	}
	var fails []failure
	if move {
		fails, err = h.moveTree(ctx, p, dst, sinfo)
	} else {
		fails, err = h.copyTree(ctx, p, dst, sinfo, depth)
	}
	if err != nil {
		return err
	}
	// ownCloud-style clients (rclone) send X-OC-Mtime to keep the source's time; "accepted" tells
	// them it was applied, so they need not set it again.
	if mt, ok := ocMtime(r); ok && len(fails) == 0 {
		if ms, ok := h.fs.(storage.MtimeSetter); ok {
			if err := ms.SetModTime(ctx, dst, mt); err == nil {
				w.Header().Set("X-OC-Mtime", "accepted")
			}
		}
	}
	if len(fails) > 0 {
		return h.writeFailures(w, fails)
	}
	// §9.8.5, §9.9.4: 204 when an existing destination was overwritten, 201 with a Location
	// when it is new.
	if dexists {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	w.Header().Set("Location", h.href(dst, sinfo.IsDir))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// moveTree renames src to dst with its dead properties; locks stay behind and are dropped with
// the source (§9.9.4: locks are not moved). It falls back to copy + delete when the storage
// cannot rename.
func (h *Handler) moveTree(ctx context.Context, src, dst davpath.Path, info storage.Info) ([]failure, error) {
	// A rename moves everything at once, so the members the principal may not write are found
	// first; then nothing is moved and each of them is reported.
	if info.IsDir && !h.allowAll {
		var fails []failure
		for q := range h.denied(ctx, access.Write, src) {
			fails = append(fails, failure{p: q, err: errStatus(http.StatusForbidden, nil)})
		}
		if len(fails) > 0 {
			return fails, nil
		}
	}
	if rn, ok := h.fs.(storage.Renamer); ok {
		var complete func(bool) error
		if h.journal != nil {
			var err error
			if complete, err = h.journal.Intend(ctx, props.Intent{Kind: props.IntentMove, Src: src, Dst: dst}); err != nil {
				return nil, err
			}
		}
		// The journal's intent, when there is one, lets recovery finish the properties' move if the
		// process dies right after the rename.
		err := rn.Rename(ctx, src, dst)
		if complete != nil {
			if cerr := complete(err == nil); cerr != nil && err == nil {
				err = cerr
			}
		} else if err == nil && h.props != nil {
			err = h.props.Move(ctx, src, dst)
		}
		if err == nil {
			return nil, h.dropLocks(ctx, src)
		}
		// Only a rename the storage cannot do at all (another device) falls back to copy + delete.
		if !errors.Is(err, storage.ErrCrossDevice) {
			return nil, err
		}
	}
	fails, err := h.copyTree(ctx, src, dst, info, depthInfinity)
	if err != nil || len(fails) > 0 {
		return fails, err
	}
	return h.removeTree(ctx, src, info)
}

// copyTree copies src to dst (depth 0 or infinity) with dead properties; locks are not copied
// (§9.8.2). Failing members are reported by destination href.
func (h *Handler) copyTree(ctx context.Context, src, dst davpath.Path, info storage.Info, depth int) ([]failure, error) {
	if !info.IsDir {
		if h.props != nil {
			// Drop the properties of a resource being overwritten first, so a crash between
			// the content copy and the property copy never leaves them on the new content.
			if err := h.props.Delete(ctx, dst); err != nil {
				return nil, err
			}
		}
		if err := h.copyFile(ctx, src, dst); err != nil {
			return nil, err
		}
		if h.props != nil {
			return nil, h.props.Copy(ctx, src, dst, false)
		}
		return nil, nil
	}
	// A storage that copies a tree in one call (storage.TreeCopier) is used when no member can
	// be refused; it names no failing member, so when it fails the partial copy is removed and
	// the walk below does it again, reporting each failure.
	if tc, ok := h.fs.(storage.TreeCopier); ok && depth != 0 && h.allowAll {
		if err := tc.CopyTree(ctx, src, dst); err == nil {
			if h.props != nil {
				return nil, h.props.Copy(ctx, src, dst, true)
			}
			return nil, nil
		}
		// Start over member by member, so that every failure is reported.
		if di, err := h.fs.Stat(ctx, dst); err == nil {
			if fails, err := h.removeTree(ctx, dst, di); err != nil || len(fails) > 0 {
				return fails, err
			}
		}
	}
	// The collection itself is copied even at Depth 0, without its members (§9.8.3); its dead
	// properties come with it below.
	if err := h.fs.Mkcol(ctx, dst); err != nil {
		return nil, err
	}
	var fails []failure
	if depth != 0 {
		h.copyWalk(ctx, src, dst, &fails)
	}
	if h.props != nil {
		if err := h.props.Copy(ctx, src, dst, depth != 0); err != nil {
			return fails, err
		}
		for _, f := range fails {
			// Properties of members that were not copied must not wait for a future resource.
			h.props.Delete(ctx, f.p)
		}
	}
	return fails, nil
}

// copyWalk copies the members of src into the collection dst, depth first. A member that
// fails is appended to fails and does not stop its siblings: the 207 lists only failures.
func (h *Handler) copyWalk(ctx context.Context, src, dst davpath.Path, fails *[]failure) {
	var kids []storage.Info
	for e, err := range h.fs.List(ctx, src) {
		if err != nil {
			*fails = append(*fails, failure{p: dst, dir: true, err: err})
			return
		}
		kids = append(kids, e)
	}
	for _, e := range kids {
		s, d := src.Join(e.Name), dst.Join(e.Name)
		// Each member needs read access at its source and write access at its destination; a
		// refused one is reported and its subtree skipped.
		if !h.allowAll && (!h.access.Allow(ctx, access.Principal(ctx), access.Read, s) ||
			!h.access.Allow(ctx, access.Principal(ctx), access.Write, d)) {
			*fails = append(*fails, failure{p: d, dir: e.IsDir, err: errStatus(http.StatusForbidden, nil)})
			continue
		}
		if e.IsDir && e.Link {
			// A linked collection may lead back to an ancestor: not copied (RFC 5842 §7.2).
			*fails = append(*fails, failure{p: d, dir: true, err: errStatus(http.StatusLoopDetected, nil)})
			continue
		}
		if e.IsDir {
			if err := h.fs.Mkcol(ctx, d); err != nil {
				*fails = append(*fails, failure{p: d, dir: true, err: err})
				continue
			}
			h.copyWalk(ctx, s, d, fails)
		} else if err := h.copyFile(ctx, s, d); err != nil {
			*fails = append(*fails, failure{p: d, err: err})
		}
	}
}

// copyFile copies one file's content: inside the storage when it can (storage.Copier: a
// reflink, a server-side copy), else streamed through Open and Put with the size known.
func (h *Handler) copyFile(ctx context.Context, src, dst davpath.Path) error {
	if cp, ok := h.fs.(storage.Copier); ok {
		return cp.CopyFile(ctx, src, dst)
	}
	f, info, err := h.fs.Open(ctx, src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, err = h.fs.Put(ctx, dst, f, storage.PutOptions{Size: info.Size})
	return err
}

// parentCollection checks that p's parent is a collection: a missing parent or one that is not
// a collection is a 409 (RFC 4918 §9.8.5, §9.10.4); a storage that cannot tell (an outage)
// answers with its own error (503), not a 409 a client would take as final.
func (h *Handler) parentCollection(ctx context.Context, p davpath.Path) error {
	pi, err := h.fs.Stat(ctx, p.Parent())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err != nil || !pi.IsDir {
		return errStatus(http.StatusConflict, storage.ErrParentMissing)
	}
	return nil
}
