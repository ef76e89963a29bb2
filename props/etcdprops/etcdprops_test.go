package etcdprops_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/etcdprops"
)

func client(t *testing.T, e *clustertest.Etcd) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var prefixes atomic.Int64

func TestPropsStore(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	cli := client(t, e)
	davtest.TestPropsStore(t, func(t *testing.T) props.Store {
		return etcdprops.New(cli, fmt.Sprintf("/t%d/", prefixes.Add(1)), props.Limits{})
	})
}

func pth(s string) davpath.Path {
	p, err := davpath.Parse(s, "")
	if err != nil {
		panic(err)
	}
	return p
}

func set(name, value string) props.Op {
	return props.Op{Prop: props.Property{Name: props.Name{Space: "urn:x", Local: name}, Value: []byte(value)}}
}

// Two nodes share the properties: what one sets the other reads, and concurrent PROPPATCHes
// of different properties of one resource from both all survive.
func TestTwoNodes(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	ctx := context.Background()
	a := etcdprops.New(client(t, e), "/two/", props.Limits{})
	b := etcdprops.New(client(t, e), "/two/", props.Limits{})
	if err := a.Patch(ctx, pth("/f"), []props.Op{set("p", "v")}); err != nil {
		t.Fatal(err)
	}
	ps, err := b.Get(ctx, pth("/f"))
	if err != nil || len(ps) != 1 || string(ps[0].Value) != "v" {
		t.Fatalf("b reads %v, %v", ps, err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			if err := s.Patch(ctx, pth("/c"), []props.Op{set(fmt.Sprintf("n%d", i), "x")}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ps, err = a.Get(ctx, pth("/c"))
	if err != nil || len(ps) != 8 {
		t.Fatalf("after 8 concurrent patches from two nodes: %d properties, %v; want 8", len(ps), err)
	}
}

// A subtree with more properties than one transaction holds is moved whole.
func TestMoveLargeSubtree(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	ctx := context.Background()
	s := etcdprops.New(client(t, e), "/big/", props.Limits{})
	const n = 300
	for i := range n {
		p := pth(fmt.Sprintf("/src/d%d/f%d", i%7, i))
		if err := s.Patch(ctx, p, []props.Op{set("i", fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Move(ctx, pth("/src"), pth("/dst")); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		old, err := s.Get(ctx, pth(fmt.Sprintf("/src/d%d/f%d", i%7, i)))
		if err != nil || len(old) != 0 {
			t.Fatalf("old path %d still has %v (%v)", i, old, err)
		}
		ps, err := s.Get(ctx, pth(fmt.Sprintf("/dst/d%d/f%d", i%7, i)))
		if err != nil || len(ps) != 1 || string(ps[0].Value) != fmt.Sprint(i) {
			t.Fatalf("new path %d has %v (%v)", i, ps, err)
		}
	}
	dir, err := s.GetDir(ctx, pth("/dst/d3"))
	if err != nil || len(dir) != (n+3)/7 {
		t.Fatalf("GetDir /dst/d3: %d members, %v; want %d", len(dir), err, (n+3)/7)
	}
}
