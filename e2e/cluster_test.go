//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/internal/clustertest"
)

// TestCluster runs two davd nodes in cluster mode on one etcd and one S3 server (versitygw),
// as behind a load balancer: litmus passes against each node, what one node writes, moves or
// locks the other sees at once, and the lock of one node is enforced by the other (issue 14).
func TestCluster(t *testing.T) {
	litmus := tool(t, "litmus", "litmus")
	etcd := clustertest.StartEtcd(t, 1)
	s3 := clustertest.StartS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3.SecretKey)
	t.Setenv("AWS_REGION", s3.Region)
	node := func(prefix string) *davd {
		return startDavd(t, davdOpts{Flags: []string{
			"-etcd", strings.Join(etcd.Endpoints(), ","), "-s3-endpoint", s3.Endpoint, "-s3-bucket", "davd-e2e",
		}, Config: fmt.Sprintf("[cluster]\netcd_prefix = %q\n", prefix)})
	}

	t.Run("litmus on each node", func(t *testing.T) {
		for i, prefix := range []string{"/litmus-a/", "/litmus-b/"} {
			d := node(prefix)
			out, err := runCmd(t, 5*time.Minute, t.TempDir(), nil, nil, litmus, "-k", d.URL)
			if err != nil {
				t.Fatalf("node %d: litmus: %v\n%s", i, err, out)
			}
			checkLitmus(t, out)
		}
	})

	a, b := node("/shared/"), node("/shared/")
	t.Run("what one node writes the other reads", func(t *testing.T) {
		a.want(201, req{Method: "MKCOL", Path: "/d"})
		a.want(201, req{Method: "PUT", Path: "/d/f.txt", Body: []byte("from a")})
		if _, body := b.want(200, req{Method: "GET", Path: "/d/f.txt"}); string(body) != "from a" {
			t.Fatalf("b reads %q", body)
		}
		b.want(201, req{Method: "MOVE", Path: "/d", Hdr: map[string]string{"Destination": b.URL + "e"}})
		a.want(404, req{Method: "GET", Path: "/d/f.txt"})
		if _, body := a.want(200, req{Method: "GET", Path: "/e/f.txt"}); string(body) != "from a" {
			t.Fatalf("a reads %q after the move on b", body)
		}
		b.want(207, req{Method: "PROPPATCH", Path: "/e/f.txt", Body: []byte(`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop><x:color>blue</x:color></D:prop></D:set></D:propertyupdate>`)})
		_, body := a.want(207, req{Method: "PROPFIND", Path: "/e/f.txt", Hdr: map[string]string{"Depth": "0"}, Body: []byte(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><x:color xmlns:x="urn:x"/></D:prop></D:propfind>`)})
		if !strings.Contains(string(body), "blue") {
			t.Fatalf("a does not see the property set on b:\n%s", body)
		}
	})

	t.Run("a lock taken on one node is enforced by the other", func(t *testing.T) {
		hdr, _ := a.want(200, req{Method: "LOCK", Path: "/e/f.txt", Hdr: map[string]string{"Timeout": "Second-60"},
			Body: []byte(`<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`)})
		token := hdr.Get("Lock-Token")
		if token == "" {
			t.Fatal("no Lock-Token")
		}
		b.want(423, req{Method: "PUT", Path: "/e/f.txt", Body: []byte("from b")})
		b.want(http.StatusNoContent, req{Method: "PUT", Path: "/e/f.txt", Body: []byte("from b"), Hdr: map[string]string{"If": "(" + token + ")"}})
		b.want(http.StatusNoContent, req{Method: "UNLOCK", Path: "/e/f.txt", Hdr: map[string]string{"Lock-Token": token}})
		a.want(http.StatusNoContent, req{Method: "PUT", Path: "/e/f.txt", Body: []byte("from a again")})
	})
}
