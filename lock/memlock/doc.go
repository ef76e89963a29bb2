// Package memlock is davd's implementation of lock.Manager: the in-memory lock table, its tree
// index, expiry, limits and the write-in-progress registry that makes Confirm and the write it
// guards one critical section against new LOCK requests.
//
// The table lives in memory; a lock.Persister (store/bolt provides one) makes it survive restarts by
// write-through: every change is written to the Persister inside the same critical section
// before the method returns, and New reloads the table.
//
// # Index
//
// Locks are indexed by token and by root path. Deciding which locks affect a target costs one
// map lookup per ancestor of the target (a lock on an ancestor applies when it has depth
// infinity, RFC 4918 §7: "a lock with depth infinity ... affects the resource and all its
// members"), plus, for recursive targets (DELETE or MOVE of a collection), a binary search in
// the sorted list of roots for the locks inside the target. With no locks at all, Confirm only
// registers the write in progress.
//
// # Writes in progress
//
// Confirm checks the locks and then records its targets until release is called. Create of a
// lock whose scope overlaps such a target waits (honouring its context) until the writes are
// released, then checks again; so no LOCK is granted in the middle of a write it should have
// prevented. Writes never wait for each other, and a steady stream of overlapping writes can
// delay a LOCK for as long as it lasts.
//
// # Expiry
//
// Every method takes now. Expired locks are removed lazily, when an operation meets them, and
// all at once when a limit is reached; the Persister is told in both cases.
package memlock
