package dav

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/storage"
)

// serveLock answers LOCK (RFC 4918 §9.10): creation (200, or 201 with an empty resource on an
// unmapped URL, §7.3) and refresh (a body-less LOCK naming the lock in its If header, §9.10.2).
//
// Deliberate leniency: a LOCK with a lockinfo body whose If header names a lock the principal
// holds on this resource is treated as a refresh (the npm "webdav" client sends that).
func (h *Handler) serveLock(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if err := h.allow(ctx, access.Write, p); err != nil {
		return err
	}
	// §9.10.3: a LOCK is Depth 0 or infinity (the default); Depth 1 has no meaning for a lock.
	depth, err := parseDepth(r, depthInfinity)
	if err != nil || depth == 1 {
		return errStatus(http.StatusBadRequest, errors.New("LOCK Depth must be 0 or infinity"))
	}
	timeout := h.parseTimeout(r.Header.Get("Timeout"))
	li, empty, err := davxml.ParseLockInfo(r.Body, h.xmlLim)
	if err != nil {
		return err
	}
	c, err := parseIf(r)
	if err != nil {
		return err
	}
	principal := access.Principal(ctx)
	now := h.now()
	// A refresh names its lock in the If header (§9.10.2). Each submitted token is tried, as an
	// If header may carry several lists. A lock held by someone else ends the search with a 403 rather than trying the rest.
	if empty || c.hasIf {
		for _, tok := range c.tokens {
			l, err := h.locks.Refresh(ctx, now, p, tok, principal, timeout)
			if err == nil {
				return h.writeLock(w, &l, http.StatusOK, false)
			}
			if errors.Is(err, lock.ErrNotOwner) {
				return err
			}
		}
		if empty {
			if !c.hasIf {
				return errStatus(http.StatusBadRequest, errors.New("LOCK refresh without If header"))
			}
			return errCond(http.StatusPreconditionFailed, "lock-token-matches-request-uri", errors.New("no lock to refresh"))
		}
	}
	// A new lock: the If header, if any, must hold as for any other method. Whether p exists
	// decides between 200 and 201 with an empty resource (§7.3), and a missing parent is a 409.
	if err := h.check(ctx, r, c, p); err != nil {
		return err
	}
	_, err = h.fs.Stat(ctx, p)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !exists {
		if err := h.parentCollection(ctx, p); err != nil { // §9.10.4
			return err
		}
	}
	ld := lock.DepthInfinity
	if depth == 0 {
		ld = lock.DepthZero
	}
	l, err := h.locks.Create(ctx, now, lock.Lock{
		Root: p, Depth: ld, Shared: li.Shared, Owner: li.Owner, Principal: principal, Timeout: timeout,
	})
	if err != nil {
		// §9.10.6 and §16: a conflict is 423 with no-conflicting-lock listing the roots of the
		// locks in the way, so the client can tell which lock stops it.
		var ce *lock.ConflictError
		if errors.As(err, &ce) {
			hrefs := make([]string, len(ce.Roots))
			for i, rp := range ce.Roots {
				hrefs[i] = h.href(rp, false)
			}
			return errCond(http.StatusLocked, "no-conflicting-lock", err, hrefs...)
		}
		return err
	}
	code := http.StatusOK
	if !exists {
		code = http.StatusCreated
		// The empty resource is made under the new lock. If that fails, the lock goes too: a
		// lock on nothing would only block the client's retry.
		if err := h.lockNull(r, c, p, l.Token); err != nil {
			h.locks.Unlock(ctx, now, p, l.Token, principal)
			return err
		}
	}
	return h.writeLock(w, &l, code, true)
}

// lockNull creates the empty resource a LOCK on an unmapped URL makes (RFC 4918 §7.3).
func (h *Handler) lockNull(r *http.Request, c *conds, p davpath.Path, token string) error {
	ctx := r.Context()
	c.tokens = append(c.tokens, token)
	ctx, g, err := h.confirm(ctx, c, lock.Target{Path: p}, lock.Target{Path: p.Parent()})
	if err != nil {
		return err
	}
	defer g.done()
	if _, _, err = h.fs.Put(ctx, p, bytes.NewReader(nil), storage.PutOptions{Size: 0}); err != nil {
		return err
	}
	// A redirect reference's property left by a resource removed outside davd must not make
	// the new empty resource one.
	if h.props != nil {
		if dead, err := h.props.Get(ctx, p); err == nil && findDead(dead, redirectProp.Space, redirectProp.Local) >= 0 {
			h.dropRef(ctx, p)
		}
	}
	return nil
}

// writeLock answers a successful LOCK with the lockdiscovery of the granted lock.
func (h *Handler) writeLock(w http.ResponseWriter, l *lock.Lock, code int, newToken bool) error {
	b := make([]byte, 0, 512)
	b = append(b, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+`<D:prop xmlns:D="DAV:"><D:lockdiscovery>`...)
	b = h.appendActiveLock(b, l, h.now())
	b = append(b, "</D:lockdiscovery></D:prop>\n"...)
	hd := w.Header()
	// §10.5: the Lock-Token header comes with a new lock only; a refresh answers the
	// lockdiscovery alone (the client already has the token).
	if newToken {
		hd.Set("Lock-Token", "<"+l.Token+">")
	}
	hd.Set("Content-Type", "application/xml; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, err := w.Write(b)
	return err
}

// parseTimeout reads the Timeout header (RFC 4918 §10.7): the first understood value of a
// comma-separated list of "Second-N" and "Infinite". Infinite, a missing header and a list of
// nothing understood are 0, an infinite request. The lock manager caps what it grants
// (lock.Limits.MaxTimeout): §10.7 lets the server choose, and the cap lives in one place.
func (h *Handler) parseTimeout(v string) time.Duration {
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if strings.EqualFold(t, "Infinite") {
			return 0
		}
		if len(t) > 7 && strings.EqualFold(t[:7], "Second-") {
			n, err := strconv.ParseUint(t[7:], 10, 32)
			if err != nil {
				continue
			}
			d := time.Duration(n) * time.Second
			if d <= 0 {
				d = time.Second // Second-0 would be an infinite request
			}
			return d
		}
	}
	return 0
}

// serveUnlock answers UNLOCK (RFC 4918 §9.11): 204, 409 with lock-token-matches-request-uri when
// the token is not a lock covering the Request-URI, 403 when the lock is another principal's.
//
// Deliberate leniency: a Lock-Token without angle brackets (Windows, npm webdav) is accepted.
func (h *Handler) serveUnlock(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	ctx := r.Context()
	if err := h.allow(ctx, access.Write, p); err != nil {
		return err
	}
	tok := strings.TrimSpace(r.Header.Get("Lock-Token"))
	tok = strings.TrimSuffix(strings.TrimPrefix(tok, "<"), ">")
	if tok == "" {
		return errStatus(http.StatusBadRequest, errors.New("UNLOCK without Lock-Token"))
	}
	// The lock manager checks that the token's lock covers p (§9.11: the Request-URI must be
	// within the lock's scope) and that the principal owns it.
	err := h.locks.Unlock(ctx, h.now(), p, tok, access.Principal(ctx))
	if errors.Is(err, lock.ErrNoSuchLock) {
		return errCond(http.StatusConflict, "lock-token-matches-request-uri", err)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// timeSetting is a modification time requested through PROPPATCH. Clients that mirror trees
// set it after an upload, each in its own dialect: rclone as DAV:lastmodified in Unix seconds,
// Windows as Win32LastModifiedTime in an HTTP date. Both become the file's mtime, which is what
// getlastmodified then reports.
type timeSetting struct {
	t   time.Time
	set bool
}

// parseUnix reads rclone's DAV:lastmodified value (Unix seconds).
func (ts *timeSetting) parseUnix(v []byte) bool {
	n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
	if err != nil || n < 0 {
		return false
	}
	ts.t, ts.set = time.Unix(n, 0), true
	return true
}

// parseHTTP reads a Win32LastModifiedTime value (an RFC 1123 date).
func (ts *timeSetting) parseHTTP(v []byte) {
	if t, err := http.ParseTime(strings.TrimSpace(string(v))); err == nil {
		ts.t, ts.set = t, true
	}
}
