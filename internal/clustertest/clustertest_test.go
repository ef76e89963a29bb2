package clustertest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
)

// kv puts or gets one key through etcd's JSON gateway.
func kv(t *testing.T, endpoint, op, key, value string) string {
	t.Helper()
	body := map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(key))}
	if op == "put" {
		body["value"] = base64.StdEncoding.EncodeToString([]byte(value))
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(endpoint+"/v3/kv/"+op, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s %s: %v", op, endpoint, err)
	}
	defer resp.Body.Close()
	var r struct {
		Kvs []struct{ Value string } `json:"kvs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: status %d, %v", op, endpoint, resp.StatusCode, err)
	}
	if len(r.Kvs) == 0 {
		return ""
	}
	v, _ := base64.StdEncoding.DecodeString(r.Kvs[0].Value)
	return string(v)
}

// TestEtcdCluster: a write through one member is read through the others, and the cluster
// keeps serving, with the write, after its leader is killed and restarted.
func TestEtcdCluster(t *testing.T) {
	e := StartEtcd(t, 3)
	ep := e.Endpoints()
	if len(ep) != 3 {
		t.Fatalf("endpoints %v", ep)
	}
	kv(t, ep[0], "put", "k", "v1")
	for _, x := range ep {
		if got := kv(t, x, "range", "k", ""); got != "v1" {
			t.Fatalf("%s: got %q, want v1", x, got)
		}
	}
	l := e.Leader()
	e.Kill(l)
	nl := e.Leader() // waits for the two survivors to elect one
	if nl == l {
		t.Fatalf("killed member %d is still the leader", l)
	}
	kv(t, ep[nl], "put", "k", "v2")
	e.Start(l)
	if got := kv(t, ep[l], "range", "k", ""); got != "v2" {
		t.Fatalf("restarted member %d: got %q, want v2", l, got)
	}
}

// TestS3: versitygw answers S3 requests (an unsigned one is refused with an S3 error document),
// stops and starts again.
func TestS3(t *testing.T) {
	s := StartS3(t)
	check := func() {
		resp, err := http.Get(s.Endpoint + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusForbidden || !bytes.Contains(buf.Bytes(), []byte("<Error>")) {
			t.Fatalf("unsigned GET: %d %s", resp.StatusCode, buf.String())
		}
	}
	check()
	s.Stop()
	if _, err := http.Get(s.Endpoint + "/"); err == nil {
		t.Fatal("S3 still answers after Stop")
	}
	s.Start()
	check()
}
