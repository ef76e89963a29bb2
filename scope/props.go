package scope

import (
	"context"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
)

// Props returns s confined to base. The result is a props.Journal exactly when s is, so the
// engine keeps its crash-consistency records; Recover is run by the server on the unwrapped
// store and is refused here.
func Props(s props.Store, base davpath.Path) props.Store {
	if base.IsRoot() || s == nil {
		return s
	}
	p := &propStore{s: s, m: Mapper{Base: base}}
	if _, ok := s.(props.Journal); ok {
		return &propJournal{p}
	}
	return p
}

type propStore struct {
	s props.Store
	m Mapper
}

type propJournal struct{ *propStore }

// Compile-time interface guards.
var (
	_ props.Store   = (*propStore)(nil)
	_ props.Journal = (*propJournal)(nil)
)

func (s *propStore) Get(ctx context.Context, p davpath.Path) ([]props.Property, error) {
	return s.s.Get(ctx, s.m.In(p))
}

func (s *propStore) GetDir(ctx context.Context, dir davpath.Path) (map[string][]props.Property, error) {
	return s.s.GetDir(ctx, s.m.In(dir))
}

func (s *propStore) Patch(ctx context.Context, p davpath.Path, ops []props.Op) error {
	return s.s.Patch(ctx, s.m.In(p), ops)
}

func (s *propStore) Copy(ctx context.Context, src, dst davpath.Path, recursive bool) error {
	return s.s.Copy(ctx, s.m.In(src), s.m.In(dst), recursive)
}

func (s *propStore) Move(ctx context.Context, src, dst davpath.Path) error {
	return s.s.Move(ctx, s.m.In(src), s.m.In(dst))
}

func (s *propStore) Delete(ctx context.Context, p davpath.Path) error {
	return s.s.Delete(ctx, s.m.In(p))
}

func (s *propJournal) Intend(ctx context.Context, in props.Intent) (func(applied bool) error, error) {
	in.Src = s.m.In(in.Src)
	if in.Dst != "" {
		in.Dst = s.m.In(in.Dst)
	}
	return s.s.(props.Journal).Intend(ctx, in)
}

func (s *propJournal) Recover(context.Context, func(davpath.Path) bool) error {
	return errRecoverScoped
}
