package memfs_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
)

func TestConformance(t *testing.T) {
	davtest.TestBackend(t, func(t *testing.T) storage.Backend { return memfs.New() })
}

func TestCapacity(t *testing.T) {
	ctx := context.Background()
	f := memfs.New()
	f.SetCapacity(10)
	if _, _, err := f.Put(ctx, "/a", strings.NewReader("12345678"), storage.PutOptions{Size: 8}); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.Put(ctx, "/b", strings.NewReader("12345"), storage.PutOptions{Size: 5})
	if !errors.Is(err, storage.ErrInsufficientStorage) {
		t.Fatalf("Put beyond capacity: %v, want ErrInsufficientStorage", err)
	}
	if _, err := f.Stat(ctx, "/b"); err == nil {
		t.Errorf("/b exists after a failed Put")
	}
	// Replacing shrinks the usage first.
	if _, _, err := f.Put(ctx, "/a", strings.NewReader("1234567890"), storage.PutOptions{Size: 10}); err != nil {
		t.Fatalf("replace within capacity: %v", err)
	}
	avail, used, err := f.Quota(ctx, davpath.Root)
	if err != nil || avail != 0 || used != 10 {
		t.Errorf("Quota = %d, %d, %v; want 0, 10, nil", avail, used, err)
	}
	if err := f.Remove(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if avail, used, _ := f.Quota(ctx, davpath.Root); avail != 10 || used != 0 {
		t.Errorf("Quota after Remove = %d, %d; want 10, 0", avail, used)
	}
}
