package scope

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// Storage returns b confined to base. The result offers the optional fast paths of storage
// (Renamer, Copier, TreeRemover, Quota) whatever b offers, answering the way the engine falls
// back when b lacks one; it is a storage.MtimeSetter exactly when b is.
func Storage(b storage.Backend, base davpath.Path) storage.Backend {
	if base.IsRoot() {
		return b
	}
	s := &fsys{b: b, m: Mapper{Base: base}}
	if _, ok := b.(storage.MtimeSetter); ok {
		return &fsysMtime{s}
	}
	return s
}

type fsys struct {
	b storage.Backend
	m Mapper
}

// fsysMtime adds SetModTime when the wrapped backend has it.
type fsysMtime struct{ *fsys }

// Compile-time interface guards.
var (
	_ storage.Backend     = (*fsys)(nil)
	_ storage.Renamer     = (*fsys)(nil)
	_ storage.Copier      = (*fsys)(nil)
	_ storage.TreeRemover = (*fsys)(nil)
	_ storage.Quota       = (*fsys)(nil)
	_ storage.MtimeSetter = (*fsysMtime)(nil)
)

// errNoFastPath makes the engine walk the tree itself (TreeRemover's contract).
var errNoFastPath = errors.New("scope: backend has no fast path")

func (s *fsys) Stat(ctx context.Context, p davpath.Path) (storage.Info, error) {
	info, err := s.b.Stat(ctx, s.m.In(p))
	if err == nil && p.IsRoot() {
		// The scope's root is the principal's root: it has no name.
		info.Name = ""
	}
	return info, err
}

func (s *fsys) List(ctx context.Context, p davpath.Path) iter.Seq2[storage.Info, error] {
	return s.b.List(ctx, s.m.In(p))
}

func (s *fsys) Open(ctx context.Context, p davpath.Path) (storage.File, storage.Info, error) {
	return s.b.Open(ctx, s.m.In(p))
}

func (s *fsys) Put(ctx context.Context, p davpath.Path, r io.Reader, opt storage.PutOptions) (bool, storage.Info, error) {
	return s.b.Put(ctx, s.m.In(p), r, opt)
}

func (s *fsys) Mkcol(ctx context.Context, p davpath.Path) error {
	return s.b.Mkcol(ctx, s.m.In(p))
}

func (s *fsys) Remove(ctx context.Context, p davpath.Path) error {
	return s.b.Remove(ctx, s.m.In(p))
}

func (s *fsys) Rename(ctx context.Context, src, dst davpath.Path) error {
	if rn, ok := s.b.(storage.Renamer); ok {
		return rn.Rename(ctx, s.m.In(src), s.m.In(dst))
	}
	return storage.ErrCrossDevice
}

func (s *fsys) CopyFile(ctx context.Context, src, dst davpath.Path) error {
	if cp, ok := s.b.(storage.Copier); ok {
		return cp.CopyFile(ctx, s.m.In(src), s.m.In(dst))
	}
	f, info, err := s.Open(ctx, src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, err = s.Put(ctx, dst, f, storage.PutOptions{Size: info.Size})
	return err
}

func (s *fsys) RemoveAll(ctx context.Context, p davpath.Path) error {
	if tr, ok := s.b.(storage.TreeRemover); ok {
		return tr.RemoveAll(ctx, s.m.In(p))
	}
	return errNoFastPath
}

func (s *fsys) Quota(ctx context.Context, p davpath.Path) (int64, int64, error) {
	if q, ok := s.b.(storage.Quota); ok {
		return q.Quota(ctx, s.m.In(p))
	}
	return 0, 0, errNoFastPath
}

func (s *fsysMtime) SetModTime(ctx context.Context, p davpath.Path, t time.Time) error {
	return s.b.(storage.MtimeSetter).SetModTime(ctx, s.m.In(p), t)
}
