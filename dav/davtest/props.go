package davtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
)

// TestPropsStore runs the conformance suite for props.Store implementations. newStore returns
// an empty store with its default limits, which must accept values of 32 KiB and refuse a value
// of 2 MiB with props.ErrTooLarge; it may register cleanups on the t it is given.
func TestPropsStore(t *testing.T, newStore func(t *testing.T) props.Store) {
	t.Run("9.2 set and get", func(t *testing.T) { testPropsSetGet(t, newStore) })
	t.Run("9.2 instructions in order", func(t *testing.T) { testPropsOrder(t, newStore) })
	t.Run("9.2 all or nothing", func(t *testing.T) { testPropsAtomic(t, newStore) })
	t.Run("GetDir lists direct members", func(t *testing.T) { testPropsGetDir(t, newStore) })
	t.Run("9.8 copy", func(t *testing.T) { testPropsCopy(t, newStore) })
	t.Run("9.9 move", func(t *testing.T) { testPropsMove(t, newStore) })
	t.Run("9.6 delete", func(t *testing.T) { testPropsDelete(t, newStore) })
	t.Run("root collection", func(t *testing.T) { testPropsRoot(t, newStore) })
	t.Run("no shared memory", func(t *testing.T) { testPropsAliasing(t, newStore) })
	t.Run("concurrent patches", func(t *testing.T) { testPropsConcurrent(t, newStore) })
}

// prop builds a property in a test namespace.
func prop(local, value string) props.Property {
	return props.Property{Name: props.Name{Space: "urn:davd:test", Local: local}, Value: []byte(value)}
}

func set(ps ...props.Property) []props.Op {
	ops := make([]props.Op, len(ps))
	for i, p := range ps {
		ops[i] = props.Op{Prop: p}
	}
	return ops
}

func remove(local string) props.Op {
	return props.Op{Remove: true, Prop: props.Property{Name: props.Name{Space: "urn:davd:test", Local: local}}}
}

func mustPatch(t *testing.T, s props.Store, p davpath.Path, ops ...props.Op) {
	t.Helper()
	if err := s.Patch(context.Background(), p, ops); err != nil {
		t.Fatalf("Patch(%s): %v", p, err)
	}
}

// propString renders properties sorted by name, for comparisons and messages.
func propString(ps []props.Property) string {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b props.Property) int {
		return cmp.Or(cmp.Compare(a.Name.Space, b.Name.Space), cmp.Compare(a.Name.Local, b.Name.Local))
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "{%s}%s", p.Name.Space, p.Name.Local)
		if p.Lang != "" {
			fmt.Fprintf(&b, "@%s", p.Lang)
		}
		fmt.Fprintf(&b, "=%q", p.Value)
	}
	return b.String()
}

func wantProps(t *testing.T, s props.Store, p davpath.Path, want ...props.Property) {
	t.Helper()
	got, err := s.Get(context.Background(), p)
	if err != nil {
		t.Fatalf("Get(%s): %v", p, err)
	}
	if g, w := propString(got), propString(want); g != w {
		t.Errorf("Get(%s) = %s, want %s", p, g, w)
	}
}

// dump returns the properties of each path, for whole-store comparisons.
func dump(t *testing.T, s props.Store, paths ...davpath.Path) map[davpath.Path]string {
	t.Helper()
	out := make(map[davpath.Path]string)
	for _, p := range paths {
		ps, err := s.Get(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) > 0 {
			out[p] = propString(ps)
		}
	}
	return out
}

func testPropsSetGet(t *testing.T, newStore func(*testing.T) props.Store) {
	s := newStore(t)
	wantProps(t, s, "/none")
	xml := `<x:a xmlns:x="urn:x">1 &amp; 2</x:a><![CDATA[ ]]>`
	fr := props.Property{Name: props.Name{Space: "urn:davd:test", Local: "title"}, Lang: "fr-CA", Value: []byte("Été")}
	noNS := props.Property{Name: props.Name{Local: "plain"}, Value: []byte("v")}
	empty := prop("empty", "")
	big := prop("big", strings.Repeat("x", 32<<10))
	mustPatch(t, s, "/doc", set(prop("xml", xml), fr, noNS, empty, big)...)
	wantProps(t, s, "/doc", prop("xml", xml), fr, noNS, empty, big)
	wantProps(t, s, "/do")
	wantProps(t, s, "/doc/x")
	got, _ := s.Get(context.Background(), "/doc")
	for _, p := range got {
		if p.Name.Local == "xml" && !bytes.Equal(p.Value, []byte(xml)) {
			t.Errorf("value not kept verbatim: %q", p.Value)
		}
	}
	// Names differing only in namespace are distinct properties.
	other := props.Property{Name: props.Name{Space: "urn:other", Local: "title"}, Value: []byte("o")}
	mustPatch(t, s, "/doc", set(other)...)
	wantProps(t, s, "/doc", prop("xml", xml), fr, noNS, empty, big, other)
}

func testPropsOrder(t *testing.T, newStore func(*testing.T) props.Store) {
	s := newStore(t)
	mustPatch(t, s, "/r", set(prop("a", "0"), prop("b", "0"))...)
	mustPatch(t, s, "/r",
		props.Op{Prop: prop("a", "1")},
		props.Op{Prop: prop("a", "2")},
		remove("missing"),
		props.Op{Prop: prop("c", "1")},
		remove("c"),
		remove("b"),
		props.Op{Prop: prop("b", "3")},
	)
	wantProps(t, s, "/r", prop("a", "2"), prop("b", "3"))
	mustPatch(t, s, "/r", remove("a"), remove("b"))
	wantProps(t, s, "/r")
	if m, err := s.GetDir(context.Background(), "/"); err != nil || len(m) != 0 {
		t.Errorf("GetDir after removing every property = %v, %v", m, err)
	}
}

func testPropsAtomic(t *testing.T, newStore func(*testing.T) props.Store) {
	s := newStore(t)
	mustPatch(t, s, "/r", set(prop("a", "1"))...)
	huge := prop("huge", strings.Repeat("x", 2<<20))
	err := s.Patch(context.Background(), "/r", []props.Op{{Prop: prop("a", "2")}, {Prop: prop("b", "2")}, {Prop: huge}})
	if !errors.Is(err, props.ErrTooLarge) {
		t.Fatalf("Patch with a 2 MiB value: %v, want ErrTooLarge", err)
	}
	wantProps(t, s, "/r", prop("a", "1"))
	err = s.Patch(context.Background(), "/new", []props.Op{{Prop: prop("a", "2")}, {Prop: huge}})
	if !errors.Is(err, props.ErrTooLarge) {
		t.Fatalf("Patch with a 2 MiB value: %v, want ErrTooLarge", err)
	}
	wantProps(t, s, "/new")
	// Many values each under the per-value limit can still exceed the per-resource one.
	var ops []props.Op
	for i := range 64 {
		ops = append(ops, props.Op{Prop: prop(fmt.Sprint("p", i), strings.Repeat("y", 32<<10))})
	}
	if err := s.Patch(context.Background(), "/r", ops); !errors.Is(err, props.ErrTooLarge) {
		t.Fatalf("Patch of 2 MiB in 64 values: %v, want ErrTooLarge", err)
	}
	wantProps(t, s, "/r", prop("a", "1"))
}

// tree is a set of paths chosen to trap prefix mistakes: "/a" versus "/a-b", "/a.b", "/ab" and
// "/a b", whose bytes sort between "/a" and "/a/".
var tree = []davpath.Path{"/", "/a", "/a/x", "/a/x/y", "/a/z", "/a-b", "/a.b", "/a b", "/ab", "/ab/y", "/b", "/b/a", "/é"}

func seed(t *testing.T, s props.Store) {
	t.Helper()
	for _, p := range tree {
		mustPatch(t, s, p, set(prop("id", string(p)))...)
	}
}

func testPropsGetDir(t *testing.T, newStore func(*testing.T) props.Store) {
	s := newStore(t)
	seed(t, s)
	mustPatch(t, s, "/a/x", props.Op{Prop: prop("second", "2")})
	for _, tc := range []struct {
		dir  davpath.Path
		want []string
	}{
		{"/", []string{"a", "a-b", "a.b", "a b", "ab", "b", "é"}},
		{"/a", []string{"x", "z"}},
		{"/a/x", []string{"y"}},
		{"/ab", []string{"y"}},
		{"/a/x/y", nil},
		{"/nothing", nil},
	} {
		got, err := s.GetDir(context.Background(), tc.dir)
		if err != nil {
			t.Fatalf("GetDir(%s): %v", tc.dir, err)
		}
		names := slices.Sorted(maps.Keys(got))
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(names, want) {
			t.Errorf("GetDir(%s) members = %q, want %q", tc.dir, names, want)
		}
		for name, ps := range got {
			if want := tc.dir.Join(name); name == "x" {
				if g, w := propString(ps), propString([]props.Property{prop("id", string(want)), prop("second", "2")}); g != w {
					t.Errorf("GetDir(%s)[%s] = %s, want %s", tc.dir, name, g, w)
				}
			} else if g, w := propString(ps), propString([]props.Property{prop("id", string(want))}); g != w {
				t.Errorf("GetDir(%s)[%s] = %s, want %s", tc.dir, name, g, w)
			}
		}
	}
}

// expectTree checks the whole store against want: path → the "id" property's value.
func expectTree(t *testing.T, s props.Store, extra []davpath.Path, want map[davpath.Path]string) {
	t.Helper()
	all := slices.Concat(tree, extra)
	got := dump(t, s, all...)
	w := make(map[davpath.Path]string)
	for p, id := range want {
		w[p] = propString([]props.Property{prop("id", id)})
	}
	for _, p := range all {
		if got[p] != w[p] {
			t.Errorf("%s: %s, want %s", p, cmp.Or(got[p], "none"), cmp.Or(w[p], "none"))
		}
	}
}

// seeded returns the expected content right after seed.
func seeded() map[davpath.Path]string {
	m := make(map[davpath.Path]string)
	for _, p := range tree {
		m[p] = string(p)
	}
	return m
}

func testPropsCopy(t *testing.T, newStore func(*testing.T) props.Store) {
	ctx := context.Background()
	extra := []davpath.Path{"/c", "/c/x", "/c/x/y", "/c/z", "/c/old", "/c/old/deep"}
	t.Run("depth infinity", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		mustPatch(t, s, "/c/old/deep", set(prop("id", "stale"))...)
		if err := s.Copy(ctx, "/a", "/c", true); err != nil {
			t.Fatal(err)
		}
		want := seeded()
		want["/c"], want["/c/x"], want["/c/x/y"], want["/c/z"] = "/a", "/a/x", "/a/x/y", "/a/z"
		expectTree(t, s, extra, want)
	})
	t.Run("depth 0", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		mustPatch(t, s, "/c/old", set(prop("id", "stale"))...)
		if err := s.Copy(ctx, "/a", "/c", false); err != nil {
			t.Fatal(err)
		}
		want := seeded()
		want["/c"] = "/a"
		expectTree(t, s, extra, want)
	})
	t.Run("onto an existing resource", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		if err := s.Copy(ctx, "/ab", "/b", true); err != nil {
			t.Fatal(err)
		}
		want := seeded()
		want["/b"], want["/b/y"] = "/ab", "/ab/y"
		delete(want, "/b/a")
		expectTree(t, s, []davpath.Path{"/b/y"}, want)
	})
	t.Run("source without properties", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		if err := s.Copy(ctx, "/nothing", "/a", true); err != nil {
			t.Fatal(err)
		}
		want := seeded()
		delete(want, "/a")
		delete(want, "/a/x")
		delete(want, "/a/x/y")
		delete(want, "/a/z")
		expectTree(t, s, nil, want)
	})
}

func testPropsMove(t *testing.T, newStore func(*testing.T) props.Store) {
	ctx := context.Background()
	extra := []davpath.Path{"/m", "/m/x", "/m/x/y", "/m/z", "/m/stale"}
	t.Run("collection", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		mustPatch(t, s, "/m/stale", set(prop("id", "stale"))...)
		if err := s.Move(ctx, "/a", "/m"); err != nil {
			t.Fatal(err)
		}
		want := seeded()
		for _, p := range []davpath.Path{"/a", "/a/x", "/a/x/y", "/a/z"} {
			want[p.Rebase("/a", "/m")] = want[p]
			delete(want, p)
		}
		expectTree(t, s, extra, want)
		if m, _ := s.GetDir(ctx, "/a"); len(m) != 0 {
			t.Errorf("GetDir of the moved source = %v", m)
		}
	})
	t.Run("into a deeper collection", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		if err := s.Move(ctx, "/ab", "/b/a/ab"); err != nil {
			t.Fatal(err)
		}
		want := seeded()
		want["/b/a/ab"], want["/b/a/ab/y"] = "/ab", "/ab/y"
		delete(want, "/ab")
		delete(want, "/ab/y")
		expectTree(t, s, []davpath.Path{"/b/a/ab", "/b/a/ab/y"}, want)
	})
	t.Run("onto an existing member", func(t *testing.T) {
		s := newStore(t)
		seed(t, s)
		if err := s.Move(ctx, "/a/x/y", "/a/z"); err != nil {
			t.Fatal(err)
		}
		want := seeded()
		want["/a/z"] = "/a/x/y"
		delete(want, "/a/x/y")
		expectTree(t, s, nil, want)
	})
}

func testPropsDelete(t *testing.T, newStore func(*testing.T) props.Store) {
	s := newStore(t)
	seed(t, s)
	if err := s.Delete(context.Background(), "/a"); err != nil {
		t.Fatal(err)
	}
	want := seeded()
	delete(want, "/a")
	delete(want, "/a/x")
	delete(want, "/a/x/y")
	delete(want, "/a/z")
	expectTree(t, s, nil, want)
	if err := s.Delete(context.Background(), "/nothing"); err != nil {
		t.Errorf("Delete of a path without properties: %v", err)
	}
	if err := s.Delete(context.Background(), "/ab/y"); err != nil {
		t.Fatal(err)
	}
	delete(want, "/ab/y")
	expectTree(t, s, nil, want)
}

func testPropsRoot(t *testing.T, newStore func(*testing.T) props.Store) {
	ctx := context.Background()
	s := newStore(t)
	seed(t, s)
	wantProps(t, s, "/", prop("id", "/"))
	if m, _ := s.GetDir(ctx, "/"); m[""] != nil {
		t.Errorf("GetDir(/) lists the root itself")
	}
	if err := s.Copy(ctx, "/", "/a/x/y/copy", false); err != nil {
		t.Fatal(err)
	}
	wantProps(t, s, "/a/x/y/copy", prop("id", "/"))
	if err := s.Delete(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	expectTree(t, s, []davpath.Path{"/a/x/y/copy"}, nil)
}

func testPropsAliasing(t *testing.T, newStore func(*testing.T) props.Store) {
	ctx := context.Background()
	s := newStore(t)
	ops := set(prop("a", "value"))
	mustPatch(t, s, "/r", ops...)
	ops[0].Prop.Value[0] = 'X'
	got, err := s.Get(ctx, "/r")
	if err != nil {
		t.Fatal(err)
	}
	got[0].Value[0] = 'Y'
	dir, err := s.GetDir(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	dir["r"][0].Value[1] = 'Z'
	wantProps(t, s, "/r", prop("a", "value"))
	if err := s.Copy(ctx, "/r", "/c", true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "/c")
	got[0].Value[0] = 'W'
	wantProps(t, s, "/r", prop("a", "value"))
}

func testPropsConcurrent(t *testing.T, newStore func(*testing.T) props.Store) {
	ctx := context.Background()
	s := newStore(t)
	const workers, rounds = 6, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				name := fmt.Sprintf("w%d", w)
				if err := s.Patch(ctx, "/shared", set(prop(name, fmt.Sprint(i)))); err != nil {
					t.Error(err)
					return
				}
				if err := s.Patch(ctx, davpath.Path(fmt.Sprintf("/d/%d", w)), set(prop("n", fmt.Sprint(i)))); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.GetDir(ctx, "/d"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var want []props.Property
	for w := range workers {
		want = append(want, prop(fmt.Sprintf("w%d", w), fmt.Sprint(rounds-1)))
	}
	wantProps(t, s, "/shared", want...)
	if m, _ := s.GetDir(ctx, "/d"); len(m) != workers {
		t.Errorf("GetDir(/d) has %d members, want %d", len(m), workers)
	}
}
