// Package archtest holds the test that enforces davd's package layering (arch_test.go). It has
// no code of its own: the rules are in the test, next to the classification of every package.
package archtest
