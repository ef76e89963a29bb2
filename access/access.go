// Package access is davd's authorization seam: a Policy decides whether a principal may read or
// write a canonical path. The dav engine asks it for the request URI, the Destination and every
// member of a recursive DELETE/COPY/MOVE/PROPFIND, always with the same davpath.Path the storage
// sees. Where the storage follows symbolic links, that path may lead elsewhere in the tree:
// Rules.ThroughLinks then checks the rules on the location it leads to as well. It also carries
// the authenticated principal through a request's context.
package access

import (
	"context"

	"github.com/davd/davd/davpath"
)

// Op is the kind of access a request needs.
type Op uint8

// Kinds of access.
const (
	Read  Op = iota + 1 // GET, HEAD, PROPFIND, OPTIONS, the source of COPY
	Write               // everything that changes content, namespace, properties or locks
)

// Policy decides access. Implementations are safe for concurrent use and fast: a PROPFIND asks
// once per listed member.
type Policy interface {
	Allow(ctx context.Context, principal string, op Op, p davpath.Path) bool
}

// WholeReader is an optional Policy capability. ReadsAll reports whether Allow(ctx, principal,
// Read, p) is true for every path p, whatever the tree holds (its links included). What such a
// principal is shown then never depends on who it is: the dav engine skips the per-member checks
// of a listing for it and may answer its PROPFIND from the listing cache, which it must bypass
// for a principal from whom some members may be hidden. A policy that cannot tell returns false.
type WholeReader interface {
	ReadsAll(principal string) bool
}

// AllowAll is the policy of a server with no users configured (loopback only).
type AllowAll struct{}

// Allow always returns true.
func (AllowAll) Allow(context.Context, string, Op, davpath.Path) bool { return true }

// ReadsAll implements WholeReader: everyone reads everything.
func (AllowAll) ReadsAll(string) bool { return true }

type principalKey struct{}

// WithPrincipal returns a context carrying the authenticated principal's name.
func WithPrincipal(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, principalKey{}, name)
}

// Principal returns the principal carried by ctx, or "" when the request is anonymous.
func Principal(ctx context.Context) string {
	s, _ := ctx.Value(principalKey{}).(string)
	return s
}
