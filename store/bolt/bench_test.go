package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
)

// Benchmarks of the dead-property lookups a PROPFIND makes, on the shape bench/run.sh serves:
// GetDir of a 1,000-member collection whose members carry three properties each (bench/dead1k),
// of one whose members carry none (bench/c1k: the common case, that every Depth 1 PROPFIND pays),
// and the PROPPATCH that sets them.
//
//	go test -run '^$' -bench . -benchmem ./store/bolt/

var benchOps = []props.Op{
	{Prop: props.Property{Name: props.Name{Space: "urn:example:bench", Local: "author"}, Value: []byte("bench writer")}},
	{Prop: props.Property{Name: props.Name{Space: "urn:example:bench", Local: "tags"}, Value: []byte(`<Z:tag xmlns:Z="urn:example:bench">alpha</Z:tag><Z:tag xmlns:Z="urn:example:bench">beta</Z:tag>`)}},
	{Prop: props.Property{Name: props.Name{Space: "urn:example:bench", Local: "rating"}, Value: []byte("5")}},
}

// benchStore has /dead/f0000.txt.. with benchOps each and /plain/ with no properties; other
// resources surround both so that a prefix scan has neighbours to skip.
func benchStore(b *testing.B, n int) props.Store {
	b.Helper()
	db, err := Open(filepath.Join(b.TempDir(), "davd.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s := db.Props()
	ctx := context.Background()
	for i := range n {
		if err := s.Patch(ctx, davpath.Path(fmt.Sprintf("/dead/f%04d.txt", i)), benchOps); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []davpath.Path{"/dead-x", "/dead/sub/deep", "/plain.txt", "/plain/sub/deep", "/plainer"} {
		if err := s.Patch(ctx, p, benchOps[:1]); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkPropsGetDir1k(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, 1000)
	b.Run("3 props each", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := s.GetDir(ctx, "/dead")
			if err != nil || len(m) != 1000 {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := s.GetDir(ctx, "/plain")
			if err != nil || len(m) != 0 {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("Get one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ps, err := s.Get(ctx, "/dead/f0500.txt")
			if err != nil || len(ps) != 3 {
				b.Fatal(ps, err)
			}
		}
	})
}

func BenchmarkPropsPatch(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, 0)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if err := s.Patch(ctx, davpath.Path(fmt.Sprintf("/new/f%d.txt", i)), benchOps); err != nil {
			b.Fatal(err)
		}
	}
}
