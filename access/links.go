package access

import (
	"context"

	"github.com/davd/davd/davpath"
)

// Resolver tells where a path leads in a storage with symbolic links: the location reached once
// the links on its way, the last segment's included, are followed, or where the path would be
// created if it does not exist yet. A path without links resolves to itself. An error means the
// path cannot be resolved safely (a link leaving the tree, a loop); access is then refused.
// storage/osfs implements it.
type Resolver interface {
	Resolve(ctx context.Context, p davpath.Path) (davpath.Path, error)
}

// ThroughLinks returns r for a storage whose paths may be symbolic links that res resolves.
// The rules are then checked twice: on the path the engine asks about, and on the location it
// leads to, and both must allow the op. So a link inside an allowed tree that points into a
// denied one (pub/link -> ../secret) is refused as its target would be, for every op: reading
// or writing through it, but also removing, moving, locking or changing the properties of the
// link itself, since the storage follows a final link for some of those (SetModTime, COPY's
// source) and the rule is simplest to state, and to audit, as "a link is worth its target".
// Members of recursive walks are asked about one by one, so a link met as a member is hidden
// from listings and refused to DELETE, COPY and MOVE like any denied member.
//
// Principals whose rules cannot be crossed (none besides the scope's root, or all granting the
// same permission) pay nothing: their paths are not resolved. When no principal has rules that
// can be crossed, ThroughLinks returns r itself.
func (r *Rules) ThroughLinks(res Resolver) Policy {
	cross := map[string]bool{}
	for name, u := range r.users {
		if u.Crossable() {
			cross[name] = true
		}
	}
	if len(cross) == 0 {
		return r
	}
	return &linkRules{r: r, res: res, cross: cross}
}

// Crossable reports whether two paths of u's view can have different permissions, so that a
// link from one to the other could carry the principal across a rule: only then does
// ThroughLinks resolve the principal's paths.
func (u UserRules) Crossable() bool {
	def := u.Perm(davpath.Root) // a rule for "/" is the default of everything
	for _, x := range u.Rules {
		if x.Perm != def {
			return true
		}
	}
	return false
}

// linkRules is Rules checked on both the requested and the resolved path.
type linkRules struct {
	r     *Rules
	res   Resolver
	cross map[string]bool // principals whose rules a link could cross
}

// Allow implements Policy.
func (l *linkRules) Allow(ctx context.Context, principal string, op Op, p davpath.Path) bool {
	u, ok := l.r.users[principal]
	if !ok || !u.Perm(p).allows(op) {
		return false
	}
	if !l.cross[principal] {
		return true
	}
	q, err := l.res.Resolve(ctx, p)
	if err != nil {
		return false
	}
	return q == p || u.Perm(q).allows(op)
}

// ReadsAll implements WholeReader. A principal whose paths are resolved never reads all: a link
// that leaves the tree, or loops, cannot be resolved and is refused (hidden from listings).
func (l *linkRules) ReadsAll(principal string) bool {
	return !l.cross[principal] && l.r.ReadsAll(principal)
}

var (
	_ Policy      = (*linkRules)(nil)
	_ WholeReader = (*linkRules)(nil)
)
