package osfs_test

import (
	"testing"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/osfs"
)

// newFS serves a fresh temporary directory.
func newFS(t testing.TB, opt osfs.Options) (*osfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := osfs.New(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, dir
}

func TestConformance(t *testing.T) {
	davtest.TestBackend(t, func(t *testing.T) storage.Backend { f, _ := newFS(t, osfs.Options{}); return f })
}
