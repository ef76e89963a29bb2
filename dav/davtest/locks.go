package davtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
)

// TestLockManager runs the conformance suite for lock.Manager implementations. newManager
// returns an empty manager with its default limits (at least 100 locks per principal and a
// maximum timeout of at least one minute); it may register cleanups on the t it is given, which
// is the subtest's. The suite never sleeps: times are passed as now, and the wait of Create for
// writes in progress is observed with testing/synctest, so newManager is also called inside a
// synctest bubble.
func TestLockManager(t *testing.T, newManager func(t *testing.T) lock.Manager) {
	testLockManager(t, newManager, bubble)
}

// TestLockManagerNetwork is TestLockManager for a manager whose state is on the network (the
// etcd manager): the same cases, the wait of Create for writes in progress observed in real
// time instead of in a synctest bubble (see waitMode). newManager is not called in a bubble.
func TestLockManagerNetwork(t *testing.T, newManager func(t *testing.T) lock.Manager) {
	testLockManager(t, newManager, realTime)
}

func testLockManager(t *testing.T, newManager func(t *testing.T) lock.Manager, mode waitMode) {
	t.Run("6.1 exclusive vs shared", func(t *testing.T) { testLockConflicts(t, newManager) })
	t.Run("7 depth infinity covers members", func(t *testing.T) { testLockDepth(t, newManager) })
	t.Run("9.10.2 refresh", func(t *testing.T) { testLockRefresh(t, newManager) })
	t.Run("9.11 unlock", func(t *testing.T) { testLockUnlock(t, newManager) })
	t.Run("16 lock-token-submitted roots", func(t *testing.T) { testLockSubmitted(t, newManager) })
	t.Run("granted lock", func(t *testing.T) { testLockGranted(t, newManager) })
	t.Run("expiry", func(t *testing.T) { testLockExpiry(t, newManager) })
	t.Run("concurrent exclusive LOCK", func(t *testing.T) { testLockRace(t, newManager) })
	t.Run("Create waits for writes in progress", func(t *testing.T) { testLockWaitsForWrite(t, newManager, mode) })
	t.Run("writes do not wait for each other", func(t *testing.T) { testLockWritesParallel(t, newManager) })
	t.Run("random operations against a model", func(t *testing.T) { testLockModel(t, newManager) })
	t.Run("7 drop removes locks rooted at or below a gone resource", func(t *testing.T) { testLockDrop(t, newManager) })
}

func testLockDrop(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	m := newManager(t)
	above := mustCreate(t, m, exclusive("/a", lock.DepthZero, "u"))
	at := mustCreate(t, m, shared("/a/b", lock.DepthZero, "u"))
	below := mustCreate(t, m, exclusive("/a/b/c/d", lock.DepthZero, "v"))
	sibling := mustCreate(t, m, exclusive("/a/bc", lock.DepthZero, "v"))
	if err := m.Drop(ctx, lockT0, "/a/b"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		l    lock.Lock
		want bool
	}{{above, true}, {at, false}, {below, false}, {sibling, true}} {
		if _, ok, _ := m.Lookup(ctx, lockT0, c.l.Token); ok != c.want {
			t.Errorf("lock at %s present = %v, want %v", c.l.Root, ok, c.want)
		}
	}
	// The URL is free again for anyone.
	mustCreate(t, m, exclusive("/a/b", lock.DepthInfinity, "w"))
}

// lockT0 is the base time of the suite; any fixed instant works since now is always passed in.
var lockT0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func exclusive(root davpath.Path, d lock.Depth, principal string) lock.Lock {
	return lock.Lock{Root: root, Depth: d, Principal: principal, Timeout: time.Minute}
}

func shared(root davpath.Path, d lock.Depth, principal string) lock.Lock {
	l := exclusive(root, d, principal)
	l.Shared = true
	return l
}

// mustCreate creates l at lockT0 and fails the test on error.
func mustCreate(t *testing.T, m lock.Manager, l lock.Lock) lock.Lock {
	t.Helper()
	g, err := m.Create(context.Background(), lockT0, l)
	if err != nil {
		t.Fatalf("Create(%s depth %d shared %v): %v", l.Root, l.Depth, l.Shared, err)
	}
	return g
}

// conflictRoots returns the sorted roots of a *lock.ConflictError, or fails the test.
func conflictRoots(t *testing.T, err error) []davpath.Path {
	t.Helper()
	var ce *lock.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *lock.ConflictError", err)
	}
	if !errors.Is(err, lock.ErrLocked) {
		t.Errorf("errors.Is(%v, lock.ErrLocked) = false", err)
	}
	r := slices.Clone(ce.Roots)
	slices.Sort(r)
	return r
}

func testLockConflicts(t *testing.T, newManager func(*testing.T) lock.Manager) {
	const inf, zero = lock.DepthInfinity, lock.DepthZero
	tests := []struct {
		name     string
		existing lock.Lock
		req      lock.Lock
		conflict bool
	}{
		{"exclusive then exclusive on the same resource", exclusive("/a", zero, "u"), exclusive("/a", zero, "v"), true},
		{"exclusive then exclusive by the same principal", exclusive("/a", zero, "u"), exclusive("/a", zero, "u"), true},
		{"shared then shared", shared("/a", zero, "u"), shared("/a", zero, "v"), false},
		{"shared then exclusive", shared("/a", zero, "u"), exclusive("/a", zero, "v"), true},
		{"exclusive then shared", exclusive("/a", zero, "u"), shared("/a", zero, "v"), true},
		{"depth 0 parent does not cover member", exclusive("/a", zero, "u"), exclusive("/a/b", zero, "v"), false},
		{"depth infinity parent covers member", exclusive("/a", inf, "u"), exclusive("/a/b/c", zero, "v"), true},
		{"depth infinity request over locked member", exclusive("/a/b/c", zero, "u"), exclusive("/a", inf, "v"), true},
		{"depth 0 request over locked member", exclusive("/a/b", zero, "u"), exclusive("/a", zero, "v"), false},
		{"shared depth infinity over shared member", shared("/a/b", zero, "u"), shared("/a", inf, "v"), false},
		{"sibling with common name prefix", exclusive("/a", inf, "u"), exclusive("/ab", inf, "v"), false},
		{"sibling with common name prefix, reversed", exclusive("/ab", inf, "u"), exclusive("/a", inf, "v"), false},
		{"root depth infinity covers everything", exclusive("/", inf, "u"), exclusive("/x/y", zero, "v"), true},
		{"request at root over a deep lock", exclusive("/x/y", zero, "u"), exclusive("/", inf, "v"), true},
		{"root depth 0 and a member", exclusive("/", zero, "u"), exclusive("/x", inf, "v"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t)
			e := mustCreate(t, m, tc.existing)
			g, err := m.Create(context.Background(), lockT0, tc.req)
			if !tc.conflict {
				if err != nil {
					t.Fatalf("Create: %v, want success", err)
				}
				if g.Token == e.Token {
					t.Fatalf("two locks share token %s", g.Token)
				}
				return
			}
			if got := conflictRoots(t, err); !slices.Equal(got, []davpath.Path{tc.existing.Root}) {
				t.Errorf("conflict roots = %v, want [%s]", got, tc.existing.Root)
			}
		})
	}
}

func testLockDepth(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	m := newManager(t)
	inf := mustCreate(t, m, exclusive("/a", lock.DepthInfinity, "u"))
	zero := mustCreate(t, m, exclusive("/z", lock.DepthZero, "u"))

	for _, tc := range []struct {
		path davpath.Path
		want []string
	}{
		{"/a", []string{inf.Token}},
		{"/a/b/c", []string{inf.Token}},
		{"/ab", nil},
		{"/", nil},
		{"/z", []string{zero.Token}},
		{"/z/m", nil},
	} {
		ls, err := m.Discover(ctx, lockT0, tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range ls {
			got = append(got, l.Token)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Discover(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}

	none := lock.Submitted{Principal: "u"}
	withInf := lock.Submitted{Principal: "u", Tokens: []string{inf.Token}}
	for _, tc := range []struct {
		name   string
		s      lock.Submitted
		target lock.Target
		roots  []davpath.Path
	}{
		{"member of depth infinity lock without token", none, lock.Target{Path: "/a/b/c"}, []davpath.Path{"/a"}},
		{"member of depth infinity lock with token", withInf, lock.Target{Path: "/a/b/c"}, nil},
		{"member of depth 0 lock", none, lock.Target{Path: "/z/m"}, nil},
		{"depth 0 locked resource itself", none, lock.Target{Path: "/z"}, []davpath.Path{"/z"}},
		{"non-recursive write of the parent", none, lock.Target{Path: "/"}, nil},
		{"recursive write of the parent", none, lock.Target{Path: "/", Recursive: true}, []davpath.Path{"/a", "/z"}},
		{"recursive write of the parent with one token", withInf, lock.Target{Path: "/", Recursive: true}, []davpath.Path{"/z"}},
		{"recursive write of a sibling with a common prefix", none, lock.Target{Path: "/ab", Recursive: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release, err := m.Confirm(ctx, lockT0, tc.s, tc.target)
			if tc.roots == nil {
				if err != nil {
					t.Fatalf("Confirm: %v", err)
				}
				release()
				return
			}
			if got := conflictRoots(t, err); !slices.Equal(got, tc.roots) {
				t.Errorf("roots = %v, want %v", got, tc.roots)
			}
		})
	}
}

func testLockRefresh(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	m := newManager(t)
	l := mustCreate(t, m, exclusive("/a", lock.DepthInfinity, "u"))
	later := lockT0.Add(30 * time.Second)

	for _, tc := range []struct {
		name      string
		path      davpath.Path
		token     string
		principal string
		want      error
	}{
		{"9.10.6 refresh with unknown token", "/a", "urn:uuid:00000000-0000-4000-8000-000000000000", "u", lock.ErrNoSuchLock},
		{"refresh outside the lock's scope", "/b", l.Token, "u", lock.ErrNoSuchLock},
		{"refresh by another principal", "/a", l.Token, "v", lock.ErrNotOwner},
		{"refresh at the root", "/a", l.Token, "u", nil},
		{"refresh at a member of the scope", "/a/b", l.Token, "u", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := m.Refresh(ctx, later, tc.path, tc.token, tc.principal, 2*time.Minute)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Refresh: %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if g.Token != l.Token || g.Root != l.Root || g.Principal != "u" {
				t.Errorf("refreshed lock %+v does not match %+v", g, l)
			}
			if g.Timeout <= 0 || g.Timeout > 2*time.Minute || !g.Expires.Equal(later.Add(g.Timeout)) {
				t.Errorf("refreshed timeout %v expires %v, want ≤2m from %v", g.Timeout, g.Expires, later)
			}
			got, ok, err := m.Lookup(ctx, later, l.Token)
			if err != nil || !ok || !got.Expires.Equal(g.Expires) {
				t.Errorf("Lookup after refresh = %+v, %v, %v", got, ok, err)
			}
		})
	}
	t.Run("refresh restarts the timeout", func(t *testing.T) {
		g, err := m.Refresh(ctx, later, "/a", l.Token, "u", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		// The original lock would have lapsed at lockT0+1m; the refreshed one has not.
		if _, ok, _ := m.Lookup(ctx, lockT0.Add(time.Minute+time.Second), l.Token); !ok {
			t.Errorf("lock lapsed at its original expiry after refresh to %v", g.Expires)
		}
	})
	t.Run("refresh of an expired lock", func(t *testing.T) {
		_, err := m.Refresh(ctx, lockT0.Add(time.Hour*24), "/a", l.Token, "u", time.Minute)
		if !errors.Is(err, lock.ErrNoSuchLock) {
			t.Fatalf("Refresh: %v, want ErrNoSuchLock", err)
		}
	})
}

func testLockUnlock(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	m := newManager(t)
	l := mustCreate(t, m, exclusive("/a", lock.DepthInfinity, "u"))
	for _, tc := range []struct {
		name      string
		path      davpath.Path
		token     string
		principal string
		want      error
	}{
		{"unlock with unknown token", "/a", "urn:uuid:00000000-0000-4000-8000-000000000000", "u", lock.ErrNoSuchLock},
		{"Request-URI outside the lock's scope", "/ab", l.Token, "u", lock.ErrNoSuchLock},
		{"unlock by another principal", "/a", l.Token, "v", lock.ErrNotOwner},
		{"unlock by the anonymous principal", "/a", l.Token, "", lock.ErrNotOwner},
		{"Request-URI a member of the scope", "/a/b/c", l.Token, "u", nil},
		{"unlock twice", "/a", l.Token, "u", lock.ErrNoSuchLock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Unlock(ctx, lockT0, tc.path, tc.token, tc.principal)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Unlock: %v, want %v", err, tc.want)
			}
		})
	}
	if _, ok, err := m.Lookup(ctx, lockT0, l.Token); ok || err != nil {
		t.Errorf("Lookup after unlock = %v, %v", ok, err)
	}
	if ls, err := m.Discover(ctx, lockT0, "/a"); len(ls) != 0 || err != nil {
		t.Errorf("Discover after unlock = %v, %v", ls, err)
	}
	mustCreate(t, m, exclusive("/a", lock.DepthInfinity, "v"))
}

func testLockSubmitted(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	m := newManager(t)
	a := mustCreate(t, m, exclusive("/a", lock.DepthInfinity, "alice"))
	c := mustCreate(t, m, exclusive("/b/c", lock.DepthZero, "alice"))
	s1 := mustCreate(t, m, shared("/s", lock.DepthInfinity, "alice"))
	s2 := mustCreate(t, m, shared("/s", lock.DepthZero, "bob"))
	s3 := mustCreate(t, m, shared("/s/t", lock.DepthZero, "carol"))

	targets := []lock.Target{{Path: "/a/x"}, {Path: "/b", Recursive: true}}
	for _, tc := range []struct {
		name    string
		s       lock.Submitted
		targets []lock.Target
		roots   []davpath.Path
	}{
		{"no token", lock.Submitted{Principal: "alice"}, targets, []davpath.Path{"/a", "/b/c"}},
		{"one of two tokens", lock.Submitted{Principal: "alice", Tokens: []string{c.Token}}, targets, []davpath.Path{"/a"}},
		{"both tokens", lock.Submitted{Principal: "alice", Tokens: []string{a.Token, c.Token}}, targets, nil},
		{"tokens submitted by another principal", lock.Submitted{Principal: "bob", Tokens: []string{a.Token, c.Token}}, targets, []davpath.Path{"/a", "/b/c"}},
		{"unrelated token", lock.Submitted{Principal: "bob", Tokens: []string{s2.Token}}, targets[:1], []davpath.Path{"/a"}},
		{"6.1 one shared lock's token satisfies the others", lock.Submitted{Principal: "bob", Tokens: []string{s2.Token}}, []lock.Target{{Path: "/s"}}, nil},
		{"shared lock not affecting the target does not help", lock.Submitted{Principal: "bob", Tokens: []string{s2.Token}}, []lock.Target{{Path: "/s/t"}}, []davpath.Path{"/s", "/s/t"}},
		{"shared lock affecting the member helps", lock.Submitted{Principal: "carol", Tokens: []string{s3.Token}}, []lock.Target{{Path: "/s/t"}}, nil},
		{"shared lock by its owner", lock.Submitted{Principal: "alice", Tokens: []string{s1.Token}}, []lock.Target{{Path: "/s", Recursive: true}}, nil},
		{"shared lock by another principal", lock.Submitted{Principal: "dave", Tokens: []string{s1.Token}}, []lock.Target{{Path: "/s"}}, []davpath.Path{"/s"}},
		{"no targets", lock.Submitted{}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release, err := m.Confirm(ctx, lockT0, tc.s, tc.targets...)
			if tc.roots == nil {
				if err != nil {
					t.Fatalf("Confirm: %v", err)
				}
				release()
				return
			}
			if got := conflictRoots(t, err); !slices.Equal(got, tc.roots) {
				t.Errorf("roots = %v, want %v", got, tc.roots)
			}
		})
	}
}

var tokenRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func testLockGranted(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	m := newManager(t)
	owner := []byte(`<D:href xmlns:D="DAV:">mailto:u@example.org</D:href>`)
	req := shared("/doc", lock.DepthZero, "u")
	req.Owner = slices.Clone(owner)
	req.Token = "urn:uuid:chosen-by-the-client"
	g := mustCreate(t, m, req)
	req.Owner[0] = 'X' // the manager must have kept its own copy
	if !tokenRE.MatchString(g.Token) {
		t.Errorf("token %q is not a urn:uuid: version 4 UUID", g.Token)
	}
	if g.Root != "/doc" || g.Depth != lock.DepthZero || !g.Shared || g.Principal != "u" {
		t.Errorf("granted %+v", g)
	}
	if g.Timeout <= 0 || g.Timeout > time.Minute || !g.Expires.Equal(lockT0.Add(g.Timeout)) {
		t.Errorf("granted timeout %v expires %v for a 1m request at %v", g.Timeout, g.Expires, lockT0)
	}
	got, ok, err := m.Lookup(ctx, lockT0, g.Token)
	if err != nil || !ok || string(got.Owner) != string(owner) {
		t.Errorf("Lookup = %+v, %v, %v; want owner %s", got, ok, err, owner)
	}
	seen := map[string]bool{g.Token: true}
	for i := range 50 {
		g := mustCreate(t, m, shared(davpath.Path(fmt.Sprintf("/f%d", i)), lock.DepthZero, "u"))
		if seen[g.Token] {
			t.Fatalf("token %s granted twice", g.Token)
		}
		seen[g.Token] = true
	}
	inf := exclusive("/inf", lock.DepthInfinity, "u")
	inf.Timeout = 0
	g, err = m.Create(ctx, lockT0, inf)
	if err != nil {
		t.Fatal(err)
	}
	if g.Timeout < 0 || (g.Timeout == 0) != g.Expires.IsZero() || (g.Timeout > 0 && !g.Expires.Equal(lockT0.Add(g.Timeout))) {
		t.Errorf("infinite request granted timeout %v expires %v", g.Timeout, g.Expires)
	}
}

func testLockExpiry(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	m := newManager(t)
	req := exclusive("/a", lock.DepthInfinity, "u")
	req.Timeout = 10 * time.Second
	l := mustCreate(t, m, req)
	before, at := lockT0.Add(9*time.Second), lockT0.Add(10*time.Second)

	if _, ok, _ := m.Lookup(ctx, before, l.Token); !ok {
		t.Fatal("lock lapsed early")
	}
	if _, err := m.Confirm(ctx, before, lock.Submitted{}, lock.Target{Path: "/a/x"}); err == nil {
		t.Fatal("Confirm passed a live lock")
	}
	if _, err := m.Create(ctx, before, exclusive("/a/x", lock.DepthZero, "v")); err == nil {
		t.Fatal("Create passed a live lock")
	}
	if ls, _ := m.Discover(ctx, at, "/a/x"); len(ls) != 0 {
		t.Errorf("Discover at expiry = %v", ls)
	}
	release, err := m.Confirm(ctx, at, lock.Submitted{}, lock.Target{Path: "/a", Recursive: true})
	if err != nil {
		t.Fatalf("Confirm at expiry: %v", err)
	}
	release()
	if _, ok, _ := m.Lookup(ctx, at, l.Token); ok {
		t.Error("Lookup found the lock at its expiry")
	}
	if err := m.Unlock(ctx, at, "/a", l.Token, "u"); !errors.Is(err, lock.ErrNoSuchLock) {
		t.Errorf("Unlock of an expired lock: %v", err)
	}
	if _, err := m.Create(ctx, at, exclusive("/a", lock.DepthInfinity, "v")); err != nil {
		t.Errorf("Create over an expired lock: %v", err)
	}
}

// testLockRace fires concurrent exclusive LOCK requests whose scopes all overlap: exactly one
// must win.
func testLockRace(t *testing.T, newManager func(*testing.T) lock.Manager) {
	const n = 16
	for _, tc := range []struct {
		name string
		req  func(i int) lock.Lock
	}{
		{"one URL", func(i int) lock.Lock { return exclusive("/x", lock.DepthZero, fmt.Sprint("u", i)) }},
		{"parent depth infinity vs child", func(i int) lock.Lock {
			if i%2 == 0 {
				return exclusive("/p", lock.DepthInfinity, "u")
			}
			return exclusive("/p/c", lock.DepthZero, "v")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 5 {
				m := newManager(t)
				var wg sync.WaitGroup
				errs := make([]error, n)
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						_, errs[i] = m.Create(context.Background(), lockT0, tc.req(i))
					})
				}
				close(start)
				wg.Wait()
				wins := 0
				for _, err := range errs {
					switch {
					case err == nil:
						wins++
					case !errors.Is(err, lock.ErrLocked):
						t.Fatalf("Create: %v", err)
					}
				}
				if wins != 1 {
					t.Fatalf("round %d: %d of %d overlapping exclusive locks granted, want 1", round, wins, n)
				}
			}
		})
	}
}

func testLockWaitsForWrite(t *testing.T, newManager func(*testing.T) lock.Manager, mode waitMode) {
	t.Run("proceeds after release", func(t *testing.T) {
		mode.run(t, func(t *testing.T) {
			ctx := context.Background()
			m := newManager(t)
			release, err := m.Confirm(ctx, lockT0, lock.Submitted{}, lock.Target{Path: "/a/b"})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := m.Create(ctx, lockT0, exclusive("/a", lock.DepthInfinity, "u"))
				done <- err
			}()
			mode.settle()
			select {
			case err := <-done:
				t.Fatalf("Create over a write in progress returned %v without waiting", err)
			default:
			}
			// A lock outside the write's scope is not held back, nor a depth 0 lock on the
			// parent of a non-recursive target.
			mustCreate(t, m, exclusive("/b", lock.DepthInfinity, "u"))
			mustCreate(t, m, shared("/a", lock.DepthZero, "v"))
			release()
			mode.settle()
			if err, ok := mode.recv(done); ok {
				// The depth 0 shared lock on /a granted meanwhile conflicts with the waiting
				// exclusive one, which must see it when it checks again.
				if got := conflictRoots(t, err); !slices.Equal(got, []davpath.Path{"/a"}) {
					t.Errorf("roots = %v, want [/a]", got)
				}
			} else {
				t.Fatal("Create still waiting after release")
			}
			release() // A second call must be harmless.

			// Without the interfering lock, the waiting Create is granted.
			release, err = m.Confirm(ctx, lockT0, lock.Submitted{}, lock.Target{Path: "/c/d", Recursive: true})
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				_, err := m.Create(ctx, lockT0, exclusive("/c/d/e", lock.DepthZero, "u"))
				done <- err
			}()
			mode.settle()
			select {
			case err := <-done:
				t.Fatalf("Create inside a recursive write returned %v without waiting", err)
			default:
			}
			release()
			if err := <-done; err != nil {
				t.Fatalf("Create after release: %v", err)
			}
		})
	})
	t.Run("context canceled while waiting", func(t *testing.T) {
		mode.run(t, func(t *testing.T) {
			m := newManager(t)
			release, err := m.Confirm(context.Background(), lockT0, lock.Submitted{}, lock.Target{Path: "/a"})
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := m.Create(ctx, lockT0, exclusive("/a", lock.DepthZero, "u"))
				done <- err
			}()
			mode.settle()
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Create: %v, want context.Canceled", err)
			}
			if ls, _ := m.Discover(context.Background(), lockT0, "/a"); len(ls) != 0 {
				t.Errorf("canceled Create left a lock: %v", ls)
			}
		})
	})
}

// waitMode is how testLockWaitsForWrite observes a Create that waits for a write in progress.
// For a manager without network I/O: inside a synctest bubble, where settle returns once every
// goroutine is blocked (the suite never sleeps). A manager whose state is on the network (etcd)
// cannot run in a bubble (its client's goroutines live outside it): there settle gives a
// wrongly non-waiting Create ample real time to return (its calls take milliseconds on
// loopback), and recv waits for a released Create up to 10 s.
type waitMode struct {
	run    func(t *testing.T, f func(t *testing.T))
	settle func()
	recv   func(done chan error) (error, bool)
}

var bubble = waitMode{
	run:    synctest.Test,
	settle: synctest.Wait,
	recv: func(done chan error) (error, bool) {
		select {
		case err := <-done:
			return err, true
		default:
			return nil, false
		}
	},
}

var realTime = waitMode{
	run:    func(t *testing.T, f func(t *testing.T)) { f(t) },
	settle: func() { time.Sleep(300 * time.Millisecond) },
	recv: func(done chan error) (error, bool) {
		select {
		case err := <-done:
			return err, true
		case <-time.After(10 * time.Second):
			return nil, false
		}
	},
}

func testLockWritesParallel(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	m := newManager(t)
	var releases []func()
	for range 3 {
		r, err := m.Confirm(ctx, lockT0, lock.Submitted{}, lock.Target{Path: "/a", Recursive: true}, lock.Target{Path: "/a/b"})
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	for _, r := range releases {
		r()
		r()
	}
	mustCreate(t, m, exclusive("/a", lock.DepthInfinity, "u"))
}

// refLock is the reference model's lock, kept apart from lock.Lock so the model does not share
// the code it checks.
type refLock struct {
	token, root, principal string
	infinite, shared       bool
	expires                time.Time // zero: never
}

func refCovers(l refLock, p string) bool {
	return p == l.root || l.infinite && (l.root == "/" || strings.HasPrefix(p, l.root+"/"))
}

func refUnder(root, p string) bool { // p lies strictly below root
	return p != root && (root == "/" || strings.HasPrefix(p, root+"/"))
}

func testLockModel(t *testing.T, newManager func(*testing.T) lock.Manager) {
	ctx := context.Background()
	paths := []string{"/", "/a", "/a/b", "/a/b/c", "/ab", "/a/c", "/b"}
	principals := []string{"alice", "bob", ""}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			m := newManager(t)
			rnd := rand.New(rand.NewPCG(seed, 0x5eed))
			now := lockT0
			var model []refLock
			pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }
			live := func() []refLock {
				model = slices.DeleteFunc(model, func(l refLock) bool { return !l.expires.IsZero() && !now.Before(l.expires) })
				return model
			}
			someToken := func() string {
				if ls := live(); len(ls) > 0 && rnd.IntN(5) > 0 {
					return ls[rnd.IntN(len(ls))].token
				}
				return "urn:uuid:bogus"
			}
			for step := range 600 {
				if rnd.IntN(4) == 0 {
					now = now.Add(time.Duration(rnd.IntN(3000)) * time.Millisecond)
				}
				p, who := pick(paths), pick(principals)
				switch op := rnd.IntN(6); op {
				case 0: // LOCK
					req := lock.Lock{Root: davpath.Path(p), Principal: who, Shared: rnd.IntN(2) == 0,
						Timeout: time.Duration(1+rnd.IntN(5)) * time.Second}
					if rnd.IntN(2) == 0 {
						req.Depth = lock.DepthInfinity
					}
					nl := refLock{root: p, principal: who, infinite: req.Depth == lock.DepthInfinity, shared: req.Shared}
					var want []string
					for _, o := range live() {
						if (!o.shared || !nl.shared) && (refCovers(o, p) || refCovers(nl, o.root)) && !slices.Contains(want, o.root) {
							want = append(want, o.root)
						}
					}
					slices.Sort(want)
					g, err := m.Create(ctx, now, req)
					if len(want) > 0 {
						if got := conflictRoots(t, err); !slices.Equal(pathStrings(got), want) {
							t.Fatalf("step %d: LOCK %+v: roots %v, want %v", step, req, got, want)
						}
						continue
					}
					if err != nil {
						t.Fatalf("step %d: LOCK %+v: %v", step, req, err)
					}
					nl.token = g.Token
					if g.Timeout != 0 {
						nl.expires = now.Add(g.Timeout)
					}
					model = append(model, nl)
				case 1, 2: // UNLOCK or refresh
					tok := someToken()
					i := slices.IndexFunc(live(), func(l refLock) bool { return l.token == tok })
					var want error
					switch {
					case i < 0 || !refCovers(model[i], p):
						want = lock.ErrNoSuchLock
					case model[i].principal != who:
						want = lock.ErrNotOwner
					}
					if op == 1 {
						err := m.Unlock(ctx, now, davpath.Path(p), tok, who)
						if !errors.Is(err, want) || (want == nil) != (err == nil) {
							t.Fatalf("step %d: UNLOCK %s at %s by %q: %v, want %v", step, tok, p, who, err, want)
						}
						if want == nil {
							model = slices.Delete(model, i, i+1)
						}
						continue
					}
					g, err := m.Refresh(ctx, now, davpath.Path(p), tok, who, 4*time.Second)
					if !errors.Is(err, want) || (want == nil) != (err == nil) {
						t.Fatalf("step %d: refresh %s at %s by %q: %v, want %v", step, tok, p, who, err, want)
					}
					if want == nil {
						model[i].expires = time.Time{}
						if g.Timeout != 0 {
							model[i].expires = now.Add(g.Timeout)
						}
					}
				case 3, 4: // a write
					var s lock.Submitted
					s.Principal = who
					for range rnd.IntN(3) {
						s.Tokens = append(s.Tokens, someToken())
					}
					var targets []lock.Target
					for range 1 + rnd.IntN(2) {
						targets = append(targets, lock.Target{Path: davpath.Path(pick(paths)), Recursive: rnd.IntN(2) == 0})
					}
					var want []string
					for _, tg := range targets {
						var aff []refLock
						for _, l := range live() {
							if refCovers(l, string(tg.Path)) || tg.Recursive && refUnder(string(tg.Path), l.root) {
								aff = append(aff, l)
							}
						}
						has := func(l refLock) bool { return l.principal == who && slices.Contains(s.Tokens, l.token) }
						for _, l := range aff {
							ok := has(l) || l.shared && slices.ContainsFunc(aff, func(o refLock) bool { return o.shared && has(o) })
							if !ok && !slices.Contains(want, l.root) {
								want = append(want, l.root)
							}
						}
					}
					slices.Sort(want)
					release, err := m.Confirm(ctx, now, s, targets...)
					if len(want) > 0 {
						if got := conflictRoots(t, err); !slices.Equal(pathStrings(got), want) {
							t.Fatalf("step %d: Confirm %+v %+v: roots %v, want %v", step, s, targets, got, want)
						}
						continue
					}
					if err != nil {
						t.Fatalf("step %d: Confirm %+v %+v: %v", step, s, targets, err)
					}
					release()
				case 5: // lockdiscovery and Lookup
					var want []string
					for _, l := range live() {
						if refCovers(l, p) {
							want = append(want, l.token)
						}
					}
					ls, err := m.Discover(ctx, now, davpath.Path(p))
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, l := range ls {
						got = append(got, l.Token)
					}
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: Discover(%s) = %v, want %v", step, p, got, want)
					}
					tok := someToken()
					_, ok, err := m.Lookup(ctx, now, tok)
					if wantOK := slices.ContainsFunc(live(), func(l refLock) bool { return l.token == tok }); ok != wantOK || err != nil {
						t.Fatalf("step %d: Lookup(%s) = %v, %v; want %v", step, tok, ok, err, wantOK)
					}
				}
			}
		})
	}
}

func pathStrings(ps []davpath.Path) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return s
}
