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
		if code >= 500 {
			h.log.Error("member failed", "path", f.p.String(), "err", f.err)
		}
		var cond string
		var hrefs []string
		var de *Error
		if errors.As(f.err, &de) {
			cond, hrefs = de.Cond, de.Hrefs
		}
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
	if err := checkHTTPConds(r, true, info); err != nil {
		return err
	}
	c, err := h.checkIf(ctx, r, p)
	if err != nil {
		return err
	}
	g, err := h.confirm(ctx, c, lock.Target{Path: p, Recursive: info.IsDir}, lock.Target{Path: p.Parent()})
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
	if !h.lockFree() || len(r.Header.Values("If")) > 0 || hasHTTPConds(r) || r.Header.Get("Depth") != "" || !h.allowAll {
		return false, nil
	}
	ctx := r.Context()
	// A lock may appear meanwhile: hold the resource and its parent as the full path does.
	g, err := h.confirm(ctx, &conds{}, lock.Target{Path: p, Recursive: true}, lock.Target{Path: p.Parent()})
	if err != nil {
		return false, nil
	}
	defer g.done()
	err = h.fs.Remove(ctx, p)
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
	if err := h.fs.Remove(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		*fails = append(*fails, failure{p: p, dir: dir, err: err})
		return false
	}
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
			if !h.access.Allow(ctx, access.Principal(ctx), op, q) {
				if out == nil {
					out = map[davpath.Path]bool{}
				}
				out[q] = true
				continue
			}
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
	depth, err := parseDepth(r, depthInfinity)
	if err != nil || depth == 1 || (move && depth != depthInfinity) {
		return errStatus(http.StatusBadRequest, errors.New("bad Depth for COPY/MOVE"))
	}
	overwrite := true
	switch strings.ToUpper(strings.TrimSpace(r.Header.Get("Overwrite"))) {
	case "", "T":
	case "F":
		overwrite = false
	default:
		return errStatus(http.StatusBadRequest, errors.New("bad Overwrite header"))
	}
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
	if dexists && !overwrite {
		return errStatus(http.StatusPreconditionFailed, errors.New("destination exists and Overwrite is F"))
	}
	if pi, err := h.fs.Stat(ctx, dst.Parent()); err != nil || !pi.IsDir {
		return errStatus(http.StatusConflict, storage.ErrParentMissing)
	}
	if err := checkHTTPConds(r, true, sinfo); err != nil {
		return err
	}
	c, err := h.checkIf(ctx, r, p, dst)
	if err != nil {
		return err
	}
	targets := []lock.Target{{Path: dst, Recursive: dexists}, {Path: dst.Parent()}}
	if move {
		targets = append(targets, lock.Target{Path: p, Recursive: true}, lock.Target{Path: p.Parent()})
	}
	g, err := h.confirm(ctx, c, targets...)
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
