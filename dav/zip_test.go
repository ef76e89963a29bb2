package dav_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/memprops"
	"github.com/davd/davd/storage/osfs"
)

// hideTree refuses Read of one subtree, as a rule "/dir/secret = none" would.
type hideTree struct{ p davpath.Path }

func (d hideTree) Allow(_ context.Context, _ string, op access.Op, p davpath.Path) bool {
	return op != access.Read || !d.p.Contains(p)
}

// readZip parses an archive served by the engine and returns its members' contents by name
// (directories with a trailing "/" and no content).
func readZip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a valid zip (%d bytes): %v", len(b), err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		c, err := io.ReadAll(rc) // checks the member's CRC-32 at EOF
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got[f.Name] = string(c)
	}
	return got
}

func zipEnv(t *testing.T, dir string, pol access.Policy) *env {
	t.Helper()
	fsys, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	lm, _ := memlock.New(memlock.Options{})
	h, err := dav.New(dav.Config{Storage: fsys, Props: memprops.New(props.Limits{}), Locks: lm, Access: pol})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, h: h}
}

// TestZipDownload: GET /DIR/?download=zip (issue 18's interface) is the whole tree below DIR as
// one archive: every member the principal may read, byte-identical; empty folders kept; a denied
// subtree left out whole; a symbolic link out of the root never followed; a link to a folder
// inside the root listed but not entered (it may loop).
func TestZipDownload(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"top/a/b", "top/empty", "top/secret/deep"} {
		must(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	big := strings.Repeat("0123456789abcdef", 200_000) // 3.2 MB: many chunks of the copy
	files := map[string]string{
		"top/one.txt":              "one\n",
		"top/a/two.bin":            big,
		"top/a/b/three":            "",
		"top/secret/hidden.txt":    "hidden",
		"top/secret/deep/more.txt": "more",
		"top/a/name with spaces é": "accents",
	}
	for n, c := range files {
		must(os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644))
	}
	must(os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0"), 0o644))
	must(os.Symlink(outside, filepath.Join(dir, "top/escape")))
	must(os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(dir, "top/escape.txt")))
	must(os.Symlink("..", filepath.Join(dir, "top/a/loop")))

	e := zipEnv(t, dir, hideTree{"/top/secret"})
	w := e.mustDo(200, "GET", "/top/?download=zip", nil, "")
	if ct := w.Header().Get("Content-Type"); ct != "application/zip" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="top.zip"; filename*=UTF-8''top.zip` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
	got := readZip(t, w.Body.Bytes())
	want := map[string]string{
		"one.txt":              "one\n",
		"a/":                   "",
		"a/two.bin":            big,
		"a/b/":                 "",
		"a/b/three":            "",
		"a/name with spaces é": "accents",
		"a/loop/":              "",
		"empty/":               "",
	}
	for n, c := range want {
		g, ok := got[n]
		if !ok {
			t.Errorf("member %q missing", n)
		} else if g != c {
			t.Errorf("member %q: %d bytes, want %d", n, len(g), len(c))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("unexpected member %q (denied, outside the root, or through a loop)", n)
		}
	}

	// Members come in byte order of names, so an archive of the same tree is the same archive.
	zr, _ := zip.NewReader(bytes.NewReader(w.Body.Bytes()), int64(w.Body.Len()))
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("members not in order: %q", names)
	}
	// A selection keeps the named members with their subtrees; a denied or absent name adds
	// nothing, and a name selects at the top only (a/one.txt is not "one.txt").
	sel := readZip(t, e.mustDo(200, "GET", "/top/?download=zip&select=one.txt&select=a&select=secret&select=nothing&select=two.bin", nil, "").Body.Bytes())
	var selNames []string
	for n := range sel {
		selNames = append(selNames, n)
	}
	slices.Sort(selNames)
	if got := strings.Join(selNames, ","); got != "a/,a/b/,a/b/three,a/loop/,a/name with spaces é,a/two.bin,one.txt" {
		t.Errorf("selection archive: %s", got)
	}

	w2 := e.mustDo(200, "GET", "/top/?download=zip", nil, "")
	if !bytes.Equal(w.Body.Bytes(), w2.Body.Bytes()) {
		t.Error("two archives of the same tree differ")
	}

	// The root is "files.zip"; without the query, or with another value, the collection is the
	// listing as before; HEAD sends the headers alone.
	w = e.mustDo(200, "GET", "/?download=zip", nil, "")
	if cd := w.Header().Get("Content-Disposition"); !strings.Contains(cd, `filename="files.zip"`) {
		t.Errorf("root Content-Disposition %q", cd)
	}
	if _, ok := readZip(t, w.Body.Bytes())["top/one.txt"]; !ok {
		t.Error("root archive lacks top/one.txt")
	}
	for _, target := range []string{"/top/", "/top/?download=tar", "/top/?x=zip"} {
		w = e.mustDo(200, "GET", target, nil, "")
		if strings.HasPrefix(w.Header().Get("Content-Type"), "application/zip") {
			t.Errorf("GET %s answered a zip", target)
		}
	}
	w = e.mustDo(200, "HEAD", "/top/?download=zip", nil, "")
	if w.Body.Len() != 0 || w.Header().Get("Content-Type") != "application/zip" {
		t.Errorf("HEAD: %d bytes, %q", w.Body.Len(), w.Header().Get("Content-Type"))
	}

	// The target itself is checked like any GET: a denied folder is a 403, not an empty zip.
	e.mustDo(403, "GET", "/top/secret/?download=zip", nil, "")
	e.mustDo(404, "GET", "/nothing/?download=zip", nil, "")
}

// TestZipNameDisposition: a folder name with quotes, semicolons and non-ASCII letters cannot end
// the Content-Disposition value or add a parameter (RFC 6266, RFC 8187 §3.2.1).
func TestZipNameDisposition(t *testing.T) {
	dir := t.TempDir()
	name := `a"b;c=d é`
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	e := zipEnv(t, dir, nil)
	w := e.mustDo(200, "GET", "/"+strings.ReplaceAll(strings.ReplaceAll(name, `"`, "%22"), " ", "%20")+"/?download=zip", nil, "")
	cd := w.Header().Get("Content-Disposition")
	want := `attachment; filename="a_b;c=d _.zip"; filename*=UTF-8''a%22b%3Bc%3Dd%20%C3%A9.zip`
	if cd != want {
		t.Errorf("Content-Disposition\n got %s\nwant %s", cd, want)
	}
}

// cancelAfter is a ResponseWriter that cancels the request's context once n bytes went out, as
// net/http does when the client closes the connection.
type cancelAfter struct {
	h      http.Header
	n      int
	wrote  int
	cancel context.CancelFunc
}

func (c *cancelAfter) Header() http.Header { return c.h }
func (c *cancelAfter) WriteHeader(int)     {}
func (c *cancelAfter) Write(b []byte) (int, error) {
	c.wrote += len(b)
	if c.wrote >= c.n {
		c.cancel()
	}
	return len(b), nil
}

// TestZipClientGone: a client that goes away stops the walk: little more than what was written
// before the cancellation goes out, not the rest of the tree.
func TestZipClientGone(t *testing.T) {
	dir := t.TempDir()
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for i := range 40 {
		if err := os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i%26))+string(rune('a'+i/26))), chunk, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := zipEnv(t, dir, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rw := &cancelAfter{h: http.Header{}, n: 3 << 20, cancel: cancel}
	req := httptest.NewRequest("GET", "/?download=zip", nil).WithContext(ctx)
	e.h.ServeHTTP(rw, req)
	if rw.wrote > 4<<20 {
		t.Fatalf("the walk went on after the client left: %d bytes written of a 40 MiB tree", rw.wrote)
	}
	if rw.wrote < 3<<20 {
		t.Fatalf("only %d bytes written", rw.wrote)
	}
}
