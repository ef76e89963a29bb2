package cluster

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/lock"
	"github.com/davd/davd/storage"
)

// Fence is what the etcd lock manager leaves in a request's context (lock.SetFence) when it
// confirms a write: the conditions that the locks able to affect the write's targets are as
// they were at Confirm. The etcd storage and property store add them to the transaction that
// commits the write, so that a write confirmed before a lock expired and another was granted
// can never land (fencing; see package lock).
type Fence interface {
	// Conds are the transaction's compares: no lock that could affect the targets was created
	// or changed since the revision the fence stands for.
	Conds() []clientv3.Cmp
	// Renew checks the confirmed locks again, after a transaction whose Conds failed: nil when
	// the write is still allowed (Conds then stand for the new revision), a *lock.ConflictError
	// when a lock the request did not submit now affects it.
	Renew(ctx context.Context) error
}

// FenceOf returns the Fence in ctx, or nil.
func FenceOf(ctx context.Context) Fence {
	f, _ := lock.FenceOf(ctx).(Fence)
	return f
}

// renewals bounds the Renew of one commit: every one follows a lock change affecting the
// write's targets.
const renewals = 16

// Commit runs one transaction of conds and ops under the fence of ctx, if any. ok is false
// when conds failed (the caller reads again); an error is a conflicting lock (the fence
// failed and Renew refused), or storage.ErrUnavailable.
func (c *Conn) Commit(ctx context.Context, conds []clientv3.Cmp, ops ...clientv3.Op) (bool, error) {
	return Commit(ctx, c.Etcd, c.Timeout, conds, ops...)
}

// Commit is Conn.Commit for a client of its own, each attempt bounded by timeout.
func Commit(ctx context.Context, cli *clientv3.Client, timeout time.Duration, conds []clientv3.Cmp, ops ...clientv3.Op) (bool, error) {
	defer Forget(ctx) // what the request read before the write no longer stands
	fence := FenceOf(ctx)
	for range renewals {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		txn := cli.Txn(cctx)
		var fc []clientv3.Cmp
		if fence != nil {
			fc = fence.Conds()
			// The else branch tells the fence apart from the caller's own conditions without
			// another round trip: a nested transaction whose only part is its compares.
			txn = txn.If(append(conds[:len(conds):len(conds)], fc...)...).Then(ops...).Else(clientv3.OpTxn(fc, nil, nil))
		} else {
			txn = txn.If(conds...).Then(ops...)
		}
		resp, err := txn.Commit()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, fmt.Errorf("%w: %v", storage.ErrUnavailable, err)
		}
		if resp.Succeeded {
			return true, nil
		}
		if fence == nil || len(resp.Responses) == 0 || resp.Responses[0].GetResponseTxn().GetSucceeded() {
			return false, nil // the fence held: the caller's conditions failed
		}
		if err := fence.Renew(ctx); err != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("%w: %d lock changes in a row during one write", storage.ErrUnavailable, renewals)
}
