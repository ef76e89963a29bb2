package clustersync_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/syncstore"
	"github.com/davd/davd/syncstore/clustersync"
	"github.com/davd/davd/syncstore/synctest"
)

func connect(t *testing.T, e *clustertest.Etcd, s *clustertest.S3, bucket string) *cluster.Conn {
	t.Helper()
	c, err := cluster.Open(context.Background(), cluster.Config{
		Endpoints: e.Endpoints(), Prefix: "/t/",
		S3Endpoint: s.Endpoint, Bucket: bucket, Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
		CreateBucket: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The conformance suite, and a token issued through one node (connection) read through another
// (RFC 6578 §3.2: a token the server issued stays valid until it says otherwise), also for a
// snapshot far larger than one etcd request may carry.
func TestStore(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	s3 := clustertest.StartS3(t)
	synctest.Conformance(t, clustersync.New(connect(t, e, s3, "conformance"), 3, 0), 3)

	a := clustersync.New(connect(t, e, s3, "nodes"), 0, 0)
	b := clustersync.New(connect(t, e, s3, "nodes"), 0, 0)
	ctx := context.Background()
	k := syncstore.Key{Root: "/big", Principal: "alice", Infinite: true}
	var want []syncstore.Entry
	for i := range 100_000 {
		want = append(want, syncstore.Entry{Path: fmt.Sprintf("dir %03d/file %06d.txt", i/1000, i), Tag: uint64(i) * 7919, Dir: i%1000 == 0})
	}
	id, err := a.Save(ctx, k, slices.Values(want))
	if err != nil {
		t.Fatal(err)
	}
	var got []syncstore.Entry
	for e, err := range b.Load(ctx, k, id) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("node b read %d entries, want the %d node a saved", len(got), len(want))
	}
	if again, err := b.Save(ctx, k, slices.Values(want)); err != nil || again != id {
		t.Fatalf("node b saved the same entries as %q (%v), want node a's %q", again, err, id)
	}
}
