package cluster

import (
	"context"

	"github.com/davd/davd/storage"
)

// Snapshot is what the first etcd read of a request told, left in the request's memo
// (storage.WithMemo) so that the storage and the lock manager answer the request's later
// questions without another round trip: ListVersion from Rev, the lock count from Locks.
//
// Every field is of one read, made after the request began and linearizable: a change any
// node acknowledged before the request began is counted in it, so answering from it keeps
// read-your-writes across nodes (docs/cluster.md, "What is promised").
type Snapshot struct {
	// Rev is the etcd revision the read was served at.
	Rev int64
	// LockPrefix is the lock table counted in the same read (LockPrefix of the cluster's
	// prefix), "" when the read counted none; Locks is the number of its keys at Rev.
	LockPrefix string
	Locks      int64
}

// LockPrefix is the prefix of the lock table's keys (lock/etcdlock) under the cluster's
// prefix: the storage counts it in the read that resolves a path, for the lock manager.
func LockPrefix(prefix string) string { return prefix + "l/" }

// SnapshotOf returns the snapshot left in ctx's memo, if any.
func SnapshotOf(ctx context.Context) (Snapshot, bool) {
	s, ok := storage.MemoOf(ctx).Load().(Snapshot)
	return s, ok
}

// WantSnapshot reports whether ctx carries an empty memo: the next read should count the lock
// table too, and Remember what it saw.
func WantSnapshot(ctx context.Context) bool {
	m := storage.MemoOf(ctx)
	return m != nil && m.Load() == nil
}

// Remember leaves s in ctx's memo unless the memo already holds a snapshot (the first read of
// the request wins, so every answer from the memo is of one revision). Without a memo it does
// nothing.
func Remember(ctx context.Context, s Snapshot) {
	storage.MemoOf(ctx).CompareAndStore(nil, s)
}

// Forget empties ctx's memo: a write makes what was read before it stale for the rest of the
// request.
func Forget(ctx context.Context) {
	storage.MemoOf(ctx).Store(nil)
}
