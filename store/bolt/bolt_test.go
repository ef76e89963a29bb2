package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
)

func openDB(t testing.TB, path string, opt Options) *DB {
	t.Helper()
	db, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func tempDB(t testing.TB) *DB {
	t.Helper()
	return openDB(t, filepath.Join(t.TempDir(), "davd.db"), Options{NoSync: true})
}

func TestPropsConformance(t *testing.T) {
	davtest.TestPropsStore(t, func(t *testing.T) props.Store { return tempDB(t).Props() })
}

func TestLockConformance(t *testing.T) {
	davtest.TestLockManager(t, func(t *testing.T) lock.Manager {
		m, err := memlock.New(memlock.Options{Persist: tempDB(t).LockPersister()})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func TestLocksSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "davd.db")
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := memlock.New(memlock.Options{Persist: db.LockPersister(), Now: clock(0)})
	if err != nil {
		t.Fatal(err)
	}
	owner := []byte(`<D:href xmlns:D="DAV:">alice</D:href>`)
	long, err := m.Create(ctx, t0, lock.Lock{Root: "/a", Depth: lock.DepthInfinity, Shared: true, Owner: owner, Principal: "alice", Timeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	short, err := m.Create(ctx, t0, lock.Lock{Root: "/b", Principal: "bob", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := m.Create(ctx, t0, lock.Lock{Root: "/c", Principal: "bob", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(ctx, t0, "/c", gone.Token, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Two minutes later: the short lock has lapsed, the long one has eight minutes left.
	db = openDB(t, path, Options{})
	m, err = memlock.New(memlock.Options{Persist: db.LockPersister(), Now: clock(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(2 * time.Minute)
	got, ok, err := m.Lookup(ctx, now, long.Token)
	if err != nil || !ok {
		t.Fatalf("Lookup after reopen: %v, %v", ok, err)
	}
	if got.Root != long.Root || got.Depth != long.Depth || !got.Shared || string(got.Owner) != string(owner) ||
		got.Principal != "alice" || got.Timeout != long.Timeout || !got.Expires.Equal(long.Expires) {
		t.Errorf("reloaded %+v, want %+v", got, long)
	}
	if r := got.Remaining(now); r != 8*time.Minute {
		t.Errorf("remaining timeout after reopen = %v, want 8m", r)
	}
	for _, tok := range []string{short.Token, gone.Token} {
		if _, ok, _ := m.Lookup(ctx, now, tok); ok {
			t.Errorf("lock %s survived reopen", tok)
		}
	}
	ls, err := db.LockPersister().Load()
	if err != nil || len(ls) != 1 || ls[0].Token != long.Token {
		t.Errorf("stored locks after reopen = %v, %v; want only %s", ls, err, long.Token)
	}
	if _, err := m.Create(ctx, now, lock.Lock{Root: "/a/x", Principal: "carol", Timeout: time.Minute}); !errors.Is(err, lock.ErrLocked) {
		t.Errorf("reloaded lock not enforced: %v", err)
	}
}

func TestKeyLayout(t *testing.T) {
	for _, tc := range []struct {
		path davpath.Path
		key  string
	}{
		{"/", "\x00"},
		{"/a", "/\x00a"},
		{"/a/b", "/a\x00b"},
		{"/a b/ü/c.d", "/a b/ü\x00c.d"},
	} {
		if got := string(propKey(tc.path)); got != tc.key {
			t.Errorf("propKey(%q) = %q, want %q", tc.path, got, tc.key)
		}
		if got, err := keyPath([]byte(tc.key)); err != nil || got != tc.path {
			t.Errorf("keyPath(%q) = %q, %v", tc.key, got, err)
		}
	}
	for _, bad := range []string{"", "/a", "\x00x"} {
		if _, err := keyPath([]byte(bad)); err == nil {
			t.Errorf("keyPath(%q) accepted", bad)
		}
	}
}

func TestEncoding(t *testing.T) {
	ps := []props.Property{
		{Name: props.Name{Space: "DAV:", Local: "displayname"}, Lang: "en", Value: []byte("x")},
		{Name: props.Name{Local: "empty"}},
		{Name: props.Name{Space: "urn:x", Local: "big"}, Value: []byte(strings.Repeat("é", 300))},
	}
	enc := encodeProps(ps)
	got, err := decodeProps(enc)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(ps) {
		t.Errorf("round trip = %v, want %v", got, ps)
	}
	enc[len(enc)-1] = 'Z'
	if got[2].Value[len(got[2].Value)-1] == 'Z' {
		t.Error("decoded value aliases the encoded bytes")
	}
	// Truncations and a wrong version must be refused, never panic.
	for i := range len(enc) {
		if _, err := decodeProps(enc[:i]); err == nil {
			t.Errorf("truncated to %d bytes: accepted", i)
		}
	}
	if _, err := decodeProps(append([]byte{9}, enc[1:]...)); err == nil {
		t.Error("unknown version accepted")
	}

	l := lock.Lock{Token: "urn:uuid:x", Root: "/a", Depth: lock.DepthInfinity, Shared: true, Owner: []byte("<o/>"),
		Principal: "p", Timeout: time.Hour, Expires: time.Unix(1700000000, 123)}
	gl, err := decodeLock(l.Token, encodeLock(l))
	if err != nil || gl.Root != l.Root || gl.Depth != l.Depth || !gl.Shared || string(gl.Owner) != "<o/>" ||
		gl.Principal != "p" || gl.Timeout != time.Hour || !gl.Expires.Equal(l.Expires) {
		t.Errorf("lock round trip = %+v, %v", gl, err)
	}
	l.Expires, l.Timeout, l.Depth = time.Time{}, 0, lock.DepthZero
	if gl, err := decodeLock(l.Token, encodeLock(l)); err != nil || !gl.Expires.IsZero() || gl.Depth != lock.DepthZero {
		t.Errorf("infinite lock round trip = %+v, %v", gl, err)
	}
	in := props.Intent{Kind: props.IntentMove, Src: "/a", Dst: "/b"}
	if got, err := decodeIntent(encodeIntent(in)); err != nil || got != in {
		t.Errorf("intent round trip = %+v, %v", got, err)
	}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "db"), Options{Limits: props.Limits{MaxValueBytes: 10, MaxPropsBytes: 30}, NoSync: true})
	s := db.Props()
	p := func(local string, n int) props.Op {
		return props.Op{Prop: props.Property{Name: props.Name{Local: local}, Value: make([]byte, n)}}
	}
	if err := s.Patch(ctx, "/r", []props.Op{p("a", 10)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Patch(ctx, "/r", []props.Op{p("b", 11)}); !errors.Is(err, props.ErrTooLarge) {
		t.Errorf("value over MaxValueBytes: %v", err)
	}
	if err := s.Patch(ctx, "/r", []props.Op{p("b", 10), p("c", 10)}); !errors.Is(err, props.ErrTooLarge) {
		t.Errorf("resource over MaxPropsBytes: %v", err)
	}
	if err := s.Patch(ctx, "/r", []props.Op{p("b", 10)}); err != nil {
		t.Errorf("resource at MaxPropsBytes - 8: %v", err)
	}
}

// names returns the paths that have properties, sorted.
func names(t *testing.T, db *DB) []string {
	t.Helper()
	var out []string
	for p := range allProps(t, db) {
		out = append(out, string(p))
	}
	slices.Sort(out)
	return out
}

func TestJournal(t *testing.T) {
	ctx := context.Background()
	set := []props.Op{{Prop: props.Property{Name: props.Name{Local: "p"}, Value: []byte("v")}}}
	seed := func(t *testing.T, db *DB, paths ...davpath.Path) {
		for _, p := range paths {
			if err := db.Props().Patch(ctx, p, set); err != nil {
				t.Fatal(err)
			}
		}
	}
	j := func(db *DB) props.Journal { return db.Props().(props.Journal) }

	t.Run("complete applied", func(t *testing.T) {
		db := tempDB(t)
		seed(t, db, "/a", "/a/x", "/ab", "/d", "/d/y")
		done, err := j(db).Intend(ctx, props.Intent{Kind: props.IntentMove, Src: "/a", Dst: "/m"})
		if err != nil {
			t.Fatal(err)
		}
		if got := pending(t, db); got != 1 {
			t.Fatalf("%d records after Intend, want 1", got)
		}
		if err := done(true); err != nil {
			t.Fatal(err)
		}
		if err := done(true); err == nil {
			t.Error("second complete succeeded")
		}
		del, err := j(db).Intend(ctx, props.Intent{Kind: props.IntentDelete, Src: "/d"})
		if err != nil {
			t.Fatal(err)
		}
		if err := del(true); err != nil {
			t.Fatal(err)
		}
		if got, want := names(t, db), []string{"/ab", "/m", "/m/x"}; !slices.Equal(got, want) {
			t.Errorf("properties at %v, want %v", got, want)
		}
		if got := pending(t, db); got != 0 {
			t.Errorf("%d records left", got)
		}
	})
	t.Run("complete not applied", func(t *testing.T) {
		db := tempDB(t)
		seed(t, db, "/a")
		done, err := j(db).Intend(ctx, props.Intent{Kind: props.IntentDelete, Src: "/a"})
		if err != nil {
			t.Fatal(err)
		}
		if err := done(false); err != nil {
			t.Fatal(err)
		}
		if got := names(t, db); !slices.Equal(got, []string{"/a"}) {
			t.Errorf("properties at %v", got)
		}
		if got := pending(t, db); got != 0 {
			t.Errorf("%d records left", got)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		if _, err := j(tempDB(t)).Intend(ctx, props.Intent{Kind: 9, Src: "/a"}); err == nil {
			t.Error("accepted")
		}
	})

	for _, tc := range []struct {
		name   string
		intent props.Intent
		exist  []davpath.Path // in the storage after the crash
		want   []string       // paths with properties after Recover
	}{
		{"move done before the crash", props.Intent{Kind: props.IntentMove, Src: "/a", Dst: "/m"},
			[]davpath.Path{"/m", "/m/x"}, []string{"/ab", "/m", "/m/x"}},
		{"move not done before the crash", props.Intent{Kind: props.IntentMove, Src: "/a", Dst: "/m"},
			[]davpath.Path{"/a", "/a/x"}, []string{"/a", "/a/x", "/ab"}},
		{"move source and destination both exist", props.Intent{Kind: props.IntentMove, Src: "/a", Dst: "/m"},
			[]davpath.Path{"/a", "/a/x", "/m"}, []string{"/a", "/a/x", "/ab"}},
		{"delete done before the crash", props.Intent{Kind: props.IntentDelete, Src: "/a"},
			[]davpath.Path{"/ab"}, []string{"/ab"}},
		{"delete interrupted half way", props.Intent{Kind: props.IntentDelete, Src: "/a"},
			[]davpath.Path{"/a", "/ab"}, []string{"/a", "/ab"}},
		{"delete not done", props.Intent{Kind: props.IntentDelete, Src: "/a"},
			[]davpath.Path{"/a", "/a/x", "/ab"}, []string{"/a", "/a/x", "/ab"}},
	} {
		t.Run("recover: "+tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db")
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			seed(t, db, "/a", "/a/x", "/ab")
			if _, err := j(db).Intend(ctx, tc.intent); err != nil {
				t.Fatal(err)
			}
			db.Close() // The crash: complete is never called.
			db = openDB(t, path, Options{})
			exists := func(p davpath.Path) bool { return slices.Contains(tc.exist, p) }
			if err := j(db).Recover(ctx, exists); err != nil {
				t.Fatal(err)
			}
			if got := names(t, db); !slices.Equal(got, tc.want) {
				t.Errorf("properties at %v, want %v", got, tc.want)
			}
			if got := pending(t, db); got != 0 {
				t.Errorf("%d records left after Recover", got)
			}
		})
	}
}

func TestReopenKeepsProps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	op := props.Op{Prop: props.Property{Name: props.Name{Space: "urn:x", Local: "a"}, Lang: "de", Value: []byte("<b/>")}}
	if err := db.Props().Patch(ctx, "/doc", []props.Op{op}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDB(t, path, Options{})
	got, err := db.Props().Get(ctx, "/doc")
	if err != nil || len(got) != 1 || got[0].Name != op.Prop.Name || got[0].Lang != "de" || string(got[0].Value) != "<b/>" {
		t.Errorf("after reopen: %v, %v", got, err)
	}
}

func BenchmarkGetDir(b *testing.B) {
	ctx := context.Background()
	const members = 10000
	value := []props.Op{{Prop: props.Property{Name: props.Name{Space: "urn:x", Local: "color"}, Value: []byte("blue")}}}
	setup := func(b *testing.B, withProps bool) props.Store {
		db := tempDB(b)
		s := db.Props()
		// Neighbours that a sloppy prefix scan would visit.
		for _, p := range []davpath.Path{"/big-x", "/bigger", "/big.y", "/big/0/deep"} {
			if err := s.Patch(ctx, p, value); err != nil {
				b.Fatal(err)
			}
		}
		if withProps {
			for i := range members {
				if err := s.Patch(ctx, davpath.Path(fmt.Sprintf("/big/%d", i)), value); err != nil {
					b.Fatal(err)
				}
			}
		}
		return s
	}
	b.Run("10000 members without properties", func(b *testing.B) {
		s := setup(b, false)
		b.ReportAllocs()
		for b.Loop() {
			m, err := s.GetDir(ctx, "/big")
			if err != nil || len(m) != 0 {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("10000 members with properties", func(b *testing.B) {
		s := setup(b, true)
		b.ReportAllocs()
		for b.Loop() {
			m, err := s.GetDir(ctx, "/big")
			if err != nil || len(m) != members {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		s := setup(b, true)
		b.ReportAllocs()
		for b.Loop() {
			ps, err := s.Get(ctx, "/big/5000")
			if err != nil || len(ps) != 1 {
				b.Fatal(ps, err)
			}
		}
	})
	b.Run("Get without properties", func(b *testing.B) {
		s := setup(b, true)
		b.ReportAllocs()
		for b.Loop() {
			if ps, err := s.Get(ctx, "/big/none"); err != nil || ps != nil {
				b.Fatal(ps, err)
			}
		}
	})
}
