// Package scope confines a principal to a sub-tree of the served tree, for the two seams whose
// state is shared by every principal: props.Store and lock.Manager. The engine sees the sub-tree
// as the whole tree: the principal's "/" is Base in the wrapped seam.
//
// Content is not wrapped here. For content on local disk the server opens a second osfs rooted at
// the scope's directory, so that os.Root also refuses symbolic links leaving the scope (a
// path-prefixing wrapper cannot see links); a backend without a local root (the cluster store)
// offers its own sub-tree view.
//
// The engine itself is unchanged and never learns about scopes: it parses, checks access and
// walks in the principal's view, and every path crosses into the shared seams through In.
// Locks live in one shared manager underneath, so a lock taken by one user conflicts with the
// writes of every other user whose scope overlaps it. Lock roots and conflict roots that come
// back out are mapped into the principal's view; a lock rooted above the scope (an infinite
// lock on an ancestor, taken by a user with a wider scope) is shown rooted at the scope's "/",
// the nearest resource the principal can name, and a lock outside the scope is invisible.
package scope

import (
	"github.com/davd/davd/davpath"
)

// Mapper translates paths between a principal's view and the served tree.
type Mapper struct {
	// Base is the scope's root in the served tree.
	Base davpath.Path
}

// In maps a path of the principal's view to the served tree.
func (m Mapper) In(p davpath.Path) davpath.Path {
	if m.Base.IsRoot() {
		return p
	}
	return p.Rebase(davpath.Root, m.Base)
}

// Out maps a path of the served tree to the principal's view. A path above the scope maps to
// the view's root with above set; a path beside it is not visible (ok false).
func (m Mapper) Out(q davpath.Path) (p davpath.Path, above, ok bool) {
	if m.Base.IsRoot() {
		return q, false, true
	}
	if m.Base.Contains(q) {
		return q.Rebase(m.Base, davpath.Root), false, true
	}
	if q.Contains(m.Base) {
		return davpath.Root, true, true
	}
	return "", false, false
}
