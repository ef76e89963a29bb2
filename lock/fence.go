package lock

import (
	"context"
	"sync"
)

// Fencing.
//
// A lock manager shared by several machines cannot make Confirm and the write it guards one
// critical section with a mutex: between the check and the commit of the write, the node may
// stall (a pause, a partition) while the lock expires and another client locks the resource
// and writes. A Manager that shares its engine with the storage (the etcd manager and the
// etcd namespace) therefore hands the storage a fence with each confirmed write: the storage
// commits the write only if, in the same transaction, the locks the fence names are as they
// were at Confirm, and otherwise asks the fence to check again, which fails with a
// *ConflictError once another lock has been granted.
//
// The engine does not look inside a fence. It carries it from Confirm to the storage in the
// request's context: WithFenceSlot before Confirm, the same context for the write. Managers
// and storages that know nothing of fences ignore the slot.

// fenceKey is the context key of the slot.
type fenceKey struct{}

// fenceSlot holds the fences a Manager set during one request (a MOVE confirms once, but a
// slot must not break if it is set twice: the last one is kept).
type fenceSlot struct {
	mu sync.Mutex
	f  any
}

// WithFenceSlot returns a context in which a Manager's Confirm can leave a fence for the
// storage (SetFence), and the storage find it (FenceOf).
func WithFenceSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, fenceKey{}, &fenceSlot{})
}

// SetFence leaves f in ctx's slot; it reports false when ctx has none (the caller did not
// ask for fencing).
func SetFence(ctx context.Context, f any) bool {
	s, ok := ctx.Value(fenceKey{}).(*fenceSlot)
	if !ok {
		return false
	}
	s.mu.Lock()
	s.f = f
	s.mu.Unlock()
	return true
}

// FenceOf returns the fence a Manager left in ctx, or nil.
func FenceOf(ctx context.Context) any {
	s, ok := ctx.Value(fenceKey{}).(*fenceSlot)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}
