// Package storage defines the content-and-namespace seam of davd: the Backend interface every
// store implements (local disk, memory, later S3), the Info it reports, and the error vocabulary
// the dav engine maps to HTTP statuses. Nothing here knows HTTP.
//
// Everything a backend may offer beyond Backend is declared in this file: the fast paths Renamer,
// Copier, TreeCopier and TreeRemover, and Quota, MtimeSetter and ListVersioner. The engine finds
// them by a type assertion on the Backend it was given; each takes paths, so a wrapper that maps
// paths must implement (and map) every one it means to keep.
package storage

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/davd/davd/davpath"
)

// Info describes one resource. Backends fill every field in Stat and List, so a listing never has
// to re-stat its children.
type Info struct {
	// Name is the last path segment ("" for the root).
	Name string
	// Size is the content length in bytes (0 for collections).
	Size int64
	// ModTime is the last modification time.
	ModTime time.Time
	// Created is the creation time when the backend knows it, else the zero time.
	Created time.Time
	// IsDir reports a collection.
	IsDir bool
	// ETag is a strong entity tag, quotes included, that changes on every write of the content.
	// Collections may leave it empty.
	ETag string
	// Link reports a member reached through a symbolic link inside the root. The Info describes
	// the link's target, but tree walks (DELETE, COPY, MOVE, PROPFIND Depth: infinity) must not
	// descend through it: it may lead back to an ancestor or into another tree.
	Link bool
}

// File is an open resource for reading. Local-disk backends return a File that implements
// syscall.Conn (as *os.File does), so that net/http can use sendfile(2).
type File interface {
	io.ReadSeekCloser
}

// PutOptions tunes one Put.
type PutOptions struct {
	// ModTime, when non-zero, is set as the new content's modification time (X-OC-Mtime).
	ModTime time.Time
	// Size is the expected length, or -1 when unknown (chunked bodies). A body of a different
	// length fails with ErrShortBody and leaves the old content in place.
	Size int64
}

// Backend stores content and the namespace. Paths are canonical (davpath); a backend never
// sees "..", empty segments or a NUL byte. Every method honours ctx cancellation.
//
// Errors: fs.ErrNotExist (404; 409 when the parent is missing on a write, reported as
// ErrParentMissing), fs.ErrExist (405 on MKCOL), ErrIsDir / ErrNotDir (405/409), ErrNotEmpty,
// fs.ErrPermission (403), ErrInsufficientStorage and ErrQuotaExceeded (507), ErrShortBody (400). Anything else is a
// 500 whose text the client never sees.
type Backend interface {
	// Stat describes the resource at p.
	Stat(ctx context.Context, p davpath.Path) (Info, error)
	// List yields the members of the collection p with full Info, in no particular order.
	// A member that cannot be described is skipped (and may be reported through the error of
	// the sequence, which ends it). Temporary files of in-progress PUTs are never listed.
	List(ctx context.Context, p davpath.Path) iter.Seq2[Info, error]
	// Open opens the non-collection resource p for reading.
	Open(ctx context.Context, p davpath.Path) (File, Info, error)
	// Put atomically creates or replaces the non-collection resource p with the contents of r:
	// readers see either the old or the new content, never a mix; a failed Put leaves the old
	// content intact. It reports whether p was created.
	Put(ctx context.Context, p davpath.Path, r io.Reader, opt PutOptions) (created bool, info Info, err error)
	// Mkcol creates the collection p. fs.ErrExist if anything is at p; ErrParentMissing if the
	// parent does not exist or is not a collection.
	Mkcol(ctx context.Context, p davpath.Path) error
	// Remove removes the resource p, which must be a non-collection or an empty collection.
	Remove(ctx context.Context, p davpath.Path) error
}

// Renamer is the fast path for MOVE. Rename replaces dst if it is a non-collection or an empty
// collection (the engine removes a non-empty dst first); it fails with ErrCrossDevice when the
// backend cannot rename between the two places, and the engine falls back to copy + delete.
type Renamer interface {
	Rename(ctx context.Context, src, dst davpath.Path) error
}

// Copier is the fast path for COPY of one non-collection resource (copy_file_range, reflink).
// It replaces dst atomically like Put.
type Copier interface {
	CopyFile(ctx context.Context, src, dst davpath.Path) error
}

// TreeRemover is the fast path for DELETE of a whole collection. It returns nil only when
// everything is gone; on a failure the engine walks the tree itself to report each member.
type TreeRemover interface {
	RemoveAll(ctx context.Context, p davpath.Path) error
}

// Quota is implemented by backends that can report RFC 4331 figures for p.
type Quota interface {
	Quota(ctx context.Context, p davpath.Path) (available, used int64, err error)
}

// MtimeSetter is implemented by backends that can set a resource's modification time
// (Win32LastModifiedTime, X-OC-Mtime on COPY/MOVE).
type MtimeSetter interface {
	SetModTime(ctx context.Context, p davpath.Path, t time.Time) error
}

// Error vocabulary shared by all backends, in addition to the io/fs sentinels.
var (
	ErrParentMissing       = errors.New("storage: parent collection missing")
	ErrIsDir               = errors.New("storage: is a collection")
	ErrNotDir              = errors.New("storage: not a collection")
	ErrNotEmpty            = errors.New("storage: collection not empty")
	ErrInsufficientStorage = errors.New("storage: insufficient storage")
	// ErrQuotaExceeded: the write would take a tree past its quota (RFC 4331 §6: 507 with
	// DAV:quota-not-exceeded); nothing was changed. ErrInsufficientStorage is the disk itself
	// being full (DAV:sufficient-disk-space).
	ErrQuotaExceeded = errors.New("storage: quota exceeded")
	ErrShortBody     = errors.New("storage: body shorter or longer than announced")
	ErrCrossDevice   = errors.New("storage: cannot rename across devices")
	// ErrUnavailable: a service the backend depends on (etcd, S3 in cluster mode) does not
	// answer; the request may succeed when retried later (503 with Retry-After). Nothing was
	// changed, or the change is cleaned up by the backend.
	ErrUnavailable = errors.New("storage: backend temporarily unavailable")
)

// ListVersioner is implemented by backends that can tell cheaply whether the listing of a
// collection may have changed, by any means, including changes made outside the server. The dav
// engine uses it to reuse a rendered PROPFIND Depth: 1 response; a backend that cannot vouch
// for p returns ok false, and nothing is cached.
type ListVersioner interface {
	// ListVersion returns a value that differs from every earlier value returned for p
	// whenever p itself, its membership or the Info of any member may have changed since.
	// A change that completed before the call is always reflected in the value it returns;
	// with a memo in ctx (WithMemo), a change that completed before the request began: the
	// value may then be that of the request's first read of the backend.
	ListVersion(ctx context.Context, p davpath.Path) (v uint64, ok bool)
}

// TreeCopier is the fast path for COPY of a whole collection: it copies src and everything below
// it to dst, which must not exist (its parent must). It returns nil only when everything was
// copied; on any error, or when it meets something it will not copy itself (a symbolic link),
// it returns an error and the engine removes dst and copies member by member, reporting each
// failure. Content may be visible in dst before the call returns.
type TreeCopier interface {
	CopyTree(ctx context.Context, src, dst davpath.Path) error
}
