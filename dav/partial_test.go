package dav_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/storage/osfs"
)

// partialEnvs: the engine over memfs and over osfs, for the partial PUT tests.
func partialEnvs(t *testing.T) map[string]*env {
	fsys, err := osfs.New(t.TempDir(), osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*env{
		"memfs": newEnv(t),
		"osfs":  newEnv(t, func(c *dav.Config) { c.Storage = fsys }),
	}
}

// TestPartialPut: RFC 9110 §14.5 partial PUT with Content-Range (§14.4): the body replaces or
// extends the bytes it names, atomically; anything that cannot be applied exactly leaves the
// old content as it was.
func TestPartialPut(t *testing.T) {
	for name, e := range partialEnvs(t) {
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			want := func(content string) {
				t.Helper()
				if code, got := e.get("/f"); code != 200 || got != content {
					t.Fatalf("GET /f = %d %q, want %q", code, got, content)
				}
			}
			e.put("/f", "0123456789")
			e.mustDo(204, "PUT", "/f", hdr{"Content-Range": "bytes 2-4/*"}, "abc")
			want("01abc56789")
			// A resumed upload: the next range starts at the current end.
			w := e.mustDo(204, "PUT", "/f", hdr{"Content-Range": "bytes 10-12/13"}, "XYZ")
			want("01abc56789XYZ")
			etag := w.Header().Get("ETag")
			if etag == "" {
				t.Fatal("partial PUT answered no ETag")
			}
			t.Run("a range past the end is 416 naming the size", func(t *testing.T) {
				w := e.with(t).mustDo(416, "PUT", "/f", hdr{"Content-Range": "bytes 20-21/*"}, "no")
				if got := w.Header().Get("Content-Range"); got != "bytes */13" {
					t.Fatalf("416 Content-Range = %q, want bytes */13", got)
				}
				want("01abc56789XYZ")
			})
			t.Run("invalid Content-Range is 400", func(t *testing.T) {
				for _, v := range []string{"bytes 5-2/10", "bytes 0-9/5", "bytes 0-2/3x", "items 0-2/3", "bytes */13",
					"bytes -1-1/3", "bytes 0-2", "bytes 0--2/3", "bytes +0-2/3", "bytes 0 -2/3", "bytes 99999999999999999999-1/*"} {
					e.with(t).mustDo(400, "PUT", "/f", hdr{"Content-Range": v}, "abc")
				}
				want("01abc56789XYZ")
			})
			t.Run("a body of another length is 400", func(t *testing.T) {
				e.with(t).mustDo(400, "PUT", "/f", hdr{"Content-Range": "bytes 0-4/*"}, "ab")
				want("01abc56789XYZ")
			})
			t.Run("chunked bodies shorter or longer than the range are 400", func(t *testing.T) {
				for _, body := range []string{"ab", "abcdefgh"} {
					r := httptest.NewRequest("PUT", "/f", io.MultiReader(strings.NewReader(body)))
					r.ContentLength = -1
					r.Header.Set("Content-Range", "bytes 0-4/*")
					rec := httptest.NewRecorder()
					e.h.ServeHTTP(rec, r)
					if rec.Code != 400 {
						t.Fatalf("chunked %q for 5 bytes: %d, want 400", body, rec.Code)
					}
				}
				want("01abc56789XYZ")
			})
			t.Run("conditional headers apply", func(t *testing.T) {
				e.with(t).mustDo(412, "PUT", "/f", hdr{"Content-Range": "bytes 0-0/*", "If-Match": `"other"`}, "!")
				want("01abc56789XYZ")
				e.with(t).mustDo(204, "PUT", "/f", hdr{"Content-Range": "bytes 0-0/*", "If-Match": etag}, "!")
				want("!1abc56789XYZ")
			})
			t.Run("a known complete length cuts off the rest", func(t *testing.T) {
				e.with(t).mustDo(204, "PUT", "/f", hdr{"Content-Range": "bytes 0-1/2"}, "hi")
				want("hi")
			})
			t.Run("locks apply", func(t *testing.T) {
				e := e.with(t)
				tok := e.lock("/f", nil, exclusive)
				e.mustDo(423, "PUT", "/f", hdr{"Content-Range": "bytes 2-2/*"}, "!")
				e.mustDo(204, "PUT", "/f", hdr{"Content-Range": "bytes 2-2/*", "If": "(<" + tok + ">)"}, "!")
				want("hi!")
				e.mustDo(204, "UNLOCK", "/f", hdr{"Lock-Token": "<" + tok + ">"}, "")
			})
			t.Run("a missing resource starts at 0", func(t *testing.T) {
				e := e.with(t)
				w := e.mustDo(416, "PUT", "/new", hdr{"Content-Range": "bytes 3-4/*"}, "no")
				if got := w.Header().Get("Content-Range"); got != "bytes */0" {
					t.Fatalf("416 Content-Range = %q, want bytes */0", got)
				}
				e.mustDo(201, "PUT", "/new", hdr{"Content-Range": "bytes 0-2/6"}, "abc")
				e.mustDo(204, "PUT", "/new", hdr{"Content-Range": "bytes 3-5/6"}, "def")
				if _, got := e.get("/new"); got != "abcdef" {
					t.Fatalf("GET /new = %q", got)
				}
				e.mustDo(409, "PUT", "/none/x", hdr{"Content-Range": "bytes 0-0/*"}, "x")
			})
			t.Run("a range inside a large file keeps every other byte", func(t *testing.T) {
				e := e.with(t)
				old := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
				e.put("/big", old)
				mid := strings.Repeat("Z", 100_000)
				e.mustDo(204, "PUT", "/big", hdr{"Content-Range": fmt.Sprintf("bytes 300001-%d/*", 300000+len(mid))}, mid)
				if _, got := e.get("/big"); got != old[:300001]+mid+old[300001+len(mid):] {
					t.Fatal("the spliced content differs")
				}
			})
			t.Run("a collection is 405", func(t *testing.T) {
				e := e.with(t)
				e.mustDo(201, "MKCOL", "/c", nil, "")
				e.mustDo(405, "PUT", "/c", hdr{"Content-Range": "bytes 0-0/*"}, "x")
			})
		})
	}
}

// FuzzContentRange: the parser never panics, and whatever it accepts is a range a PUT can
// apply (first <= last, below a known complete length).
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-1/2", "bytes 2-4/*", "bytes */10", "bytes 5-2/10", "BYTES 0-0/1", "bytes  0-0/*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		first, last, complete, ok := dav.ParseContentRange(v)
		if !ok {
			return
		}
		if first < 0 || last < first || (complete >= 0 && last >= complete) {
			t.Fatalf("%q accepted as %d-%d/%d", v, first, last, complete)
		}
	})
}
