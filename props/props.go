// Package props defines the dead-property seam (RFC 4918 §4, §9.2): the Store that keeps the
// properties clients set with PROPPATCH, keyed by canonical path. Nothing here knows HTTP.
//
// A Store may also offer Journal (this file), which the engine finds by a type assertion.
// Apply and Limits (patch.go) are the PROPPATCH rules every Store shares.
package props

import (
	"context"
	"errors"

	"github.com/davd/davd/davpath"
)

// Name is a property's expanded name.
type Name struct {
	Space string // namespace URI ("" for none)
	Local string
}

// Property is one dead property. Value is the property element's content as raw XML that is
// namespace-self-contained: every prefix used inside it is declared inside it (the davxml
// decoder re-declares the prefixes in scope), so it can be written back verbatim under any
// parent. Lang is the xml:lang in scope on the property element, or "".
type Property struct {
	Name  Name
	Lang  string
	Value []byte
}

// Op is one PROPPATCH instruction. Remove ops carry only Name.
type Op struct {
	Remove bool
	Prop   Property
}

// Store keeps dead properties. Implementations must make Patch atomic (all ops or none) and
// durable once it returns, and must make Copy/Move/Delete cover the whole subtree under the
// given path.
//
// Errors: ErrTooLarge (507 with the property's status), anything else is a 500.
type Store interface {
	// Get returns the dead properties of p (nil when there are none).
	Get(ctx context.Context, p davpath.Path) ([]Property, error)
	// GetDir returns the dead properties of every direct member of the collection dir, keyed by
	// member name, in one call (a Depth: 1 PROPFIND does not do one lookup per member). Members
	// without properties are absent from the map.
	GetDir(ctx context.Context, dir davpath.Path) (map[string][]Property, error)
	// Patch applies ops to p in order, all or nothing (RFC 4918 §9.2).
	Patch(ctx context.Context, p davpath.Path, ops []Op) error
	// Copy replaces the properties of dst and everything below it with copies of those of src
	// and everything below it (depth 0: src alone).
	Copy(ctx context.Context, src, dst davpath.Path, recursive bool) error
	// Move replaces the properties of dst and below with those of src and below, removing them
	// from src.
	Move(ctx context.Context, src, dst davpath.Path) error
	// Delete removes the properties of p and everything below it.
	Delete(ctx context.Context, p davpath.Path) error
}

// Errors of a Store.
var (
	// ErrTooLarge means a value or the total per resource exceeds the store's limit.
	ErrTooLarge = errors.New("props: property too large")
)

// IntentKind names a namespace change recorded in a Journal.
type IntentKind uint8

// Kinds of intent.
const (
	IntentMove IntentKind = iota + 1
	IntentDelete
)

// Intent is a namespace change about to be made in the storage.
type Intent struct {
	Kind     IntentKind
	Src, Dst davpath.Path // Dst only for IntentMove
}

// Journal is implemented by persistent stores so that a crash between the storage change and the
// property change never leaves a property attached to the wrong resource (ARCHITECTURE.md,
// "Embedded store and crash consistency").
type Journal interface {
	// Intend durably records in before the storage is changed. The returned complete function
	// is called after the storage change: with applied true it performs the matching Move or
	// Delete of properties and clears the record in one transaction; with applied false it only
	// clears the record.
	Intend(ctx context.Context, in Intent) (complete func(applied bool) error, err error)
	// Recover replays records left by a crash, at start-up, before any request is served.
	// exists reports whether a path exists in the storage. A move whose destination exists and
	// whose source does not is applied; a delete removes the properties of every path under
	// the source that no longer exists; every other record is dropped.
	Recover(ctx context.Context, exists func(davpath.Path) bool) error
}
