package davtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// TestBackend runs the conformance suite for storage.Backend implementations: every sentence of
// the contract in package storage, and the optional fast paths (Renamer, Copier, TreeRemover,
// MtimeSetter, Quota) when the backend implements them. newBackend returns an empty backend
// whose root collection exists; it may register cleanups on the t it is given, which is the
// subtest's.
func TestBackend(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	t.Run("Stat root and missing", func(t *testing.T) { testBackendStat(t, newBackend(t)) })
	t.Run("Mkcol", func(t *testing.T) { testBackendMkcol(t, newBackend(t)) })
	t.Run("Put create and replace", func(t *testing.T) { testBackendPut(t, newBackend(t)) })
	t.Run("Put errors", func(t *testing.T) { testBackendPutErrors(t, newBackend(t)) })
	t.Run("Put size mismatch keeps old content", func(t *testing.T) { testBackendPutSize(t, newBackend(t)) })
	t.Run("Put body error keeps old content", func(t *testing.T) { testBackendPutBodyError(t, newBackend(t)) })
	t.Run("Put ModTime", func(t *testing.T) { testBackendPutModTime(t, newBackend(t)) })
	t.Run("ETag strong and changes on every write", func(t *testing.T) { testBackendETag(t, newBackend(t)) })
	t.Run("Open", func(t *testing.T) { testBackendOpen(t, newBackend(t)) })
	t.Run("List yields full Info equal to Stat", func(t *testing.T) { testBackendList(t, newBackend(t)) })
	t.Run("List errors and early stop", func(t *testing.T) { testBackendListErrors(t, newBackend(t)) })
	t.Run("Remove", func(t *testing.T) { testBackendRemove(t, newBackend(t)) })
	t.Run("names round trip", func(t *testing.T) { testBackendNames(t, newBackend(t)) })
	t.Run("context cancellation", func(t *testing.T) { testBackendCancel(t, newBackend(t)) })
	t.Run("Put cancelled mid-body keeps old content", func(t *testing.T) { testBackendPutCancel(t, newBackend(t)) })
	t.Run("concurrent Put and Open never see a partial file", func(t *testing.T) { testBackendConcurrent(t, newBackend(t)) })
	t.Run("Renamer", func(t *testing.T) { testBackendRename(t, newBackend(t)) })
	t.Run("Copier", func(t *testing.T) { testBackendCopy(t, newBackend(t)) })
	t.Run("TreeRemover", func(t *testing.T) { testBackendRemoveAll(t, newBackend(t)) })
	t.Run("MtimeSetter", func(t *testing.T) { testBackendSetModTime(t, newBackend(t)) })
	t.Run("Quota", func(t *testing.T) { testBackendQuota(t, newBackend(t)) })
}

// bkPath builds a canonical path from unescaped segments.
func bkPath(t testing.TB, segments ...string) davpath.Path {
	t.Helper()
	p, err := davpath.New(segments...)
	if err != nil {
		t.Fatalf("davpath.New(%q): %v", segments, err)
	}
	return p
}

// bkPut stores content at p and fails the test on error.
func bkPut(t testing.TB, b storage.Backend, p davpath.Path, content string) storage.Info {
	t.Helper()
	_, info, err := b.Put(context.Background(), p, strings.NewReader(content), storage.PutOptions{Size: int64(len(content))})
	if err != nil {
		t.Fatalf("Put(%s): %v", p, err)
	}
	return info
}

func bkMkcol(t testing.TB, b storage.Backend, p davpath.Path) {
	t.Helper()
	if err := b.Mkcol(context.Background(), p); err != nil {
		t.Fatalf("Mkcol(%s): %v", p, err)
	}
}

func bkStat(t testing.TB, b storage.Backend, p davpath.Path) storage.Info {
	t.Helper()
	info, err := b.Stat(context.Background(), p)
	if err != nil {
		t.Fatalf("Stat(%s): %v", p, err)
	}
	return info
}

// bkRead returns the content of p.
func bkRead(t testing.TB, b storage.Backend, p davpath.Path) string {
	t.Helper()
	f, _, err := b.Open(context.Background(), p)
	if err != nil {
		t.Fatalf("Open(%s): %v", p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return string(data)
}

// bkWantContent checks the content of p.
func bkWantContent(t testing.TB, b storage.Backend, p davpath.Path, want string) {
	t.Helper()
	if got := bkRead(t, b, p); got != want {
		t.Errorf("content of %s = %.40q (%d bytes), want %.40q (%d bytes)", p, got, len(got), want, len(want))
	}
}

// bkWantErr checks that err matches target.
func bkWantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// bkMissing checks that nothing is at p.
func bkMissing(t testing.TB, b storage.Backend, p davpath.Path) {
	t.Helper()
	_, err := b.Stat(context.Background(), p)
	bkWantErr(t, fmt.Sprintf("Stat(%s)", p), err, fs.ErrNotExist)
}

// bkList collects a listing, failing on a sequence error.
func bkList(t testing.TB, b storage.Backend, p davpath.Path) map[string]storage.Info {
	t.Helper()
	m := map[string]storage.Info{}
	for info, err := range b.List(context.Background(), p) {
		if err != nil {
			t.Fatalf("List(%s): %v", p, err)
		}
		if _, dup := m[info.Name]; dup {
			t.Errorf("List(%s) yields %q twice", p, info.Name)
		}
		m[info.Name] = info
	}
	return m
}

// bkNames returns the sorted member names of p.
func bkNames(t testing.TB, b storage.Backend, p davpath.Path) []string {
	t.Helper()
	var names []string
	for name := range bkList(t, b, p) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// bkSameInfo compares every field of two Infos (times by instant).
func bkSameInfo(t testing.TB, what string, got, want storage.Info) {
	t.Helper()
	if got.Name != want.Name || got.Size != want.Size || got.IsDir != want.IsDir || got.ETag != want.ETag ||
		!got.ModTime.Equal(want.ModTime) || !got.Created.Equal(want.Created) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// bkStrongETag checks the form of an entity tag: quoted, not weak.
func bkStrongETag(t testing.TB, what, etag string) {
	t.Helper()
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' || strings.Count(etag, `"`) != 2 {
		t.Errorf("%s: ETag %q is not a strong quoted entity tag", what, etag)
	}
}

func testBackendStat(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	root := bkStat(t, b, davpath.Root)
	if !root.IsDir || root.Name != "" {
		t.Errorf("Stat(/) = %+v, want a collection named \"\"", root)
	}
	if root.ETag != "" {
		bkStrongETag(t, "root", root.ETag)
	}
	bkMissing(t, b, bkPath(t, "nothing"))
	bkMissing(t, b, bkPath(t, "nothing", "below"))
	bkPut(t, b, bkPath(t, "file"), "x")
	// A non-collection in the middle of the path: nothing is there.
	bkMissing(t, b, bkPath(t, "file", "below"))
	bkMkcol(t, b, bkPath(t, "dir"))
	d := bkStat(t, b, bkPath(t, "dir"))
	if !d.IsDir || d.Name != "dir" || d.Size != 0 {
		t.Errorf("Stat(/dir) = %+v, want a collection named dir with size 0", d)
	}
	f := bkStat(t, b, bkPath(t, "file"))
	if f.IsDir || f.Name != "file" || f.Size != 1 || f.ModTime.IsZero() {
		t.Errorf("Stat(/file) = %+v", f)
	}
	if _, err := b.Stat(ctx, bkPath(t, "dir", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(/dir/x): %v, want fs.ErrNotExist", err)
	}
}

func testBackendMkcol(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	bkMkcol(t, b, bkPath(t, "a"))
	bkMkcol(t, b, bkPath(t, "a", "b"))
	if in := bkStat(t, b, bkPath(t, "a", "b")); !in.IsDir {
		t.Errorf("/a/b is not a collection: %+v", in)
	}
	bkWantErr(t, "Mkcol on existing collection", b.Mkcol(ctx, bkPath(t, "a")), fs.ErrExist)
	bkWantErr(t, "Mkcol on root", b.Mkcol(ctx, davpath.Root), fs.ErrExist)
	bkPut(t, b, bkPath(t, "f"), "content")
	bkWantErr(t, "Mkcol on existing file", b.Mkcol(ctx, bkPath(t, "f")), fs.ErrExist)
	bkWantContent(t, b, bkPath(t, "f"), "content")
	bkWantErr(t, "Mkcol with missing parent", b.Mkcol(ctx, bkPath(t, "missing", "x")), storage.ErrParentMissing)
	bkWantErr(t, "Mkcol with missing grandparent", b.Mkcol(ctx, bkPath(t, "missing", "x", "y")), storage.ErrParentMissing)
	bkWantErr(t, "Mkcol under a file", b.Mkcol(ctx, bkPath(t, "f", "x")), storage.ErrParentMissing)
	bkMissing(t, b, bkPath(t, "missing"))
}

func testBackendPut(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	p := bkPath(t, "doc.txt")
	created, info, err := b.Put(ctx, p, strings.NewReader("first"), storage.PutOptions{Size: 5})
	if err != nil || !created {
		t.Fatalf("Put new = created %v, %v; want true, nil", created, err)
	}
	if info.Name != "doc.txt" || info.Size != 5 || info.IsDir {
		t.Errorf("Put info = %+v", info)
	}
	bkSameInfo(t, "Put info vs Stat", info, bkStat(t, b, p))
	bkWantContent(t, b, p, "first")

	created, info, err = b.Put(ctx, p, strings.NewReader("second, longer"), storage.PutOptions{Size: -1})
	if err != nil || created {
		t.Fatalf("Put replace (unknown size) = created %v, %v; want false, nil", created, err)
	}
	bkSameInfo(t, "Put info vs Stat after replace", info, bkStat(t, b, p))
	bkWantContent(t, b, p, "second, longer")

	// Empty content.
	if _, info, err = b.Put(ctx, p, strings.NewReader(""), storage.PutOptions{Size: 0}); err != nil || info.Size != 0 {
		t.Fatalf("Put empty = %+v, %v", info, err)
	}
	bkWantContent(t, b, p, "")

	// Larger than any sensible copy buffer.
	big := strings.Repeat("0123456789abcdef", 200_000) // 3.2 MB
	if _, info, err = b.Put(ctx, p, strings.NewReader(big), storage.PutOptions{Size: int64(len(big))}); err != nil || info.Size != int64(len(big)) {
		t.Fatalf("Put big = %+v, %v", info, err)
	}
	bkWantContent(t, b, p, big)

	// In a sub-collection; only the resource appears in listings.
	bkMkcol(t, b, bkPath(t, "sub"))
	bkPut(t, b, bkPath(t, "sub", "x"), "in sub")
	bkWantContent(t, b, bkPath(t, "sub", "x"), "in sub")
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"doc.txt", "sub"}) {
		t.Errorf("List(/) = %q, want [doc.txt sub]", got)
	}
	if got := bkNames(t, b, bkPath(t, "sub")); !slices.Equal(got, []string{"x"}) {
		t.Errorf("List(/sub) = %q, want [x]", got)
	}
}

func testBackendPutErrors(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	put := func(p davpath.Path) error {
		_, _, err := b.Put(ctx, p, strings.NewReader("data"), storage.PutOptions{Size: 4})
		return err
	}
	bkMkcol(t, b, bkPath(t, "dir"))
	bkPut(t, b, bkPath(t, "dir", "member"), "m")
	bkPut(t, b, bkPath(t, "file"), "f")
	bkWantErr(t, "Put on a collection", put(bkPath(t, "dir")), storage.ErrIsDir)
	bkWantErr(t, "Put on the root", put(davpath.Root), storage.ErrIsDir)
	bkWantErr(t, "Put with missing parent", put(bkPath(t, "missing", "x")), storage.ErrParentMissing)
	bkWantErr(t, "Put with missing grandparent", put(bkPath(t, "missing", "x", "y")), storage.ErrParentMissing)
	bkWantErr(t, "Put under a file", put(bkPath(t, "file", "x")), storage.ErrParentMissing)
	if in := bkStat(t, b, bkPath(t, "dir")); !in.IsDir {
		t.Errorf("/dir changed: %+v", in)
	}
	bkWantContent(t, b, bkPath(t, "dir", "member"), "m")
	bkWantContent(t, b, bkPath(t, "file"), "f")
	bkMissing(t, b, bkPath(t, "missing"))
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"dir", "file"}) {
		t.Errorf("List(/) = %q, want [dir file]", got)
	}
}

func testBackendPutSize(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	p := bkPath(t, "f")
	bkPut(t, b, p, "old content")
	old := bkStat(t, b, p)
	for _, tc := range []struct {
		name string
		body string
		size int64
	}{
		{"shorter than announced", "short", 10},
		{"longer than announced", "much longer than announced", 3},
		{"empty but announced", "", 1},
		{"announced empty", "x", 0},
	} {
		_, _, err := b.Put(ctx, p, strings.NewReader(tc.body), storage.PutOptions{Size: tc.size})
		bkWantErr(t, tc.name, err, storage.ErrShortBody)
		bkWantContent(t, b, p, "old content")
		bkSameInfo(t, tc.name+": Stat after failed Put", bkStat(t, b, p), old)

		np := bkPath(t, "new")
		_, _, err = b.Put(ctx, np, strings.NewReader(tc.body), storage.PutOptions{Size: tc.size})
		bkWantErr(t, tc.name+" (new resource)", err, storage.ErrShortBody)
		bkMissing(t, b, np)
	}
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"f"}) {
		t.Errorf("List(/) after failed Puts = %q, want [f]", got)
	}
}

// bkFailReader yields n bytes, then fails with err.
type bkFailReader struct {
	n   int
	err error
}

func (r *bkFailReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'z'
	}
	r.n -= k
	return k, nil
}

func testBackendPutBodyError(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	p := bkPath(t, "f")
	bkPut(t, b, p, "old")
	errBody := errors.New("client went away")
	for _, size := range []int64{-1, 1 << 20} {
		_, _, err := b.Put(ctx, p, &bkFailReader{n: 600 << 10, err: errBody}, storage.PutOptions{Size: size})
		bkWantErr(t, fmt.Sprintf("Put with failing body (size %d)", size), err, errBody)
		bkWantContent(t, b, p, "old")
		_, _, err = b.Put(ctx, bkPath(t, "new"), &bkFailReader{n: 10, err: errBody}, storage.PutOptions{Size: size})
		bkWantErr(t, "Put new with failing body", err, errBody)
		bkMissing(t, b, bkPath(t, "new"))
	}
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"f"}) {
		t.Errorf("List(/) after failed Puts = %q, want [f]", got)
	}
}

func testBackendPutModTime(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	mt := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	p := bkPath(t, "f")
	_, info, err := b.Put(ctx, p, strings.NewReader("x"), storage.PutOptions{Size: 1, ModTime: mt})
	if err != nil {
		t.Fatal(err)
	}
	if !info.ModTime.Equal(mt) {
		t.Errorf("Put info ModTime = %v, want %v", info.ModTime, mt)
	}
	if got := bkStat(t, b, p).ModTime; !got.Equal(mt) {
		t.Errorf("Stat ModTime = %v, want %v", got, mt)
	}
	// Without ModTime, the time of the write.
	before := time.Now().Add(-2 * time.Second)
	_, info, err = b.Put(ctx, p, strings.NewReader("y"), storage.PutOptions{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(2*time.Second)) {
		t.Errorf("ModTime of a plain Put = %v, want about now", info.ModTime)
	}
}

func testBackendETag(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	mt := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	p := bkPath(t, "f")
	seen := map[string]int{}
	prev := ""
	for i := range 6 {
		// Same content, same size and the same client-set mtime every time: only the write
		// itself distinguishes the versions.
		_, info, err := b.Put(ctx, p, strings.NewReader("same"), storage.PutOptions{Size: 4, ModTime: mt})
		if err != nil {
			t.Fatal(err)
		}
		bkStrongETag(t, "Put", info.ETag)
		if info.ETag == prev {
			t.Errorf("write %d: ETag %s did not change", i, info.ETag)
		}
		if st := bkStat(t, b, p); st.ETag != info.ETag {
			t.Errorf("write %d: Stat ETag %s, Put returned %s", i, st.ETag, info.ETag)
		}
		seen[info.ETag]++
		prev = info.ETag
	}
	// An unchanged resource keeps its tag.
	if a, c := bkStat(t, b, p).ETag, bkStat(t, b, p).ETag; a != c {
		t.Errorf("ETag of an unchanged resource changed: %s, %s", a, c)
	}
	// Distinct resources written the same way.
	q := bkPath(t, "g")
	_, info, err := b.Put(ctx, q, strings.NewReader("same"), storage.PutOptions{Size: 4, ModTime: mt})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag == bkStat(t, b, p).ETag {
		t.Errorf("two resources share ETag %s", info.ETag)
	}
	bkMkcol(t, b, bkPath(t, "dir"))
	if e := bkStat(t, b, bkPath(t, "dir")).ETag; e != "" {
		bkStrongETag(t, "collection", e)
	}
}

func testBackendOpen(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	p := bkPath(t, "f")
	bkPut(t, b, p, "0123456789")
	f, info, err := b.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bkSameInfo(t, "Open info vs Stat", info, bkStat(t, b, p))
	if _, err := f.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(f, buf); err != nil || string(buf) != "456" {
		t.Errorf("read after Seek = %q, %v", buf, err)
	}
	if n, err := f.Seek(0, io.SeekEnd); err != nil || n != 10 {
		t.Errorf("Seek end = %d, %v", n, err)
	}
	// An open file keeps its content while a Put replaces it.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	bkPut(t, b, p, "replaced")
	if data, err := io.ReadAll(f); err != nil || string(data) != "0123456789" {
		t.Errorf("content of a file opened before a replace = %q, %v", data, err)
	}

	bkMkcol(t, b, bkPath(t, "dir"))
	_, _, err = b.Open(ctx, bkPath(t, "dir"))
	bkWantErr(t, "Open collection", err, storage.ErrIsDir)
	_, _, err = b.Open(ctx, davpath.Root)
	bkWantErr(t, "Open root", err, storage.ErrIsDir)
	_, _, err = b.Open(ctx, bkPath(t, "missing"))
	bkWantErr(t, "Open missing", err, fs.ErrNotExist)
	_, _, err = b.Open(ctx, bkPath(t, "f", "below"))
	bkWantErr(t, "Open below a file", err, fs.ErrNotExist)
}

func testBackendList(t *testing.T, b storage.Backend) {
	if got := bkNames(t, b, davpath.Root); len(got) != 0 {
		t.Errorf("List of an empty root = %q", got)
	}
	bkMkcol(t, b, bkPath(t, "big"))
	// More members than any sensible read batch.
	want := map[string]bool{}
	for i := range 600 {
		name := fmt.Sprintf("m%03d", i)
		want[name] = true
		if i%50 == 0 {
			bkMkcol(t, b, bkPath(t, "big", name))
		} else {
			bkPut(t, b, bkPath(t, "big", name), strings.Repeat("x", i))
		}
	}
	got := bkList(t, b, bkPath(t, "big"))
	if len(got) != len(want) {
		t.Errorf("List(/big) yields %d members, want %d", len(got), len(want))
	}
	for name, info := range got {
		if !want[name] {
			t.Errorf("List(/big) yields unexpected %q", name)
			continue
		}
		bkSameInfo(t, "List vs Stat of "+name, info, bkStat(t, b, bkPath(t, "big", name)))
	}
	bkMkcol(t, b, bkPath(t, "empty"))
	if got := bkNames(t, b, bkPath(t, "empty")); len(got) != 0 {
		t.Errorf("List of an empty collection = %q", got)
	}
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"big", "empty"}) {
		t.Errorf("List(/) = %q", got)
	}
}

func testBackendListErrors(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	listErr := func(p davpath.Path) error {
		var last error
		n := 0
		for _, err := range b.List(ctx, p) {
			n++
			last = err
		}
		if n != 1 {
			t.Errorf("List(%s) yielded %d values, want one error", p, n)
		}
		return last
	}
	bkPut(t, b, bkPath(t, "f"), "x")
	bkWantErr(t, "List of a file", listErr(bkPath(t, "f")), storage.ErrNotDir)
	bkWantErr(t, "List of missing", listErr(bkPath(t, "missing")), fs.ErrNotExist)
	bkWantErr(t, "List below a file", listErr(bkPath(t, "f", "x")), fs.ErrNotExist)
	for i := range 10 {
		bkPut(t, b, bkPath(t, fmt.Sprintf("g%d", i)), "x")
	}
	n := 0
	for _, err := range b.List(ctx, davpath.Root) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("early stop: %d members seen", n)
	}
}

func testBackendRemove(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	bkPut(t, b, bkPath(t, "f"), "x")
	if err := b.Remove(ctx, bkPath(t, "f")); err != nil {
		t.Fatalf("Remove file: %v", err)
	}
	bkMissing(t, b, bkPath(t, "f"))
	bkMkcol(t, b, bkPath(t, "empty"))
	if err := b.Remove(ctx, bkPath(t, "empty")); err != nil {
		t.Fatalf("Remove empty collection: %v", err)
	}
	bkMissing(t, b, bkPath(t, "empty"))
	bkMkcol(t, b, bkPath(t, "full"))
	bkPut(t, b, bkPath(t, "full", "m"), "x")
	bkWantErr(t, "Remove non-empty collection", b.Remove(ctx, bkPath(t, "full")), storage.ErrNotEmpty)
	bkWantContent(t, b, bkPath(t, "full", "m"), "x")
	bkWantErr(t, "Remove missing", b.Remove(ctx, bkPath(t, "missing")), fs.ErrNotExist)
	bkWantErr(t, "Remove below missing", b.Remove(ctx, bkPath(t, "missing", "x")), fs.ErrNotExist)
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"full"}) {
		t.Errorf("List(/) = %q, want [full]", got)
	}
}

func testBackendNames(t *testing.T, b storage.Backend) {
	names := []string{
		"naïve résumé.txt", "日本語", "with space", "a%20b", "semi;colon", `quote'"`, "emoji 🎉",
		"...dots", ".hidden", "trailing.", "a+b&c=d", "#hash?", "~tilde", "ÅNGSTRÖM", "x,y(z)",
		// Names a Unix file system allows that are not UTF-8 text or hold a backslash (issue
		// 15 item 6): a backend must keep their exact bytes.
		"\xff", "caf\xe9.txt", "a\x80b", "\xed\xa0\x80", "\xf5\x80", "trunc\xc3",
	}
	if os.PathSeparator != '\\' {
		names = append(names, `back\slash`, `..\up`, `\`)
	}
	// Every printable ASCII punctuation character but the separator, alone (the lone dot is
	// a dot segment) and inside a name.
	for c := byte('!'); c <= '~'; c++ {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '\\' {
			continue
		}
		names = append(names, "p"+string(c)+"q")
		if c != '.' {
			names = append(names, string(c))
		}
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	for _, n := range names {
		bkPut(t, b, bkPath(t, n), n)
	}
	bkMkcol(t, b, bkPath(t, "dir ü"))
	bkPut(t, b, bkPath(t, "dir ü", "inner é"), "inner")
	got := bkNames(t, b, davpath.Root)
	want := append(slices.Clone(names), "dir ü")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("List(/) = %q,\nwant %q", got, want)
	}
	for _, n := range names {
		p := bkPath(t, n)
		if in := bkStat(t, b, p); in.Name != n {
			t.Errorf("Stat(%q).Name = %q", n, in.Name)
		}
		bkWantContent(t, b, p, n)
	}
	bkWantContent(t, b, bkPath(t, "dir ü", "inner é"), "inner")

	// Renamer and Copier keep the bytes too, as destinations and as sources.
	if r, ok := b.(storage.Renamer); ok {
		bkMkcol(t, b, bkPath(t, "moved\xfe"))
		for _, n := range names {
			if err := r.Rename(context.Background(), bkPath(t, n), bkPath(t, "moved\xfe", n)); err != nil {
				t.Fatalf("Rename(%q): %v", n, err)
			}
			bkMissing(t, b, bkPath(t, n))
			bkWantContent(t, b, bkPath(t, "moved\xfe", n), n)
		}
		if got := bkNames(t, b, bkPath(t, "moved\xfe")); !slices.Equal(got, names) {
			t.Errorf("List after Rename = %q,\nwant %q", got, names)
		}
	}
	if c, ok := b.(storage.Copier); ok {
		from := bkPath(t, "copied\xfd")
		bkMkcol(t, b, from)
		for _, n := range names {
			src := bkPath(t, "copied\xfd", n)
			bkPut(t, b, src, n)
			dst := bkPath(t, "copied\xfd", n+"\xfc")
			if err := c.CopyFile(context.Background(), src, dst); err != nil {
				t.Fatalf("CopyFile(%q): %v", n, err)
			}
			bkWantContent(t, b, dst, n)
			bkWantContent(t, b, src, n)
		}
	}
}

func testBackendCancel(t *testing.T, b storage.Backend) {
	bkMkcol(t, b, bkPath(t, "dir"))
	bkPut(t, b, bkPath(t, "f"), "old")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(what string, err error) {
		t.Helper()
		bkWantErr(t, what+" with a cancelled context", err, context.Canceled)
	}
	_, err := b.Stat(ctx, bkPath(t, "f"))
	check("Stat", err)
	n := 0
	for _, err := range b.List(ctx, davpath.Root) {
		n++
		check("List", err)
	}
	if n != 1 {
		t.Errorf("List with a cancelled context yielded %d values, want one error", n)
	}
	_, _, err = b.Open(ctx, bkPath(t, "f"))
	check("Open", err)
	_, _, err = b.Put(ctx, bkPath(t, "f"), strings.NewReader("new"), storage.PutOptions{Size: 3})
	check("Put", err)
	_, _, err = b.Put(ctx, bkPath(t, "g"), strings.NewReader("new"), storage.PutOptions{Size: 3})
	check("Put new", err)
	check("Mkcol", b.Mkcol(ctx, bkPath(t, "newdir")))
	check("Remove", b.Remove(ctx, bkPath(t, "f")))
	if r, ok := b.(storage.Renamer); ok {
		check("Rename", r.Rename(ctx, bkPath(t, "f"), bkPath(t, "h")))
	}
	if c, ok := b.(storage.Copier); ok {
		check("CopyFile", c.CopyFile(ctx, bkPath(t, "f"), bkPath(t, "h")))
	}
	if r, ok := b.(storage.TreeRemover); ok {
		check("RemoveAll", r.RemoveAll(ctx, bkPath(t, "dir")))
	}
	if m, ok := b.(storage.MtimeSetter); ok {
		check("SetModTime", m.SetModTime(ctx, bkPath(t, "f"), time.Unix(1, 0)))
	}
	if q, ok := b.(storage.Quota); ok {
		_, _, err := q.Quota(ctx, davpath.Root)
		check("Quota", err)
	}
	// Nothing changed.
	bkWantContent(t, b, bkPath(t, "f"), "old")
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"dir", "f"}) {
		t.Errorf("List(/) after cancelled calls = %q, want [dir f]", got)
	}
}

// bkCancelReader cancels a context on its first Read and then keeps producing data.
type bkCancelReader struct {
	cancel context.CancelFunc
	n      int
}

func (r *bkCancelReader) Read(p []byte) (int, error) {
	r.cancel()
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, 64<<10)
	for i := range p[:k] {
		p[i] = 'c'
	}
	r.n -= k
	return k, nil
}

func testBackendPutCancel(t *testing.T, b storage.Backend) {
	p := bkPath(t, "f")
	bkPut(t, b, p, "old")
	for _, size := range []int64{-1, 8 << 20} {
		ctx, cancel := context.WithCancel(context.Background())
		_, _, err := b.Put(ctx, p, &bkCancelReader{cancel: cancel, n: 8 << 20}, storage.PutOptions{Size: size})
		bkWantErr(t, "Put cancelled mid-body", err, context.Canceled)
		bkWantContent(t, b, p, "old")
		ctx, cancel = context.WithCancel(context.Background())
		_, _, err = b.Put(ctx, bkPath(t, "new"), &bkCancelReader{cancel: cancel, n: 8 << 20}, storage.PutOptions{Size: size})
		bkWantErr(t, "Put new cancelled mid-body", err, context.Canceled)
		bkMissing(t, b, bkPath(t, "new"))
	}
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"f"}) {
		t.Errorf("List(/) after cancelled Puts = %q, want [f]", got)
	}
}

func testBackendConcurrent(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	p := bkPath(t, "f")
	versions := []string{
		strings.Repeat("a", 300<<10),
		strings.Repeat("b", 170<<10) + "end",
		"tiny",
	}
	bkPut(t, b, p, versions[0])
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range 2 {
		wg.Go(func() {
			for i := range 15 {
				v := versions[(i+w)%len(versions)]
				if _, _, err := b.Put(ctx, p, strings.NewReader(v), storage.PutOptions{Size: int64(len(v))}); err != nil {
					t.Errorf("concurrent Put: %v", err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 3 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				f, info, err := b.Open(ctx, p)
				if err != nil {
					t.Errorf("concurrent Open: %v", err)
					return
				}
				data, err := io.ReadAll(f)
				f.Close()
				if err != nil {
					t.Errorf("concurrent read: %v", err)
					return
				}
				if !slices.Contains(versions, string(data)) {
					t.Errorf("read a partial or mixed content of %d bytes (%.20q...)", len(data), data)
					return
				}
				if info.Size != int64(len(data)) {
					t.Errorf("Open Info.Size %d, read %d bytes", info.Size, len(data))
					return
				}
				for info, err := range b.List(ctx, davpath.Root) {
					if err != nil {
						t.Errorf("concurrent List: %v", err)
						return
					}
					if info.Name != "f" {
						t.Errorf("concurrent List yields %q", info.Name)
					}
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"f"}) {
		t.Errorf("List(/) after concurrent Puts = %q, want [f]", got)
	}
	if got := bkRead(t, b, p); !slices.Contains(versions, got) {
		t.Errorf("final content is not one of the versions (%d bytes)", len(got))
	}
}

func testBackendRename(t *testing.T, b storage.Backend) {
	r, ok := b.(storage.Renamer)
	if !ok {
		t.Skip("backend does not implement storage.Renamer")
	}
	ctx := context.Background()
	bkPut(t, b, bkPath(t, "a"), "A")
	if err := r.Rename(ctx, bkPath(t, "a"), bkPath(t, "b")); err != nil {
		t.Fatalf("Rename to a new name: %v", err)
	}
	bkMissing(t, b, bkPath(t, "a"))
	bkWantContent(t, b, bkPath(t, "b"), "A")

	bkPut(t, b, bkPath(t, "c"), "C")
	if err := r.Rename(ctx, bkPath(t, "b"), bkPath(t, "c")); err != nil {
		t.Fatalf("Rename over a file: %v", err)
	}
	bkMissing(t, b, bkPath(t, "b"))
	bkWantContent(t, b, bkPath(t, "c"), "A")

	bkMkcol(t, b, bkPath(t, "emptydir"))
	if err := r.Rename(ctx, bkPath(t, "c"), bkPath(t, "emptydir")); err != nil {
		t.Fatalf("Rename a file over an empty collection: %v", err)
	}
	bkWantContent(t, b, bkPath(t, "emptydir"), "A")

	bkMkcol(t, b, bkPath(t, "tree"))
	bkMkcol(t, b, bkPath(t, "tree", "sub"))
	bkPut(t, b, bkPath(t, "tree", "sub", "leaf"), "L")
	if err := r.Rename(ctx, bkPath(t, "tree"), bkPath(t, "emptydir")); err != nil {
		t.Fatalf("Rename a collection over a file: %v", err)
	}
	bkMissing(t, b, bkPath(t, "tree"))
	bkWantContent(t, b, bkPath(t, "emptydir", "sub", "leaf"), "L")

	bkMkcol(t, b, bkPath(t, "other"))
	bkMkcol(t, b, bkPath(t, "other", "x"))
	if err := r.Rename(ctx, bkPath(t, "emptydir", "sub"), bkPath(t, "other", "x")); err != nil {
		t.Fatalf("Rename a collection over an empty collection: %v", err)
	}
	bkWantContent(t, b, bkPath(t, "other", "x", "leaf"), "L")

	bkPut(t, b, bkPath(t, "f"), "F")
	bkWantErr(t, "Rename over a non-empty collection", r.Rename(ctx, bkPath(t, "f"), bkPath(t, "other")), storage.ErrNotEmpty)
	bkWantContent(t, b, bkPath(t, "f"), "F")
	bkWantContent(t, b, bkPath(t, "other", "x", "leaf"), "L")
	bkWantErr(t, "Rename missing", r.Rename(ctx, bkPath(t, "missing"), bkPath(t, "z")), fs.ErrNotExist)
	bkWantErr(t, "Rename to a missing parent", r.Rename(ctx, bkPath(t, "f"), bkPath(t, "missing", "z")), storage.ErrParentMissing)
	bkWantErr(t, "Rename under a file", r.Rename(ctx, bkPath(t, "other"), bkPath(t, "f", "z")), storage.ErrParentMissing)
	if err := r.Rename(ctx, bkPath(t, "other"), bkPath(t, "other", "x", "inside")); err == nil {
		t.Errorf("Rename of a collection into itself succeeded")
	}
	bkWantContent(t, b, bkPath(t, "other", "x", "leaf"), "L")
	bkWantContent(t, b, bkPath(t, "f"), "F")
}

func testBackendCopy(t *testing.T, b storage.Backend) {
	c, ok := b.(storage.Copier)
	if !ok {
		t.Skip("backend does not implement storage.Copier")
	}
	ctx := context.Background()
	big := strings.Repeat("copy me ", 300_000)
	src := bkPut(t, b, bkPath(t, "src"), big)
	if err := c.CopyFile(ctx, bkPath(t, "src"), bkPath(t, "dst")); err != nil {
		t.Fatalf("CopyFile: %v", err)
	}
	bkWantContent(t, b, bkPath(t, "dst"), big)
	bkWantContent(t, b, bkPath(t, "src"), big)
	bkSameInfo(t, "source after copy", bkStat(t, b, bkPath(t, "src")), src)
	dst := bkStat(t, b, bkPath(t, "dst"))
	if dst.ETag == src.ETag || dst.Size != src.Size {
		t.Errorf("copy info %+v vs source %+v: want the same size and a different ETag", dst, src)
	}
	bkStrongETag(t, "copy", dst.ETag)

	bkPut(t, b, bkPath(t, "small"), "small")
	if err := c.CopyFile(ctx, bkPath(t, "small"), bkPath(t, "dst")); err != nil {
		t.Fatalf("CopyFile over a file: %v", err)
	}
	bkWantContent(t, b, bkPath(t, "dst"), "small")
	if e := bkStat(t, b, bkPath(t, "dst")).ETag; e == dst.ETag {
		t.Errorf("ETag %s unchanged after CopyFile replaced the content", e)
	}

	bkMkcol(t, b, bkPath(t, "dir"))
	bkPut(t, b, bkPath(t, "dir", "m"), "m")
	bkWantErr(t, "CopyFile of a collection", c.CopyFile(ctx, bkPath(t, "dir"), bkPath(t, "z")), storage.ErrIsDir)
	bkWantErr(t, "CopyFile over a collection", c.CopyFile(ctx, bkPath(t, "small"), bkPath(t, "dir")), storage.ErrIsDir)
	bkWantContent(t, b, bkPath(t, "dir", "m"), "m")
	bkWantErr(t, "CopyFile of missing", c.CopyFile(ctx, bkPath(t, "missing"), bkPath(t, "z")), fs.ErrNotExist)
	bkWantErr(t, "CopyFile to a missing parent", c.CopyFile(ctx, bkPath(t, "small"), bkPath(t, "missing", "z")), storage.ErrParentMissing)
	bkMissing(t, b, bkPath(t, "z"))
	if got := bkNames(t, b, davpath.Root); !slices.Equal(got, []string{"dir", "dst", "small", "src"}) {
		t.Errorf("List(/) = %q", got)
	}
}

func testBackendRemoveAll(t *testing.T, b storage.Backend) {
	r, ok := b.(storage.TreeRemover)
	if !ok {
		t.Skip("backend does not implement storage.TreeRemover")
	}
	ctx := context.Background()
	bkMkcol(t, b, bkPath(t, "t"))
	bkMkcol(t, b, bkPath(t, "t", "a"))
	bkMkcol(t, b, bkPath(t, "t", "a", "b"))
	bkPut(t, b, bkPath(t, "t", "a", "b", "f"), "x")
	bkPut(t, b, bkPath(t, "t", "g"), "y")
	bkPut(t, b, bkPath(t, "keep"), "k")
	if err := r.RemoveAll(ctx, bkPath(t, "t")); err != nil {
		t.Fatalf("RemoveAll: %v", err)
	}
	bkMissing(t, b, bkPath(t, "t"))
	bkMissing(t, b, bkPath(t, "t", "a", "b", "f"))
	if err := r.RemoveAll(ctx, bkPath(t, "keep")); err != nil {
		t.Fatalf("RemoveAll of a file: %v", err)
	}
	bkMissing(t, b, bkPath(t, "keep"))
	if got := bkNames(t, b, davpath.Root); len(got) != 0 {
		t.Errorf("List(/) = %q, want nothing", got)
	}
}

func testBackendSetModTime(t *testing.T, b storage.Backend) {
	m, ok := b.(storage.MtimeSetter)
	if !ok {
		t.Skip("backend does not implement storage.MtimeSetter")
	}
	ctx := context.Background()
	p := bkPath(t, "f")
	before := bkPut(t, b, p, "x")
	mt := time.Date(1999, 12, 31, 23, 59, 58, 0, time.UTC)
	if err := m.SetModTime(ctx, p, mt); err != nil {
		t.Fatal(err)
	}
	after := bkStat(t, b, p)
	if !after.ModTime.Equal(mt) {
		t.Errorf("ModTime = %v, want %v", after.ModTime, mt)
	}
	if after.ETag == before.ETag {
		t.Errorf("ETag %s unchanged by SetModTime", after.ETag)
	}
	bkWantContent(t, b, p, "x")
	bkMkcol(t, b, bkPath(t, "d"))
	if err := m.SetModTime(ctx, bkPath(t, "d"), mt); err != nil {
		t.Fatal(err)
	}
	if got := bkStat(t, b, bkPath(t, "d")).ModTime; !got.Equal(mt) {
		t.Errorf("collection ModTime = %v, want %v", got, mt)
	}
	bkWantErr(t, "SetModTime of missing", m.SetModTime(ctx, bkPath(t, "missing"), mt), fs.ErrNotExist)
}

func testBackendQuota(t *testing.T, b storage.Backend) {
	q, ok := b.(storage.Quota)
	if !ok {
		t.Skip("backend does not implement storage.Quota")
	}
	ctx := context.Background()
	bkPut(t, b, bkPath(t, "f"), strings.Repeat("q", 10_000))
	bkMkcol(t, b, bkPath(t, "d"))
	for _, p := range []davpath.Path{davpath.Root, bkPath(t, "d")} {
		avail, used, err := q.Quota(ctx, p)
		if err != nil {
			t.Fatalf("Quota(%s): %v", p, err)
		}
		if avail <= 0 || used < 10_000 {
			t.Errorf("Quota(%s) = available %d, used %d; want available > 0 and used >= 10000", p, avail, used)
		}
	}
}

// BenchList measures listing the collection dir of b, which must hold exactly want members: the
// same loop for every backend, so that their figures compare.
func BenchList(bm *testing.B, b storage.Backend, dir davpath.Path, want int) {
	ctx := context.Background()
	bm.ReportAllocs()
	for bm.Loop() {
		n := 0
		for _, err := range b.List(ctx, dir) {
			if err != nil {
				bm.Fatal(err)
			}
			n++
		}
		if n != want {
			bm.Fatalf("listed %d members, want %d", n, want)
		}
	}
}
