// Package memprops is an in-memory props.Store: the reference implementation of the dead
// property contract, used by engine unit tests and examples. Nothing survives the process.
// PROPPATCH instructions are applied by props.Apply, as in every other Store.
package memprops
