package dav

import (
	"context"
	"errors"
	"io/fs"
	"net/http"

	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
)

// Error is the engine's one typed error: an HTTP status, an optional RFC 4918 §16 condition
// element (the local name in the DAV: namespace, e.g. "lock-token-submitted") with hrefs, and the
// cause, which is logged but never shown to the client.
type Error struct {
	Status int
	Cond   string
	Hrefs  []string
	Err    error
	// Location is the target of a redirect (a 3xx of a redirect reference, RFC 4437 §5),
	// sent as the Location and Redirect-Ref headers.
	Location string
}

// Error returns the status text and the cause, for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return http.StatusText(e.Status) + ": " + e.Err.Error()
	}
	return http.StatusText(e.Status)
}

// Unwrap returns the cause, so errors.Is sees through an *Error to a seam's sentinel.
func (e *Error) Unwrap() error { return e.Err }

// errStatus builds an *Error.
func errStatus(code int, cause error) *Error { return &Error{Status: code, Err: cause} }

// errCond builds an *Error carrying a precondition element.
func errCond(code int, cond string, cause error, hrefs ...string) *Error {
	return &Error{Status: code, Cond: cond, Err: cause, Hrefs: hrefs}
}

// condOf is the RFC 4918 §16 precondition element that goes with err, and its hrefs: an *Error's
// own, or for a write that did not fit, RFC 4331 §6's DAV:quota-not-exceeded (a quota) or
// DAV:sufficient-disk-space (the disk itself is full).
func condOf(err error) (string, []string) {
	var de *Error
	switch {
	case errors.As(err, &de) && de.Cond != "":
		return de.Cond, de.Hrefs
	case errors.Is(err, storage.ErrQuotaExceeded):
		return "quota-not-exceeded", nil
	case errors.Is(err, storage.ErrInsufficientStorage):
		return "sufficient-disk-space", nil
	}
	return "", nil
}

// StatusOf maps any error from the seams to an HTTP status. It is the only place where storage,
// lock, props and parser errors become status codes. The order matters: an *Error states its
// status itself and wins; among the sentinels the more specific come first, since a backend may
// wrap one in another (a missing parent is also "not exist").
func StatusOf(err error) int {
	var de *Error
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &de):
		return de.Status
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	// §9.7.1, §9.3.1: a missing or non-collection parent is 409, not 404: the resource could
	// exist once the client makes the intermediate collections.
	case errors.Is(err, storage.ErrParentMissing), errors.Is(err, storage.ErrNotDir),
		errors.Is(err, storage.ErrNotEmpty):
		return http.StatusConflict
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrExist), errors.Is(err, storage.ErrIsDir):
		return http.StatusMethodNotAllowed
	case errors.Is(err, fs.ErrPermission), errors.Is(err, lock.ErrNotOwner):
		return http.StatusForbidden
	case errors.Is(err, storage.ErrInsufficientStorage), errors.Is(err, storage.ErrQuotaExceeded),
		errors.Is(err, props.ErrTooLarge):
		return http.StatusInsufficientStorage
	case errors.Is(err, storage.ErrShortBody), errors.Is(err, davxml.ErrMalformed),
		errors.Is(err, davpath.ErrInvalid), errors.Is(err, davpath.ErrTraversal):
		return http.StatusBadRequest
	// §9.8.5, §9.9.4: 502 is the status for a destination this server cannot write to.
	case errors.Is(err, storage.ErrCrossDevice):
		return http.StatusBadGateway
	case errors.Is(err, davxml.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	// Well-formed XML that is not what the method takes (an unknown propfind child, a lockinfo
	// without lockscope) is 422 (§11.2); malformed XML stays 400 above.
	case errors.Is(err, davxml.ErrInvalid):
		return http.StatusUnprocessableEntity
	case errors.Is(err, davpath.ErrTooLong):
		return http.StatusRequestURITooLong
	// A path outside the prefix names nothing this handler serves; saying more would tell what
	// sits beside it.
	case errors.Is(err, davpath.ErrOutside):
		return http.StatusNotFound
	case errors.Is(err, lock.ErrLocked):
		return http.StatusLocked
	case errors.Is(err, lock.ErrNoSuchLock):
		return http.StatusConflict
	// Both pass: a lock table at its cap frees up as locks expire, and an outage of a cluster
	// backend ends; 503 tells clients to retry rather than to give up.
	case errors.Is(err, lock.ErrTooManyLocks), errors.Is(err, storage.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away or the request timed out; nobody reads this status.
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
