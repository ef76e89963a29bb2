package sharelink

import (
	"context"
	"io"
	"iter"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// subFS is the sub-tree base of a storage seen as a whole tree: the view a link's engine serves.
// It offers the Backend methods only; the engine's fast paths (rename, server-side copy) are
// writes that no link allows anyway. Symbolic links are not its business: the link's policy
// checks where each path leads (see policy).
type subFS struct {
	b    storage.Backend
	base davpath.Path
}

func (s subFS) in(p davpath.Path) davpath.Path {
	if s.base.IsRoot() {
		return p
	}
	return p.Rebase(davpath.Root, s.base)
}

func (s subFS) Stat(ctx context.Context, p davpath.Path) (storage.Info, error) {
	info, err := s.b.Stat(ctx, s.in(p))
	if p.IsRoot() {
		info.Name = ""
	}
	return info, err
}

func (s subFS) List(ctx context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	return s.b.List(ctx, s.in(p))
}

func (s subFS) Open(ctx context.Context, p davpath.Path) (storage.File, storage.Info, error) {
	f, info, err := s.b.Open(ctx, s.in(p))
	if p.IsRoot() {
		info.Name = ""
	}
	return f, info, err
}

func (s subFS) Put(ctx context.Context, p davpath.Path, r io.Reader, opt storage.PutOptions) (bool, storage.Info, error) {
	return s.b.Put(ctx, s.in(p), r, opt)
}

func (s subFS) Mkcol(ctx context.Context, p davpath.Path) error { return s.b.Mkcol(ctx, s.in(p)) }

func (s subFS) Remove(ctx context.Context, p davpath.Path) error { return s.b.Remove(ctx, s.in(p)) }
