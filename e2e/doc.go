// Package e2e holds davd's end-to-end tests: each one builds cmd/davd once, starts the real
// binary on a free loopback port and drives it with a real WebDAV client (litmus, cadaver,
// rclone, davfs2, a Go client library) or raw HTTP.
//
// The tests carry the build tag e2e and need those clients installed (./scripts/test.sh installs
// them); a missing client fails its test loudly, it never skips:
//
//	go test -tags e2e -count=1 -v ./e2e/...
//
// DAVD_BIN names a prebuilt server binary instead of building one; DAVD_E2E_RACE=0 builds
// without the race detector (it is on by default, and a race report fails the test).
package e2e
