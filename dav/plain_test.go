package dav_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
)

// fixedTimeFS reports every resource with the modification time t: the zero time and the Unix
// epoch, which http.ServeContent takes for no time at all.
type fixedTimeFS struct {
	*memfs.FS
	t time.Time
}

func (f fixedTimeFS) Open(ctx context.Context, p davpath.Path) (storage.File, storage.Info, error) {
	file, info, err := f.FS.Open(ctx, p)
	info.ModTime = f.t
	return file, info, err
}

// TestPlainGetIsServeContent: a GET or HEAD that sent no Range and no conditional is answered
// by servePlain, not http.ServeContent (RFC 9110 §13, §14); its status, header fields and body
// must be the ones ServeContent gives. The same request with a conditional that holds
// (If-None-Match naming another tag, If-Modified-Since long before the file's time) goes
// through ServeContent, and must get the same response.
func TestPlainGetIsServeContent(t *testing.T) {
	big := make([]byte, 300<<10)
	rand.Read(big)
	files := map[string][]byte{
		"/a.bin":     big[:4096],
		"/big.dat":   big,
		"/empty.txt": nil,
		"/page.html": []byte("<p>hi</p>"),
		"/notes.md":  []byte("# notes"),
	}
	stores := map[string]func() storage.Backend{
		"memfs":      func() storage.Backend { return memfs.New() },
		"zero time":  func() storage.Backend { return fixedTimeFS{memfs.New(), time.Time{}} },
		"Unix epoch": func() storage.Backend { return fixedTimeFS{memfs.New(), time.Unix(0, 0)} },
	}
	slow := []map[string]string{
		{"If-None-Match": `"no-such-tag"`},
		{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
		{"If-Unmodified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
		{"If-Match": "*"},
	}
	extras := []map[string]string{
		nil,
		{"Want-Repr-Digest": "sha-256=5"},
		{"If-Range": `"a-tag"`}, // without a Range it means nothing, to either path
	}
	for sname, mk := range stores {
		fs := mk()
		h, err := dav.New(dav.Config{Storage: fs})
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			req := httptest.NewRequest("PUT", name, bytes.NewReader(b))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				t.Fatalf("PUT %s: %d", name, w.Code)
			}
		}
		// A wrapper that compresses sets Content-Encoding first: ServeContent then leaves the
		// length out, and so must servePlain.
		encoded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			h.ServeHTTP(w, r)
		})
		for hname, handler := range map[string]http.Handler{"": h, "Content-Encoding set": encoded} {
			for _, method := range []string{"GET", "HEAD"} {
				for name := range files {
					for _, extra := range extras {
						do := func(more map[string]string) *httptest.ResponseRecorder {
							req := httptest.NewRequest(method, name, nil)
							for k, v := range extra {
								req.Header.Set(k, v)
							}
							for k, v := range more {
								req.Header.Set(k, v)
							}
							w := httptest.NewRecorder()
							handler.ServeHTTP(w, req)
							return w
						}
						plain := do(nil)
						if plain.Code != http.StatusOK || (method == "GET" && !bytes.Equal(plain.Body.Bytes(), files[name])) {
							t.Fatalf("%s %s %s (%s, %v): %d, %d bytes", sname, hname, method, name, extra, plain.Code, plain.Body.Len())
						}
						for _, cond := range slow {
							full := do(cond)
							if full.Code != plain.Code || !reflect.DeepEqual(full.Header(), plain.Header()) || !bytes.Equal(full.Body.Bytes(), plain.Body.Bytes()) {
								t.Errorf("%s %s %s %s %v: plain answer differs from ServeContent's (with %v):\n plain %d %v\n full  %d %v",
									sname, hname, method, name, extra, cond, plain.Code, plain.Header(), full.Code, full.Header())
							}
						}
					}
				}
			}
		}
	}
}

// TestPlainRequest: only a request without Range and without the four conditionals of RFC 9110
// §13.1 is plain; If-Range alone is (it applies only to a Range, §13.1.5).
func TestPlainRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/f", nil)
	if !dav.PlainRequest(r) {
		t.Fatal("a bare GET is not plain")
	}
	r.Header.Set("If-Range", `"x"`)
	if !dav.PlainRequest(r) {
		t.Fatal("If-Range without Range is not plain")
	}
	for _, k := range []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		r := httptest.NewRequest("GET", "/f", nil)
		r.Header.Set(k, "x")
		if dav.PlainRequest(r) {
			t.Errorf("a GET with %s is plain", k)
		}
	}
}
