// Package synctest is the conformance suite every syncstore.Store runs.
package synctest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/davd/davd/syncstore"
)

func entriesOf(es ...syncstore.Entry) func(func(syncstore.Entry) bool) {
	return func(yield func(syncstore.Entry) bool) {
		for _, e := range es {
			if !yield(e) {
				return
			}
		}
	}
}

func load(t *testing.T, s syncstore.Store, k syncstore.Key, id string) ([]syncstore.Entry, error) {
	t.Helper()
	var out []syncstore.Entry
	for e, err := range s.Load(context.Background(), k, id) {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Conformance runs the Store contract against s, which keeps perKey snapshots per Key.
func Conformance(t *testing.T, s syncstore.Store, perKey int) {
	ctx := context.Background()
	k := syncstore.Key{Root: "/c", Principal: "u"}
	a := []syncstore.Entry{{Path: "a", Tag: 1}, {Path: "d", Dir: true, Tag: 2}}
	id1, err := s.Save(ctx, k, entriesOf(a...))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := load(t, s, k, id1); err != nil || !slices.Equal(got, a) {
		t.Fatalf("load = %v, %v; want %v", got, err, a)
	}
	// An unchanged collection keeps its token.
	if id, err := s.Save(ctx, k, entriesOf(a...)); err != nil || id != id1 {
		t.Fatalf("same entries saved as %q (%v), want %q", id, err, id1)
	}
	b := append(slices.Clone(a), syncstore.Entry{Path: "e", Tag: 3})
	id2, err := s.Save(ctx, k, entriesOf(b...))
	if err != nil || id2 == id1 {
		t.Fatalf("changed entries saved as %q (%v)", id2, err)
	}
	if got, err := load(t, s, k, id1); err != nil || !slices.Equal(got, a) {
		t.Fatalf("older snapshot = %v, %v", got, err)
	}
	// A token is bound to its Key: another user, collection or level does not find it.
	for _, other := range []syncstore.Key{{Root: "/c", Principal: "v"}, {Root: "/d", Principal: "u"}, {Root: "/c", Principal: "u", Infinite: true}} {
		if _, err := load(t, s, other, id1); !errors.Is(err, syncstore.ErrUnknown) {
			t.Fatalf("load under %+v: %v, want syncstore.ErrUnknown", other, err)
		}
	}
	if _, err := load(t, s, k, "nope"); !errors.Is(err, syncstore.ErrUnknown) {
		t.Fatalf("unknown id: %v", err)
	}
	// Past perKey snapshots the oldest are forgotten.
	for i := range perKey {
		if _, err := s.Save(ctx, k, entriesOf(syncstore.Entry{Path: "x", Tag: uint64(100 + i)})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := load(t, s, k, id1); !errors.Is(err, syncstore.ErrUnknown) {
		t.Fatalf("snapshot past the bound: %v, want syncstore.ErrUnknown", err)
	}
	// An empty collection is a snapshot too.
	id3, err := s.Save(ctx, syncstore.Key{Root: "/empty"}, entriesOf())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := load(t, s, syncstore.Key{Root: "/empty"}, id3); err != nil || len(got) != 0 {
		t.Fatalf("empty snapshot = %v, %v", got, err)
	}
}
