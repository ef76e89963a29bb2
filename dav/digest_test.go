package dav_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/storage/osfs"
)

func sha1hex(s string) string { h := sha1.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
func md5hex(s string) string  { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
func sha256b64(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

const ocChecksumsProp = `<D:propfind xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns"><D:prop><oc:checksums/><D:getetag/></D:prop></D:propfind>`

// TestChecksums: OC-Checksum and RFC 9530 Repr-Digest are verified on PUT while the body
// streams (a mismatch is a 400 and the old content stays), Want-Repr-Digest is answered on PUT
// and GET, oc:checksums reports the digests known for the current content, PATCH
// X-Recalculate-Hash answers OC-Checksum, and the digests davd keeps are never shown to clients
// nor settable by them. On memfs and osfs; on osfs a change made on disk outside davd makes
// the kept digests stale.
func TestChecksums(t *testing.T) {
	dir := t.TempDir()
	fsys, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	envs := map[string]*env{"memfs": newEnv(t), "osfs": newEnv(t, func(c *dav.Config) { c.Storage = fsys })}
	for name, e := range envs {
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			content := func(want string) {
				t.Helper()
				if _, got := e.get("/f"); got != want {
					t.Fatalf("GET /f = %q, want %q", got, want)
				}
			}
			e.mustDo(201, "PUT", "/f", hdr{"OC-Checksum": "SHA1:" + sha1hex("hello")}, "hello")
			b := e.mustDo(207, "PROPFIND", "/f", hdr{"Depth": "0"}, ocChecksumsProp).Body.String()
			if !strings.Contains(b, "SHA1:"+sha1hex("hello")+" MD5:"+md5hex("hello")) {
				t.Fatalf("oc:checksums lacks the SHA1 the upload was verified with:\n%s", b)
			}
			t.Run("a mismatch is 400 and keeps the old content", func(t *testing.T) {
				e := e.with(t)
				e.mustDo(400, "PUT", "/f", hdr{"OC-Checksum": "SHA1:" + sha1hex("other")}, "hullo")
				e.mustDo(400, "PUT", "/f", hdr{"OC-Checksum": "md5:" + md5hex("other")}, "hullo")
				e.mustDo(400, "PUT", "/f", hdr{"Repr-Digest": "sha-256=:" + sha256b64("other") + ":"}, "hullo")
				r := httptest.NewRequest("PUT", "/f", io.MultiReader(strings.NewReader("hullo")))
				r.ContentLength = -1
				r.Header.Set("OC-Checksum", "SHA1:"+sha1hex("other"))
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, r)
				if w.Code != 400 {
					t.Fatalf("chunked PUT with a wrong checksum: %d", w.Code)
				}
				content("hello")
				e.mustDo(400, "PUT", "/f", hdr{"OC-Checksum": "SHA1:zz"}, "hullo")
				e.mustDo(400, "PUT", "/f", hdr{"OC-Checksum": "SHA1:abcd"}, "hullo")
				content("hello")
			})
			t.Run("unknown kinds and unparsable digest fields are not checked", func(t *testing.T) {
				e := e.with(t)
				e.mustDo(204, "PUT", "/f", hdr{"OC-Checksum": "Adler32:062c0215", "Repr-Digest": "sha-256=notbytes, foo=:AA==:"}, "hello")
			})
			t.Run("Want-Repr-Digest is answered on PUT and GET", func(t *testing.T) {
				e := e.with(t)
				w := e.mustDo(204, "PUT", "/f", hdr{"Want-Repr-Digest": "sha-256=5", "Repr-Digest": "sha-256=:" + sha256b64("hello2") + ":"}, "hello2")
				if got, want := w.Header().Get("Repr-Digest"), "sha-256=:"+sha256b64("hello2")+":"; got != want {
					t.Fatalf("PUT Repr-Digest = %q, want %q", got, want)
				}
				for _, m := range []string{"GET", "HEAD"} {
					w = e.mustDo(200, m, "/f", hdr{"Want-Repr-Digest": "sha-512=3, sha-256=9"}, "")
					if got, want := w.Header().Get("Repr-Digest"), "sha-256=:"+sha256b64("hello2")+":"; got != want {
						t.Fatalf("%s Repr-Digest = %q, want %q", m, got, want)
					}
				}
				w = e.mustDo(206, "GET", "/f", hdr{"Want-Repr-Digest": "sha-512=1", "Range": "bytes=0-1"}, "")
				h := sha512.Sum512([]byte("hello2"))
				if got, want := w.Header().Get("Repr-Digest"), "sha-512=:"+base64.StdEncoding.EncodeToString(h[:])+":"; got != want {
					t.Fatalf("ranged GET Repr-Digest = %q, want %q (the whole representation's)", got, want)
				}
				if w := e.mustDo(200, "GET", "/f", hdr{"Want-Repr-Digest": "sha-256=0"}, ""); w.Header().Get("Repr-Digest") != "" {
					t.Fatal("Repr-Digest sent although sha-256 was marked not acceptable")
				}
			})
			t.Run("PATCH X-Recalculate-Hash", func(t *testing.T) {
				e := e.with(t)
				w := e.mustDo(200, "PATCH", "/f", hdr{"X-Recalculate-Hash": "sha1"}, "")
				if got := w.Header().Get("OC-Checksum"); got != "SHA1:"+sha1hex("hello2") {
					t.Fatalf("OC-Checksum = %q", got)
				}
				e.mustDo(405, "PATCH", "/f", nil, "")
				e.mustDo(404, "PATCH", "/missing", hdr{"X-Recalculate-Hash": "sha1"}, "")
			})
			t.Run("a partial PUT's digest is the whole new content's", func(t *testing.T) {
				e := e.with(t)
				e.mustDo(400, "PUT", "/f", hdr{"Content-Range": "bytes 6-7/8", "OC-Checksum": "SHA1:" + sha1hex("!!")}, "!!")
				content("hello2")
				e.mustDo(204, "PUT", "/f", hdr{"Content-Range": "bytes 6-7/8", "OC-Checksum": "SHA1:" + sha1hex("hello2!!")}, "!!")
				content("hello2!!")
			})
			t.Run("kept digests are hidden and protected", func(t *testing.T) {
				e := e.with(t)
				for _, body := range []string{allprop, `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`} {
					if b := e.mustDo(207, "PROPFIND", "/f", hdr{"Depth": "0"}, body).Body.String(); strings.Contains(b, "urn:x-davd:") {
						t.Fatalf("davd's own property shown:\n%s", b)
					}
				}
				b := e.mustDo(207, "PROPFIND", "/f", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><x:digests xmlns:x="urn:x-davd:"/></D:prop></D:propfind>`).Body.String()
				if !strings.Contains(b, "404") || strings.Contains(b, "SHA1") {
					t.Fatalf("davd's own property readable:\n%s", b)
				}
				b = e.mustDo(207, "PROPPATCH", "/f", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:digests xmlns:x="urn:x-davd:">"x" SHA1:00</x:digests></D:prop></D:set></D:propertyupdate>`).Body.String()
				if !strings.Contains(b, "403") {
					t.Fatalf("davd's own property settable:\n%s", b)
				}
			})
			if name != "osfs" {
				return
			}
			t.Run("a change on disk makes the kept digests stale", func(t *testing.T) {
				e := e.with(t)
				if err := os.WriteFile(filepath.Join(dir, "f"), []byte("changed on disk"), 0o644); err != nil {
					t.Fatal(err)
				}
				b := e.mustDo(207, "PROPFIND", "/f", hdr{"Depth": "0"}, ocChecksumsProp).Body.String()
				if strings.Contains(b, "SHA1:") {
					t.Fatalf("a stale checksum was reported:\n%s", b)
				}
				w := e.mustDo(200, "GET", "/f", hdr{"Want-Repr-Digest": "sha-256=1"}, "")
				if got, want := w.Header().Get("Repr-Digest"), "sha-256=:"+sha256b64("changed on disk")+":"; got != want {
					t.Fatalf("Repr-Digest after a change on disk = %q, want %q", got, want)
				}
			})
		})
	}
}

// FuzzDigestHeaders: OC-Checksum, Repr-Digest and Want-Repr-Digest never panic the parser, and
// whatever it accepts to verify is a digest of its algorithm's length, and what it answers with
// is sha-256 or sha-512.
func FuzzDigestHeaders(f *testing.F) {
	f.Add("SHA1:"+sha1hex("x"), "sha-256=:"+sha256b64("x")+":", "sha-256=5, sha-512=3")
	f.Add("MD5:zz Adler32:1", "sha-512=:AA==:;p=1, x", "sha-512=10;q, sha-256=0")
	f.Add("", "", "")
	size := map[string]int{"SHA1": 20, "MD5": 16, "SHA256": 32, "SHA512": 64}
	f.Fuzz(func(t *testing.T, oc, repr, want string) {
		lens, w, err := dav.ParseDigestHeaders(oc, repr, want)
		if err != nil {
			return
		}
		for a, n := range lens {
			if size[a] != n {
				t.Fatalf("%s digest of %d bytes accepted", a, n)
			}
		}
		if w != "" && w != "SHA256" && w != "SHA512" {
			t.Fatalf("answer algorithm %q", w)
		}
	})
}
