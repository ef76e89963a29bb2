package memfs

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

func BenchmarkList10k(b *testing.B) {
	f := New()
	ctx := context.Background()
	for i := range 10_000 {
		p := davpath.Path(fmt.Sprintf("/file-%05d.txt", i))
		if _, _, err := f.Put(ctx, p, strings.NewReader("content"), storage.PutOptions{Size: 7}); err != nil {
			b.Fatal(err)
		}
	}
	davtest.BenchList(b, f, davpath.Root, 10_000)
}

func BenchmarkPut4K(b *testing.B) {
	f := New()
	ctx := context.Background()
	body := strings.Repeat("x", 4096)
	b.ReportAllocs()
	b.SetBytes(4096)
	i := 0
	for b.Loop() {
		p := davpath.Path(fmt.Sprintf("/f%d", i%100))
		i++
		if _, _, err := f.Put(ctx, p, strings.NewReader(body), storage.PutOptions{Size: 4096}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStat(b *testing.B) {
	f := New()
	ctx := context.Background()
	for _, p := range []davpath.Path{"/a", "/a/b"} {
		if err := f.Mkcol(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []davpath.Path{"/top.txt", "/a/b/deep.txt"} {
		if _, _, err := f.Put(ctx, p, strings.NewReader("x"), storage.PutOptions{Size: 1}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("depth=%d", p.Depth()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Stat(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
