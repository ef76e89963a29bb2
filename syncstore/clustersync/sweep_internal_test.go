package clustersync

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/syncstore"
)

// TestSweep: past maxEntries the snapshots saved longest ago, of any Key, are forgotten (their
// tokens are then unknown, as RFC 6578 §3.2 lets a server decide), the newer ones stay
// readable; and a y/ object no index names is removed once older than the grace period,
// never before.
func TestSweep(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	s3 := clustertest.StartS3(t)
	c, err := cluster.Open(context.Background(), cluster.Config{
		Endpoints: e.Endpoints(), Prefix: "/sweep/",
		S3Endpoint: s3.Endpoint, Bucket: "sweep", Region: s3.Region, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey,
		CreateBucket: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := New(c, 0, 10)
	clock := time.Now().Add(-time.Hour) // snapshot ages by this clock; the object store keeps its own
	s.now = func() time.Time { return clock }
	ctx := context.Background()
	entries := func(tag uint64) []syncstore.Entry {
		return []syncstore.Entry{{Path: "a", Tag: tag}, {Path: "b", Tag: tag}, {Path: "c", Tag: tag}, {Path: "d", Tag: tag}}
	}
	keys := []syncstore.Key{{Root: "/one", Principal: "u"}, {Root: "/two", Principal: "u"}, {Root: "/three", Principal: "u"}}
	var ids []string
	for i, k := range keys {
		clock = clock.Add(time.Minute)
		id, err := s.Save(ctx, k, slices.Values(entries(uint64(i))))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	loads := func(k syncstore.Key, id string) error {
		for _, err := range s.Load(ctx, k, id) {
			if err != nil {
				return err
			}
		}
		return nil
	}
	forgot, removed, err := s.Sweep(ctx, time.Hour)
	if err != nil || forgot != 1 || removed != 0 {
		t.Fatalf("Sweep over the bound: forgot %d, removed %d, %v; want 1, 0", forgot, removed, err)
	}
	if err := loads(keys[0], ids[0]); !errors.Is(err, syncstore.ErrUnknown) {
		t.Errorf("the oldest snapshot after the sweep: %v, want ErrUnknown", err)
	}
	for i := 1; i < 3; i++ {
		if err := loads(keys[i], ids[i]); err != nil {
			t.Errorf("snapshot %d after the sweep: %v", i, err)
		}
	}
	// Its object went with it.
	if _, err := c.S3.StatObject(ctx, c.Bucket, "y/"+ids[0], minio.StatObjectOptions{}); err == nil {
		t.Error("the forgotten snapshot's object is still there")
	}
	// A snapshot a dying node wrote but never indexed.
	if _, err := c.S3.PutObject(ctx, c.Bucket, "y/orphan", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, removed, err := s.Sweep(ctx, time.Hour); err != nil || removed != 0 {
		t.Fatalf("a young orphan was removed (%d, %v)", removed, err)
	}
	clock = time.Now().Add(2 * time.Hour)
	if forgot, removed, err := s.Sweep(ctx, time.Hour); err != nil || removed != 1 || forgot != 0 {
		t.Fatalf("an old orphan: forgot %d, removed %d, %v; want 0, 1", forgot, removed, err)
	}
	for i := 1; i < 3; i++ {
		if err := loads(keys[i], ids[i]); err != nil {
			t.Errorf("snapshot %d after the orphan sweep: %v", i, err)
		}
	}
}
