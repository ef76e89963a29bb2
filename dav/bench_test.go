package dav_test

// Benchmarks of the engine's hot paths through the real Handler (no network): PROPFIND entry
// writing over memfs and osfs, GET and PUT of small files. bench/run.sh measures the same
// workloads over HTTP beside other servers; these isolate the engine from the network stack.
//
//	go test -run '^$' -bench . -benchmem ./dav/

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/memprops"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
	"github.com/davd/davd/storage/osfs"
)

const (
	benchAllprop = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`
	benchProps   = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>` +
		`<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>`
	benchContent = "davd bench file: the quick brown fox jumps over the lazy dog 0123456789abcdef\n"
)

// discard is a ResponseWriter that keeps only the status and the byte count, so a benchmark
// measures producing the response, not buffering it.
type discard struct {
	h      http.Header
	status int
	n      int64
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}
func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	d.n += int64(len(p))
	return len(p), nil
}
func (d *discard) reset() {
	clear(d.h)
	d.status, d.n = 0, 0
}

// benchTree is a served tree: the collection /c of n files, the 4 KiB file /small/4k.bin and
// the empty collection /put.
type benchTree struct {
	h *dav.Handler
	n int
}

func newHandler(b *testing.B, fs storage.Backend, ps props.Store) *dav.Handler {
	b.Helper()
	lm, err := memlock.New(memlock.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h, err := dav.New(dav.Config{Storage: fs, Props: ps, Locks: lm})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func fileName(i int) string { return fmt.Sprintf("f%05d.txt", i) }

func memTree(b *testing.B, n int, dead bool) benchTree {
	b.Helper()
	ctx := context.Background()
	fs := memfs.New()
	for _, c := range []davpath.Path{"/c", "/small", "/put"} {
		if err := fs.Mkcol(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		p := davpath.Path("/c/" + fileName(i))
		if _, _, err := fs.Put(ctx, p, strings.NewReader(benchContent), storage.PutOptions{Size: int64(len(benchContent))}); err != nil {
			b.Fatal(err)
		}
	}
	four := bytes.Repeat([]byte("x"), 4096)
	if _, _, err := fs.Put(ctx, "/small/4k.bin", bytes.NewReader(four), storage.PutOptions{Size: 4096}); err != nil {
		b.Fatal(err)
	}
	return benchTree{h: newHandler(b, fs, deadProps(b, n, dead)), n: n}
}

func osTree(b *testing.B, n int, dead bool) benchTree { return osTreeWith(b, n, dead, false) }

func osTreeWith(b *testing.B, n int, dead, uncached bool) benchTree {
	b.Helper()
	dir := b.TempDir()
	for _, c := range []string{"c", "small", "put"} {
		if err := os.Mkdir(filepath.Join(dir, c), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, "c", fileName(i)), []byte(benchContent), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "small", "4k.bin"), bytes.Repeat([]byte("x"), 4096), 0o644); err != nil {
		b.Fatal(err)
	}
	fs, err := osfs.New(dir, osfs.Options{NoFsync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fs.Close() })
	var be storage.Backend = fs
	if uncached {
		be = backendOnly{fs}
	}
	return benchTree{h: newHandler(b, be, deadProps(b, n, dead)), n: n}
}

// backendOnly hides every optional interface of a backend (ListVersioner among them), so the
// engine cannot reuse a rendered listing: PROPFIND renders every entry on every request.
type backendOnly struct{ storage.Backend }

func osTreeUncached(b *testing.B, n int, dead bool) benchTree { return osTreeWith(b, n, dead, true) }

// deadProps returns a memprops store; with dead, every file of /c has three dead properties
// (the same ones bench/davload.sh PROPPATCHes onto bench/dead1k).
func deadProps(b *testing.B, n int, dead bool) props.Store {
	b.Helper()
	s := memprops.New(props.Limits{})
	if !dead {
		return s
	}
	const ns = "urn:example:bench"
	ops := []props.Op{
		{Prop: props.Property{Name: props.Name{Space: ns, Local: "author"}, Value: []byte("bench writer")}},
		{Prop: props.Property{Name: props.Name{Space: ns, Local: "tags"}, Value: []byte(`<Z:tag xmlns:Z="urn:example:bench">alpha</Z:tag><Z:tag xmlns:Z="urn:example:bench">beta</Z:tag>`)}},
		{Prop: props.Property{Name: props.Name{Space: ns, Local: "rating"}, Value: []byte("5")}},
	}
	for i := range n {
		if err := s.Patch(context.Background(), davpath.Path("/c/"+fileName(i)), ops); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchPropfind(b *testing.B, t benchTree, body string) {
	w := &discard{h: http.Header{}}
	iters := 0
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		r := httptest.NewRequest("PROPFIND", "/c/", strings.NewReader(body))
		r.Header.Set("Depth", "1")
		r.Header.Set("Content-Type", "application/xml")
		t.h.ServeHTTP(w, r)
		if w.status != http.StatusMultiStatus {
			b.Fatalf("status %d", w.status)
		}
		iters++
	}
	b.ReportMetric(float64(w.n), "resp-bytes")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*(t.n+1)), "ns/entry")
}

// BenchmarkPropfind is PROPFIND Depth 1 of a collection of N files: allprop, the four
// properties clients ask for, and allprop over files carrying three dead properties each.
func BenchmarkPropfind(b *testing.B) {
	backends := []struct {
		name string
		tree func(*testing.B, int, bool) benchTree
	}{{"memfs", memTree}, {"osfs", osTree}, {"osfs-uncached", osTreeUncached}}
	for _, be := range backends {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s/allprop/%d", be.name, n), func(b *testing.B) { benchPropfind(b, be.tree(b, n, false), benchAllprop) })
			b.Run(fmt.Sprintf("%s/props/%d", be.name, n), func(b *testing.B) { benchPropfind(b, be.tree(b, n, false), benchProps) })
		}
		b.Run(be.name+"/allprop-dead/1000", func(b *testing.B) { benchPropfind(b, be.tree(b, 1000, true), benchAllprop) })
	}
}

// BenchmarkGet4k is GET of a 4 KiB file (the body goes to the discard writer, not sendfile).
func BenchmarkGet4k(b *testing.B) {
	for _, be := range []struct {
		name string
		t    benchTree
	}{{"memfs", memTree(b, 0, false)}, {"osfs", osTree(b, 0, false)}} {
		b.Run(be.name, func(b *testing.B) {
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				be.t.h.ServeHTTP(w, httptest.NewRequest("GET", "/small/4k.bin", nil))
				if w.status != http.StatusOK || w.n != 4096 {
					b.Fatalf("status %d, %d bytes", w.status, w.n)
				}
			}
		})
	}
}

// BenchmarkPut4k is PUT of 4 KiB to a new name per iteration (osfs without fsync).
func BenchmarkPut4k(b *testing.B) {
	body := bytes.Repeat([]byte("p"), 4096)
	for _, be := range []struct {
		name string
		t    benchTree
	}{{"memfs", memTree(b, 0, false)}, {"osfs", osTree(b, 0, false)}} {
		b.Run(be.name, func(b *testing.B) {
			w := &discard{h: http.Header{}}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				i++
				r := httptest.NewRequest("PUT", "/put/"+be.name+"-"+fmt.Sprint(i)+".bin", bytes.NewReader(body))
				be.t.h.ServeHTTP(w, r)
				if w.status != http.StatusCreated {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
