package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/davd/davd/davpath"
	"path/filepath"
	"testing"

	"github.com/davd/davd/store/bolt"
	"github.com/davd/davd/syncstore"
	"github.com/davd/davd/syncstore/synctest"
)

func TestSyncConformance(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	synctest.Conformance(t, db.Sync(3, 0), 3)
}

// TestSyncSurvivesReopen: a snapshot bigger than one batch is read back whole, in order,
// after the file is closed and opened again.
func TestSyncSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	key := syncstore.Key{Root: "/c", Principal: "u", Infinite: true}
	const n = 5000
	id, err := db.Sync(0, 0).Save(context.Background(), key, func(yield func(syncstore.Entry) bool) {
		for i := range n {
			if !yield(syncstore.Entry{Path: string(rune('a' + i%26)), Tag: uint64(i)}) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	i := 0
	for e, err := range db.Sync(0, 0).Load(context.Background(), key, id) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Tag != uint64(i) {
			t.Fatalf("entry %d has tag %d", i, e.Tag)
		}
		i++
	}
	if i != n {
		t.Fatalf("read %d entries back, want %d", i, n)
	}
}

// TestSyncBound: the whole store holds at most maxEntries entries, across keys: the snapshots
// saved longest ago go first (their tokens become unknown, so their clients resync), never the
// one just saved; a key's own rotation gives its entries back; the bound holds across a reopen.
func TestSyncBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	entries := func(n, tag int) func(func(syncstore.Entry) bool) {
		return func(yield func(syncstore.Entry) bool) {
			for i := range n {
				if !yield(syncstore.Entry{Path: fmt.Sprintf("f%05d", i), Tag: uint64(tag)}) {
					return
				}
			}
		}
	}
	known := func(s *bolt.Sync, k syncstore.Key, id string) bool {
		for _, err := range s.Load(ctx, k, id) {
			if errors.Is(err, syncstore.ErrUnknown) {
				return false
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return true
	}
	key := func(root string) syncstore.Key { return syncstore.Key{Root: davpath.Path(root), Principal: "u"} }
	s := db.Sync(2, 250)
	x, err := s.Save(ctx, key("/x"), entries(40, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Ten changed snapshots of /y, 100 entries each: its rotation (2 per key) keeps 200 of
	// them counted, so /x's 40 still fit.
	var y string
	for i := range 10 {
		if y, err = s.Save(ctx, key("/y"), entries(100, i)); err != nil {
			t.Fatal(err)
		}
	}
	if !known(s, key("/x"), x) || !known(s, key("/y"), y) {
		t.Fatal("a rotation's forgotten snapshots were counted against the bound")
	}
	// /z's 100 pass the bound: the oldest snapshot of all (/x's) goes, then /y's older one.
	z, err := s.Save(ctx, key("/z"), entries(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	if known(s, key("/x"), x) {
		t.Error("the snapshot saved longest ago was kept past the bound")
	}
	if !known(s, key("/y"), y) || !known(s, key("/z"), z) {
		t.Error("a recent snapshot was forgotten")
	}
	// A snapshot larger than the bound is still kept: it is the one just saved.
	big, err := s.Save(ctx, key("/big"), entries(400, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !known(s, key("/big"), big) || known(s, key("/z"), z) {
		t.Error("saving a snapshot larger than the bound: it must stay, and the others go")
	}
	db.Close()
	if db, err = bolt.Open(path, bolt.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s = db.Sync(2, 250)
	if !known(s, key("/big"), big) {
		t.Fatal("the kept snapshot is gone after a reopen")
	}
	// The count survived the reopen: one more snapshot evicts /big.
	w, err := s.Save(ctx, key("/w"), entries(10, 0))
	if err != nil {
		t.Fatal(err)
	}
	if known(s, key("/big"), big) || !known(s, key("/w"), w) {
		t.Error("after a reopen the bound did not evict the oldest snapshot")
	}
}
