// Package memprops is an in-memory props.Store: the reference implementation of the dead
// property contract, used by engine unit tests and examples. Nothing survives the process.
//
// Apply, the pure function behind Patch, is exported so that persistent stores (store/bolt)
// apply PROPPATCH instructions with exactly the same semantics and limits.
package memprops
