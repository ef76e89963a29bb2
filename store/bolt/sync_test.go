package bolt_test

import (
	"context"
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
	synctest.Conformance(t, db.Sync(3), 3)
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
	id, err := db.Sync(0).Save(context.Background(), key, func(yield func(syncstore.Entry) bool) {
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
	for e, err := range db.Sync(0).Load(context.Background(), key, id) {
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
