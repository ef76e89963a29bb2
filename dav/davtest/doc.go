// Package davtest holds davd's exported conformance suites and test helpers: every storage
// backend, lock manager and property store runs the same suite (TestBackend, TestLockManager,
// TestPropsStore), and every body the engine emits can be checked for namespace resolution
// (CheckNamespaces) and compared by XML meaning (EqualXML, Canonical).
package davtest
