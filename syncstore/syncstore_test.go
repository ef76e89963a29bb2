package syncstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	. "github.com/davd/davd/syncstore"
	"github.com/davd/davd/syncstore/synctest"
)

func TestCompare(t *testing.T) {
	// A depth-first walk with sorted siblings: a collection, then its members, then the next
	// sibling, even when the sibling's name sorts between "a" and "a/" byte-wise.
	want := []string{"a", "a/b", "a/z", "a-b", "b", "b/c/d", "ba"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, Compare)
	if !slices.Equal(got, want) {
		t.Fatalf("sorted %v, want %v", got, want)
	}
	if Compare("x/y", "x/y") != 0 {
		t.Fatal("equal paths do not compare equal")
	}
}

func TestMemory(t *testing.T) { synctest.Conformance(t, NewMemory(3, 0), 3) }

func TestMemoryTotalBound(t *testing.T) {
	m := NewMemory(8, 4)
	ctx := context.Background()
	old, _ := m.Save(ctx, Key{Root: "/a"}, entries(Entry{Path: "1"}, Entry{Path: "2"}, Entry{Path: "3"}))
	cur, _ := m.Save(ctx, Key{Root: "/b"}, entries(Entry{Path: "1"}, Entry{Path: "2"}))
	if _, err := load(t, m, Key{Root: "/a"}, old); !errors.Is(err, ErrUnknown) {
		t.Fatalf("oldest snapshot kept past the total bound: %v", err)
	}
	if _, err := load(t, m, Key{Root: "/b"}, cur); err != nil {
		t.Fatalf("newest snapshot lost: %v", err)
	}
}

func entries(es ...Entry) func(func(Entry) bool) {
	return func(yield func(Entry) bool) {
		for _, e := range es {
			if !yield(e) {
				return
			}
		}
	}
}

func load(t *testing.T, s Store, k Key, id string) ([]Entry, error) {
	t.Helper()
	var out []Entry
	for e, err := range s.Load(context.Background(), k, id) {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}
