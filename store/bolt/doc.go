// Package bolt is davd's embedded persistent store: dead properties, the crash-consistency
// journal, the lock table and the sync-token snapshots, in one bbolt file kept outside the
// served tree.
//
// # Layout
//
// The file holds five buckets:
//
//   - "props": one key per resource with dead properties. The key is the parent path, a NUL
//     byte and the base name ("/a/b" is "/a\x00b", "/a" is "/\x00a", the root is "\x00"). NUL
//     never occurs in a davpath.Path, so the direct members of a collection are exactly the
//     keys with the prefix dir+"\x00": GetDir is one prefix scan, whose cost depends on the
//     members that have properties, not on the size of the collection. The subtree of p is
//     p's own key plus the prefixes p+"\x00" (its members) and p+"/" (deeper); a plain prefix
//     scan of p would also catch siblings such as "/a-b", "/a.b" or "/ab", whose keys sort
//     between those of "/a\x00" and "/a/".
//   - "intents": the props.Journal records, keyed by a big-endian sequence number.
//   - "locks": the lock table of lock/memlock, keyed by token (see LockPersister).
//   - "sync": the sync-token snapshots (Sync, a syncstore.Store): one bucket per key (level,
//     principal, collection) with an index of the kept snapshots, oldest first, and one bucket
//     of entries per snapshot, keyed by a big-endian sequence number. A snapshot is written in
//     batches and listed in the index only when complete; Open removes the unlisted ones a
//     crash left behind.
//   - "meta": the format version.
//
// Values start with a format version byte (see encode.go), so the encoding can evolve.
//
// # Crash consistency
//
// Properties are keyed by path, and the storage (the disk) is a separate system, so a rename or
// delete in the storage and the matching Move or Delete of properties cannot be one
// transaction. The engine brackets the storage change with Journal.Intend and the returned
// complete function; Recover, run at start-up, finishes or drops what a crash interrupted
// (ARCHITECTURE.md, "Embedded store and crash consistency"). A test kills a child process with
// SIGKILL in the middle of real renames and deletes to check it.
//
// # Durability
//
// Every write is one bbolt transaction, fsync'd on commit unless Options.NoSync is set. NoSync
// keeps what a killed process wrote (the kernel has it) but not what a power loss catches in
// flight.
package bolt
