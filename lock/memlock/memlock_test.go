package memlock_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/lock/memlock"
)

func newManager(t *testing.T, opt memlock.Options) *memlock.Manager {
	t.Helper()
	m, err := memlock.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConformance(t *testing.T) {
	davtest.TestLockManager(t, func(t *testing.T) lock.Manager { return newManager(t, memlock.Options{}) })
}

func TestConformanceWithPersister(t *testing.T) {
	davtest.TestLockManager(t, func(t *testing.T) lock.Manager {
		return newManager(t, memlock.Options{Persist: &fakePersister{}})
	})
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func excl(root davpath.Path, principal string, timeout time.Duration) lock.Lock {
	return lock.Lock{Root: root, Principal: principal, Timeout: timeout}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, memlock.Options{Limits: lock.Limits{MaxLocks: 3, MaxPerPrincipal: 2}})
	for i, who := range []string{"u", "u", "v"} {
		if _, err := m.Create(ctx, t0, excl(davpath.Path(fmt.Sprint("/", i)), who, time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Create(ctx, t0, excl("/x", "w", time.Minute)); !errors.Is(err, lock.ErrTooManyLocks) {
		t.Errorf("Create past MaxLocks: %v", err)
	}
	// Past the expiry of the first three, the table is swept and the limit is free again.
	later := t0.Add(time.Minute)
	if _, err := m.Create(ctx, later, excl("/x", "u", time.Minute)); err != nil {
		t.Fatalf("Create after the others expired: %v", err)
	}
	if n := m.Len(); n != 1 {
		t.Errorf("Len after sweep = %d, want 1", n)
	}
	if _, err := m.Create(ctx, later, excl("/y", "u", time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, later, excl("/z", "u", time.Minute)); !errors.Is(err, lock.ErrTooManyLocks) {
		t.Errorf("Create past MaxPerPrincipal: %v", err)
	}
	if _, err := m.Create(ctx, later, excl("/z", "v", time.Minute)); err != nil {
		t.Errorf("another principal under the limits: %v", err)
	}
}

func TestTimeouts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		max       time.Duration
		requested time.Duration
		want      time.Duration
	}{
		{"default cap on an infinite request", 0, 0, lock.DefaultLimits.MaxTimeout},
		{"default cap on a long request", 0, 48 * time.Hour, lock.DefaultLimits.MaxTimeout},
		{"short request kept", 0, time.Minute, time.Minute},
		{"configured cap", 10 * time.Minute, 0, 10 * time.Minute},
		{"no cap: infinite granted", -1, 0, 0},
		{"no cap: long request kept", -1, 48 * time.Hour, 48 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, memlock.Options{Limits: lock.Limits{MaxTimeout: tc.max}})
			g, err := m.Create(ctx, t0, excl("/a", "u", tc.requested))
			if err != nil {
				t.Fatal(err)
			}
			if g.Timeout != tc.want {
				t.Errorf("granted %v, want %v", g.Timeout, tc.want)
			}
			if tc.want == 0 && !g.Expires.IsZero() || tc.want != 0 && !g.Expires.Equal(t0.Add(tc.want)) {
				t.Errorf("expires %v", g.Expires)
			}
			g, err = m.Refresh(ctx, t0, "/a", g.Token, "u", tc.requested)
			if err != nil || g.Timeout != tc.want {
				t.Errorf("refresh granted %v, %v; want %v", g.Timeout, err, tc.want)
			}
		})
	}
}

func TestInvalidLock(t *testing.T) {
	m := newManager(t, memlock.Options{})
	for _, l := range []lock.Lock{{}, {Root: "/a", Depth: 1}} {
		if _, err := m.Create(context.Background(), t0, l); err == nil || errors.Is(err, lock.ErrLocked) {
			t.Errorf("Create(%+v) = %v, want an invalid-lock error", l, err)
		}
	}
}

// fakePersister records the stored table in memory, and fails on demand.
type fakePersister struct {
	mu    sync.Mutex
	locks map[string]lock.Lock
	fail  error
	puts  int
	dels  int
}

func (f *fakePersister) Load() ([]lock.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ls []lock.Lock
	for _, l := range f.locks {
		ls = append(ls, l)
	}
	return ls, f.fail
}

func (f *fakePersister) Put(l lock.Lock) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if f.locks == nil {
		f.locks = map[string]lock.Lock{}
	}
	f.locks[l.Token] = l
	f.puts++
	return nil
}

func (f *fakePersister) Delete(token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	delete(f.locks, token)
	f.dels++
	return nil
}

func (f *fakePersister) tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ts []string
	for t := range f.locks {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

func TestPersistWriteThrough(t *testing.T) {
	ctx := context.Background()
	p := &fakePersister{}
	m := newManager(t, memlock.Options{Persist: p})
	a, err := m.Create(ctx, t0, excl("/a", "u", time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(ctx, t0, excl("/b", "u", 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Create(ctx, t0, excl("/c", "u", time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.tokens(), sorted(a.Token, b.Token, c.Token); !slices.Equal(got, want) {
		t.Fatalf("persisted %v, want %v", got, want)
	}
	r, err := m.Refresh(ctx, t0.Add(5*time.Second), "/a", a.Token, "u", 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.locks[a.Token]; !got.Expires.Equal(r.Expires) {
		t.Errorf("persisted expiry %v after refresh, want %v", got.Expires, r.Expires)
	}
	if err := m.Unlock(ctx, t0, "/c", c.Token, "u"); err != nil {
		t.Fatal(err)
	}
	// b expires; the lazy removal deletes it from the Persister too.
	if _, ok, _ := m.Lookup(ctx, t0.Add(10*time.Second), b.Token); ok {
		t.Fatal("expired lock found")
	}
	if got, want := p.tokens(), []string{a.Token}; !slices.Equal(got, want) {
		t.Fatalf("persisted %v, want %v", got, want)
	}

	// A failing Persister fails the operation and leaves the table unchanged.
	p.fail = errors.New("disk full")
	if _, err := m.Create(ctx, t0, excl("/d", "u", time.Minute)); !errors.Is(err, p.fail) {
		t.Errorf("Create with failing Persister: %v", err)
	}
	if ls, _ := m.Discover(ctx, t0, "/d"); len(ls) != 0 {
		t.Errorf("lock granted although not persisted: %v", ls)
	}
	if err := m.Unlock(ctx, t0, "/a", a.Token, "u"); !errors.Is(err, p.fail) {
		t.Errorf("Unlock with failing Persister: %v", err)
	}
	if _, err := m.Refresh(ctx, t0, "/a", a.Token, "u", time.Hour); !errors.Is(err, p.fail) {
		t.Errorf("Refresh with failing Persister: %v", err)
	}
	if l, ok, _ := m.Lookup(ctx, t0, a.Token); !ok || !l.Expires.Equal(r.Expires) {
		t.Errorf("lock changed by failed operations: %+v, %v", l, ok)
	}
	p.fail = nil

	// New reloads the table and drops (and deletes) what expired meanwhile.
	d, err := m.Create(ctx, t0, excl("/d", "v", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	restart := t0.Add(3 * time.Minute) // past a's expiry (t0+5s+2m), before d's
	m2 := newManager(t, memlock.Options{Persist: p, Now: func() time.Time { return restart }})
	if got, want := p.tokens(), []string{d.Token}; !slices.Equal(got, want) {
		t.Errorf("persisted after reload %v, want %v", got, want)
	}
	got, ok, _ := m2.Lookup(ctx, restart, d.Token)
	if !ok || got.Root != "/d" || got.Principal != "v" || !got.Expires.Equal(d.Expires) {
		t.Errorf("reloaded %+v, %v; want %+v", got, ok, d)
	}
	if _, err := m2.Create(ctx, restart, excl("/d", "u", time.Minute)); !errors.Is(err, lock.ErrLocked) {
		t.Errorf("reloaded lock not enforced: %v", err)
	}
	p.fail = errors.New("unreadable")
	if _, err := memlock.New(memlock.Options{Persist: p}); !errors.Is(err, p.fail) {
		t.Errorf("New with failing Load: %v", err)
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func BenchmarkConfirm(b *testing.B) {
	ctx := context.Background()
	target := lock.Target{Path: "/home/user/documents/report.odt"}
	b.Run("no locks", func(b *testing.B) {
		m, _ := memlock.New(memlock.Options{})
		b.ReportAllocs()
		for b.Loop() {
			release, err := m.Confirm(ctx, t0, lock.Submitted{}, target)
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
	b.Run("1000 unrelated locks", func(b *testing.B) {
		m, _ := memlock.New(memlock.Options{Limits: lock.Limits{MaxPerPrincipal: 10000}})
		for i := range 1000 {
			if _, err := m.Create(ctx, t0, excl(davpath.Path(fmt.Sprint("/other/", i)), "u", time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			release, err := m.Confirm(ctx, t0, lock.Submitted{}, target, lock.Target{Path: "/home/user", Recursive: true})
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
	b.Run("locked with token", func(b *testing.B) {
		m, _ := memlock.New(memlock.Options{})
		l, err := m.Create(ctx, t0, lock.Lock{Root: "/home", Depth: lock.DepthInfinity, Principal: "u", Timeout: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		s := lock.Submitted{Principal: "u", Tokens: []string{l.Token}}
		b.ReportAllocs()
		for b.Loop() {
			release, err := m.Confirm(ctx, t0, s, target)
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
}

func BenchmarkCreateUnlock(b *testing.B) {
	ctx := context.Background()
	m, _ := memlock.New(memlock.Options{})
	b.ReportAllocs()
	for b.Loop() {
		l, err := m.Create(ctx, t0, excl("/a/b/c", "u", time.Minute))
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Unlock(ctx, t0, "/a/b/c", l.Token, "u"); err != nil {
			b.Fatal(err)
		}
	}
}
