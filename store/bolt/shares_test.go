package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/davd/davd/share"
	"github.com/davd/davd/share/sharetest"
	"github.com/davd/davd/store/bolt"
)

// TestShares: the share links survive a restart of the store.
func TestShares(t *testing.T) {
	path := filepath.Join(t.TempDir(), "davd.db")
	var db *bolt.DB
	open := func(t *testing.T) share.Store {
		var err error
		if db, err = bolt.Open(path, bolt.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db.Shares()
	}
	reopen := func(t *testing.T, _ share.Store) share.Store {
		db.Close()
		return open(t)
	}
	sharetest.TestStore(t, open, reopen)
}
