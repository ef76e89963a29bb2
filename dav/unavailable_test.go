package dav_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net/http"
	"testing"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// down is a backend whose services are out: every call fails with storage.ErrUnavailable, as
// the cluster backend's do when etcd or S3 does not answer.
type down struct{}

var errDown = fmt.Errorf("etcd: %w", storage.ErrUnavailable)

func (down) Stat(context.Context, davpath.Path) (storage.Info, error) {
	return storage.Info{}, errDown
}
func (down) List(context.Context, davpath.Path) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) { yield(storage.Info{}, errDown) }
}
func (down) Open(context.Context, davpath.Path) (storage.File, storage.Info, error) {
	return nil, storage.Info{}, errDown
}
func (down) Put(context.Context, davpath.Path, io.Reader, storage.PutOptions) (bool, storage.Info, error) {
	return false, storage.Info{}, errDown
}
func (down) Mkcol(context.Context, davpath.Path) error  { return errDown }
func (down) Remove(context.Context, davpath.Path) error { return errDown }

// A backend outage is 503 with Retry-After (RFC 9110 sections 15.6.4 and 10.2.3), never a 500,
// whatever the method.
func TestBackendUnavailable(t *testing.T) {
	e := newEnv(t, func(c *dav.Config) { c.Storage = down{} })
	for _, m := range []string{"GET", "PUT", "PROPFIND", "DELETE", "MKCOL"} {
		w := e.do(m, "/x", hdr{"Depth": "0"}, "")
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s: %d, Retry-After %q; want 503 with Retry-After", m, w.Code, w.Header().Get("Retry-After"))
		}
	}
}

// downBelow answers that /x does not exist, and fails everything else: a LOCK of the unmapped
// /x must then report the outage of its parent's Stat, not a missing parent (409), which a
// client would take as final (seen when the etcd leader was killed under load).
type downBelow struct{ down }

func (downBelow) Stat(_ context.Context, p davpath.Path) (storage.Info, error) {
	if p == "/x" {
		return storage.Info{}, fs.ErrNotExist
	}
	return storage.Info{}, errDown
}

func TestLockUnmappedBackendUnavailable(t *testing.T) {
	e := newEnv(t, func(c *dav.Config) { c.Storage = downBelow{} })
	w := e.do("LOCK", "/x", hdr{"Timeout": "Second-60"}, `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("LOCK of an unmapped URL whose parent cannot be read: %d, want 503", w.Code)
	}
}
