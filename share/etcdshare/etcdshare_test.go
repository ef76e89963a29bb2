package etcdshare_test

import (
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/internal/clustertest"
	"github.com/davd/davd/share"
	"github.com/davd/davd/share/etcdshare"
	"github.com/davd/davd/share/sharetest"
)

// TestStore: links written through one client (node) are seen, and their deletion too, through
// another.
func TestStore(t *testing.T) {
	e := clustertest.StartEtcd(t, 1)
	client := func(t *testing.T) *clientv3.Client {
		cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return cli
	}
	sharetest.TestStore(t,
		func(t *testing.T) share.Store { return etcdshare.New(client(t), "/t/") },
		func(t *testing.T, _ share.Store) share.Store { return etcdshare.New(client(t), "/t/") })
}
