package clusterfs_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/clusterfs"
)

// services starts one etcd and one S3 server for the package's tests.
func services(t *testing.T) (*clustertest.Etcd, *clustertest.S3) {
	t.Helper()
	return clustertest.StartEtcd(t, 1), clustertest.StartS3(t)
}

var prefixes atomic.Int64

// connect opens a cluster connection on a fresh etcd prefix and bucket.
func connect(t *testing.T, e *clustertest.Etcd, s *clustertest.S3, prefix, bucket string) *cluster.Conn {
	t.Helper()
	c, err := cluster.Open(context.Background(), cluster.Config{
		Endpoints: e.Endpoints(), Prefix: prefix,
		S3Endpoint: s.Endpoint, Bucket: bucket, Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
		CreateBucket: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBackend(t *testing.T) {
	e, s := services(t)
	davtest.TestBackend(t, func(t *testing.T) storage.Backend {
		n := prefixes.Add(1)
		c := connect(t, e, s, fmt.Sprintf("/t%d/", n), fmt.Sprintf("bucket-%d", n))
		f, err := clusterfs.New(context.Background(), c, clusterfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return f
	})
}
