package scope

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/memprops"
)

// The scoped seams must pass the same conformance suites as the backends they wrap.

func TestPropsConformance(t *testing.T) {
	davtest.TestPropsStore(t, func(t *testing.T) props.Store {
		return Props(memprops.New(props.Limits{}), "/alice")
	})
}

func TestLocksConformance(t *testing.T) {
	davtest.TestLockManager(t, func(t *testing.T) lock.Manager {
		m, err := memlock.New(memlock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return Locks(m, "/users/alice")
	})
}

func TestMapper(t *testing.T) {
	m := Mapper{Base: "/users/alice"}
	for _, c := range []struct {
		view, tree davpath.Path
	}{{"/", "/users/alice"}, {"/a", "/users/alice/a"}, {"/a/b", "/users/alice/a/b"}} {
		if got := m.In(c.view); got != c.tree {
			t.Errorf("In(%s) = %s, want %s", c.view, got, c.tree)
		}
		if got, above, ok := m.Out(c.tree); got != c.view || above || !ok {
			t.Errorf("Out(%s) = %s %v %v, want %s", c.tree, got, above, ok, c.view)
		}
	}
	if got, above, ok := m.Out("/users"); got != "/" || !above || !ok {
		t.Errorf("Out(/users) = %s %v %v, want / above", got, above, ok)
	}
	for _, q := range []davpath.Path{"/users/alicex", "/users/bob", "/x"} {
		if _, _, ok := m.Out(q); ok {
			t.Errorf("Out(%s) visible", q)
		}
	}
}

// TestLocksAcrossScopes checks that scopes share one lock table: a lock taken through one scope
// conflicts with writes through another whose tree overlaps, its root is shown in each view,
// and it stays its principal's.
func TestLocksAcrossScopes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	m, err := memlock.New(memlock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice := Locks(m, "/team/alice") // alice sees /team/alice as "/"
	admin := m                       // the admin sees the whole tree
	bob := Locks(m, "/team/bob")

	l, err := alice.Create(ctx, now, lock.Lock{Root: "/doc", Depth: lock.DepthZero, Principal: "alice", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if l.Root != "/doc" {
		t.Errorf("granted root %s, want /doc", l.Root)
	}
	// The admin sees the lock at its place in the tree and is refused a write without it.
	ls, _ := admin.Discover(ctx, now, "/team/alice/doc")
	if len(ls) != 1 || ls[0].Root != "/team/alice/doc" {
		t.Errorf("admin Discover = %+v", ls)
	}
	_, err = admin.Confirm(ctx, now, lock.Submitted{Principal: "admin"}, lock.Target{Path: "/team/alice/doc"})
	var ce *lock.ConflictError
	if !errors.As(err, &ce) || !slices.Equal(ce.Roots, []davpath.Path{"/team/alice/doc"}) {
		t.Errorf("admin Confirm = %v, want conflict at /team/alice/doc", err)
	}
	// The token is alice's: presenting it as the admin does not help, unlocking is refused.
	if _, err := admin.Confirm(ctx, now, lock.Submitted{Principal: "admin", Tokens: []string{l.Token}}, lock.Target{Path: "/team/alice/doc"}); err == nil {
		t.Error("admin used alice's token")
	}
	if err := admin.Unlock(ctx, now, "/team/alice/doc", l.Token, "admin"); !errors.Is(err, lock.ErrNotOwner) {
		t.Errorf("admin Unlock = %v, want ErrNotOwner", err)
	}
	// Bob's scope does not contain the lock: it is invisible to him.
	if _, ok, _ := bob.Lookup(ctx, now, l.Token); ok {
		t.Error("bob looked up a lock outside his scope")
	}
	if err := alice.Unlock(ctx, now, "/doc", l.Token, "alice"); err != nil {
		t.Fatal(err)
	}
	// An infinite lock on an ancestor shows in alice's view at her root, and conflicts map there.
	big, err := admin.Create(ctx, now, lock.Lock{Root: "/team", Depth: lock.DepthInfinity, Shared: true, Principal: "admin", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ls, _ = alice.Discover(ctx, now, "/x")
	found := false
	for _, x := range ls {
		if x.Token == big.Token {
			found = x.Root == "/"
		}
	}
	if !found {
		t.Errorf("alice Discover = %+v, want the /team lock rooted at /", ls)
	}
	_, err = alice.Confirm(ctx, now, lock.Submitted{Principal: "alice"}, lock.Target{Path: "/x"})
	if !errors.As(err, &ce) || !slices.Equal(ce.Roots, []davpath.Path{"/"}) {
		t.Errorf("alice Confirm = %v, want conflict rooted at /", err)
	}
	// A depth-0 lock on an ancestor is not shown inside the scope.
	if err := admin.Unlock(ctx, now, "/team", big.Token, "admin"); err != nil {
		t.Fatal(err)
	}
	zero, err := admin.Create(ctx, now, lock.Lock{Root: "/team", Depth: lock.DepthZero, Principal: "admin", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := alice.Lookup(ctx, now, zero.Token); ok {
		t.Error("a depth-0 lock above the scope is visible inside it")
	}
}

// TestLocksCounted checks that the engine's lock.Len sees through the scoped view: without it
// every PUT of a scoped user paid a Stat and every listed entry a Discover (issue 13).
func TestLocksCounted(t *testing.T) {
	m, err := memlock.New(memlock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := Locks(m, "/alice"), Locks(m, "/bob")
	if n, ok := lock.Len(alice); !ok || n != 0 {
		t.Fatalf("lock.Len(scoped, empty) = %d, %v; want 0, true", n, ok)
	}
	now := time.Now()
	if _, err := bob.Create(context.Background(), now, lock.Lock{Root: "/f", Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	// A lock anywhere in the shared table counts, so 0 is only ever reported when the scope's
	// own part is empty.
	if n, ok := lock.Len(alice); !ok || n != 1 {
		t.Errorf("lock.Len(scoped) after a lock in another scope = %d, %v; want 1, true", n, ok)
	}
}
