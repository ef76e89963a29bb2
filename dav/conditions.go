package dav

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/ifheader"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/storage"
)

// guard is what a write request holds while it changes things: the lock manager's release
// function (the lock check and the write are one critical section).
type guard struct{ release func() }

func (g guard) done() {
	if g.release != nil {
		g.release()
	}
}

// guardExisting checks a change of the existing resource p (described by info) that leaves
// its namespace alone (PROPPATCH, UPDATEREDIRECTREF): the HTTP conditionals, the If header,
// and the locks on p, which the guard holds until done.
func (h *Handler) guardExisting(ctx context.Context, r *http.Request, p davpath.Path, info storage.Info) (context.Context, guard, error) {
	if err := checkHTTPConds(r, true, info); err != nil {
		return ctx, guard{}, err
	}
	c, err := h.checkIf(ctx, r, p)
	if err != nil {
		return ctx, guard{}, err
	}
	return h.confirm(ctx, c, lock.Target{Path: p})
}

// conds is a parsed RFC 4918 §10.4 If header plus the HTTP/1.1 conditional headers.
type conds struct {
	ifh    ifheader.Header
	hasIf  bool
	tokens []string
	// statted memoizes the Stat of each resource the If header names: one header may test the
	// same resource's ETag in several lists, and each costs a storage call otherwise.
	statted map[davpath.Path]statResult
}

type statResult struct {
	info storage.Info
	err  error
}

// parseIf parses the If header; a malformed one is a 400 (§10.4).
func parseIf(r *http.Request) (*conds, error) {
	c := &conds{}
	v := r.Header.Values("If")
	if len(v) == 0 {
		return c, nil
	}
	// Several If field lines form one header (RFC 9110 §5.3); its lists are separated by white
	// space, so the lines are joined with a space.
	raw := strings.Join(v, " ")
	hd, err := ifheader.Parse(raw)
	if err != nil {
		// The leniency is tried only after a strict parse failed, so a well-formed header is never
		// rewritten.
		if fixed := bareTokens(raw); fixed != "" {
			hd, err = ifheader.Parse(fixed)
		}
	}
	if err != nil {
		return nil, errStatus(http.StatusBadRequest, err)
	}
	// Every token in the header counts as submitted for the lock check (RFC 4918 §10.4), whether or
	// not its list evaluated true.
	c.ifh, c.hasIf, c.tokens = hd, true, hd.Tokens()
	return c, nil
}

// checkIf parses the If header and evaluates it for a request that affects the resources in
// affected (the Request-URI first): 400 when malformed, 412 when false.
func (h *Handler) checkIf(ctx context.Context, r *http.Request, affected ...davpath.Path) (*conds, error) {
	c, err := parseIf(r)
	if err != nil {
		return nil, err
	}
	return c, h.check(ctx, r, c, affected...)
}

// check evaluates the If header (RFC 4918 §10.4) for a request that affects the resources in
// affected (the first one is the Request-URI). It returns a 412 when the header is false.
//
// Each list is evaluated against its tagged resource, or the Request-URI when untagged; the
// header is true when any list is. A tagged header none of whose tags names an affected resource
// is ignored (§10.4.3). State tokens are true when they name an active lock covering the
// resource; entity tags are compared with the resource's current ETag; unknown tokens are false;
// DAV:no-lock never matches (so "Not <DAV:no-lock>" is always true).
func (h *Handler) check(ctx context.Context, r *http.Request, c *conds, affected ...davpath.Path) error {
	if !c.hasIf {
		return nil
	}
	now := h.now()
	applicable := false
	for _, l := range c.ifh.Lists {
		res := affected[0]
		if l.Resource != "" {
			// A tag naming another server, or a path outside the prefix, cannot be one of ours: the
			// list is skipped.
			p, ok := h.tagPath(r, l.Resource)
			if !ok {
				continue
			}
			res = p
			for _, a := range affected {
				// A tag applies when it names an affected resource or one below it, e.g. a DELETE of a
				// collection tagged with the URL of its locked member.
				if a.Contains(p) {
					applicable = true
				}
			}
		} else {
			applicable = true
		}
		if h.evalList(ctx, c, res, l.Conditions, now) {
			return nil
		}
	}
	// §10.4.3: a header whose tags all name unaffected resources is ignored, not false.
	if !applicable {
		return nil
	}
	return errStatus(http.StatusPreconditionFailed, errors.New("if header evaluated to false"))
}

// tagPath turns a tagged list's resource URL into a canonical path, by the same rules as the
// Request-URI (davpath.Parse), so the two compare equal when they name the same resource.
func (h *Handler) tagPath(r *http.Request, tag string) (davpath.Path, bool) {
	u, err := url.Parse(tag)
	if err != nil {
		return "", false
	}
	if u.Host != "" && !h.sameHost(r, u.Host) {
		return "", false
	}
	p, err := davpath.Parse(u.EscapedPath(), h.prefix)
	return p, err == nil
}

// evalList reports whether every condition of one list holds for res (a list is a
// conjunction, §10.4). An entity tag of a resource that cannot be stat'ed never matches.
func (h *Handler) evalList(ctx context.Context, c *conds, res davpath.Path, cs []ifheader.Condition, now time.Time) bool {
	for _, cond := range cs {
		var match bool
		if cond.Token != "" {
			match = h.tokenCovers(ctx, cond.Token, res, now)
		} else {
			st := c.stat(ctx, h.fs, res)
			// Entity tags in the If header are compared weakly, so that a W/ ETag a client read back
			// still names the entity it read.
			match = st.err == nil && etagMatch(cond.ETag, st.info.ETag, false)
		}
		if match == cond.Not {
			return false
		}
	}
	return true
}

// tokenCovers reports whether token names a live lock whose scope covers res. It does not
// check the lock's owner: that is confirm's job, for the tokens actually used.
func (h *Handler) tokenCovers(ctx context.Context, token string, res davpath.Path, now time.Time) bool {
	if h.locks == nil || token == "DAV:no-lock" {
		return false
	}
	l, ok, err := h.locks.Lookup(ctx, now, token)
	return err == nil && ok && l.Covers(res)
}

// stat is fs.Stat of p, at most once per request (see conds.statted).
func (c *conds) stat(ctx context.Context, fs storage.Backend, p davpath.Path) statResult {
	if st, ok := c.statted[p]; ok {
		return st
	}
	info, err := fs.Stat(ctx, p)
	if c.statted == nil {
		c.statted = map[davpath.Path]statResult{}
	}
	c.statted[p] = statResult{info, err}
	return c.statted[p]
}

// confirm checks the locks of every target against the tokens submitted in the If header and
// holds them until the returned guard is done. A conflict is a 423 with lock-token-submitted
// naming the lock roots (RFC 4918 §16). The write must be made with the returned context: it
// carries the fence a manager shared with the storage may leave (lock.WithFenceSlot), so that
// the storage commits the write only while the confirmed locks still stand.
func (h *Handler) confirm(ctx context.Context, c *conds, targets ...lock.Target) (context.Context, guard, error) {
	if h.locks == nil {
		return ctx, guard{}, nil
	}
	ctx = lock.WithFenceSlot(ctx)
	rel, err := h.locks.Confirm(ctx, h.now(), lock.Submitted{Tokens: c.tokens, Principal: access.Principal(ctx)}, targets...)
	if err != nil {
		return ctx, guard{}, h.lockError(err)
	}
	return ctx, guard{release: rel}, nil
}

// lockError turns a lock conflict into 423 + lock-token-submitted with the roots' hrefs.
func (h *Handler) lockError(err error) error {
	var ce *lock.ConflictError
	if errors.As(err, &ce) {
		hrefs := make([]string, len(ce.Roots))
		for i, p := range ce.Roots {
			hrefs[i] = h.href(p, false)
		}
		return errCond(http.StatusLocked, "lock-token-submitted", err, hrefs...)
	}
	return err
}

// etagMatch compares entity tags; weak comparison ignores the W/ prefix (RFC 9110 §8.8.3.2).
func etagMatch(a, b string, strong bool) bool {
	if a == "" || b == "" {
		return false
	}
	if strong {
		return a == b && !strings.HasPrefix(a, "W/")
	}
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// checkHTTPConds evaluates If-Match, If-None-Match and If-Unmodified-Since (RFC 9110 §13) for a
// state-changing method. exists and info describe the target's current state.
func checkHTTPConds(r *http.Request, exists bool, info storage.Info) error {
	fail := errStatus(http.StatusPreconditionFailed, errors.New("conditional header failed"))
	if im := r.Header.Get("If-Match"); im != "" {
		if !exists {
			return fail
		}
		if strings.TrimSpace(im) != "*" && !listMatch(im, info.ETag, true) {
			return fail
		}
		// RFC 9110 §13.1.4: If-Unmodified-Since is ignored when If-Match is present; times are
		// compared to the second, the precision of an HTTP date.
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" && exists {
		if t, err := http.ParseTime(ius); err == nil && info.ModTime.Truncate(time.Second).After(t) {
			return fail
		}
	}
	// If-None-Match uses weak comparison (RFC 9110 §13.1.2); "*" fails for any existing resource,
	// which is how a client asks for a create-only PUT.
	if inm := r.Header.Get("If-None-Match"); inm != "" && exists {
		if strings.TrimSpace(inm) == "*" || listMatch(inm, info.ETag, false) {
			return fail
		}
	}
	return nil
}

// hasHTTPConds reports whether the request carries a conditional header checkHTTPConds reads.
func hasHTTPConds(r *http.Request) bool {
	h := r.Header
	return h.Get("If-Match") != "" || h.Get("If-None-Match") != "" || h.Get("If-Unmodified-Since") != ""
}

// lockFree reports whether the lock manager holds no lock at all: a lock.Counter somewhere in
// its Unwrap chain says 0 (cheap to ask of memlock, through scope's wrapper too; a manager on a
// shared store may answer from the request's memo, storage.WithMemo).
func (h *Handler) lockFree(ctx context.Context) bool {
	if h.locks == nil {
		return true
	}
	n, ok := lock.LenContext(ctx, h.locks)
	return ok && n == 0
}

// listMatch reports whether any entity tag of a comma-separated header list matches etag.
func listMatch(list, etag string, strong bool) bool {
	for _, t := range strings.Split(list, ",") {
		if etagMatch(strings.TrimSpace(t), etag, strong) {
			return true
		}
	}
	return false
}

// bareTokens wraps bare state tokens in angle brackets inside the lists of an If header that
// failed to parse, e.g. "(urn:uuid:x)" → "(<urn:uuid:x>)". Deliberate leniency: the Windows
// Mini-Redirector and the npm webdav client send tokens without brackets. It returns "" when
// nothing was changed.
func bareTokens(s string) string {
	var b strings.Builder
	changed, depth := false, 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 1 && c == '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return ""
			}
			b.WriteString(s[i : i+j+1])
			i += j + 1
			continue
		case depth == 1 && c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return ""
			}
			b.WriteString(s[i : i+j+1])
			i += j + 1
			continue
		case depth == 1 && c != ' ' && c != '\t':
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != ')' && s[j] != '(' {
				j++
			}
			word := s[i:j]
			// A bare word is taken for a token only when it has a scheme (urn:, opaquelocktoken:);
			// Not is the keyword.
			if strings.EqualFold(word, "Not") || !strings.Contains(word, ":") {
				b.WriteString(word)
			} else {
				b.WriteString("<" + word + ">")
				changed = true
			}
			i = j
			continue
		}
		b.WriteByte(c)
		i++
	}
	if !changed {
		return ""
	}
	return b.String()
}
