package storage

import (
	"context"
	"sync"
)

// Request memo.
//
// A backend that answers from a remote, linearizable store (cluster mode's etcd) pays a round
// trip for every question a request asks it, and one read can answer several of them: the read
// that resolves a PROPFIND's target can also tell the store's revision (ListVersion) and the
// size of the lock table (lock.Counter). The engine therefore gives a read-only request a memo
// in its context (WithMemo); a backend that understands it leaves there what its first read
// told, and the backends shared by the request answer their later questions from it instead
// of reading again. What the memo holds is what a linearizable read made after the request
// began returned, so answering from it keeps every promise a fresh read would: a change
// acknowledged before the request began is in it.
//
// The engine does not look inside a memo, and backends that know nothing of it ignore it.
// It lives in this seam, which the lock seam's backends import too, because the backends of
// both seams read it. The engine gives one to PROPFIND, which writes nothing, and to PUT,
// whose questions before its one write (the target's properties, the lock count, the lock
// check) one read can answer. A backend that writes with a context that carries one empties
// it (Memo.Store(nil)): what was read before a write does not describe the store after it.

// memoKey is the context key of the memo.
type memoKey struct{}

// Memo holds one value a backend left for the rest of the request. It is safe for
// concurrent use.
type Memo struct {
	mu sync.Mutex
	v  any
}

// WithMemo returns a context that carries a new, empty Memo.
func WithMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &Memo{})
}

// MemoOf returns the Memo of ctx, or nil when the request has none.
func MemoOf(ctx context.Context) *Memo {
	m, _ := ctx.Value(memoKey{}).(*Memo)
	return m
}

// Load returns the value stored, or nil; a nil Memo holds nothing.
func (m *Memo) Load() any {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v
}

// Store replaces the value (nil empties the memo); on a nil Memo it does nothing.
func (m *Memo) Store(v any) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.v = v
	m.mu.Unlock()
}

// CompareAndStore stores v only if the memo holds old (compared with ==), and reports whether
// it did; on a nil Memo it does nothing and reports false.
func (m *Memo) CompareAndStore(old, v any) bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.v != old {
		return false
	}
	m.v = v
	return true
}
