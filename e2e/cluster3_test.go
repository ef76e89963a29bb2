//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/davd/davd/internal/clustertest"
)

// c3Prefix is the etcd prefix of TestClusterThreeNodes' tree; c3Bucket its bucket.
const (
	c3Prefix = "/c3/"
	c3Bucket = "davd-c3"
)

// TestClusterThreeNodes runs issue 14's end-to-end scenarios on a real cluster: a 3-member etcd
// from Debian's etcd-server, versitygw as the S3 store, three davd processes in cluster mode and
// nginx balancing requests round-robin across them. Each subtest says which scenario of the
// issue it is.
func TestClusterThreeNodes(t *testing.T) {
	litmus := tool(t, "litmus", "litmus")
	nginx := tool(t, "nginx", "nginx-light")
	etcd := clustertest.StartEtcd(t, 3)
	s3 := clustertest.StartS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3.SecretKey)
	t.Setenv("AWS_REGION", s3.Region)
	cfg := filepath.Join(t.TempDir(), "cluster.toml")
	// A short grace so that the collector's work is seen within the test; every upload here
	// is far shorter.
	if err := os.WriteFile(cfg, []byte("access_log = false\n[cluster]\netcd_prefix = \""+c3Prefix+"\"\nblob_grace = \"6s\"\ngc_interval = \"1s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-config", cfg, "-etcd", strings.Join(etcd.Endpoints(), ","), "-s3-endpoint", s3.Endpoint, "-s3-bucket", c3Bucket}
	var nodes [3]*server
	for i := range nodes {
		nodes[i] = startServer(t, serverOpts{Flags: flags})
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	mc, err := minio.New(strings.TrimPrefix(s3.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, ""), Region: s3.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("1 litmus through each node and round-robin through nginx", func(t *testing.T) {
		lb, accessLog := startNginx(t, nginx, a.Addr, b.Addr, c.Addr)
		for _, u := range []string{a.URL, b.URL, c.URL, lb} {
			out, err := runCmd(t, 5*time.Minute, t.TempDir(), nil, nil, litmus, "-k", u)
			if err != nil {
				t.Fatalf("litmus %s: %v\n%s", u, err, out)
			}
			t.Logf("litmus through %s:", u)
			checkLitmus(t, out)
		}
		// The load balancer did spread the requests: every node answered a third of them.
		counts := upstreamCounts(t, accessLog)
		t.Logf("requests per node through nginx: %v", counts)
		total := 0
		for _, v := range counts {
			total += v
		}
		for i, n := range nodes {
			if got := counts[n.Addr]; got < total/4 {
				t.Errorf("node %d answered %d of the %d requests of the balanced litmus run", i, got, total)
			}
		}
	})

	t.Run("2 a PUT on one node reads back identical on the others at once", func(t *testing.T) {
		body := randomBytes(3<<20+17, 14)
		mustStatus(t, 201, "PUT", a.url("/shared.bin"), nil, body)
		for _, n := range []*server{b, c} {
			if got := mustStatus(t, 200, "GET", n.url("/shared.bin"), nil, nil); !bytes.Equal(got, body) {
				t.Fatalf("%s reads %d bytes, not the %d written through a", n.Addr, len(got), len(body))
			}
		}
		listing := mustStatus(t, 207, "PROPFIND", b.url("/"), map[string]string{"Depth": "1"}, nil)
		if !bytes.Contains(listing, []byte("/shared.bin</D:href>")) {
			t.Fatalf("PROPFIND on b does not list the file written through a:\n%s", listing)
		}
	})

	t.Run("4 sixteen concurrent conflicting LOCKs over three nodes have one winner", func(t *testing.T) {
		for round := range 5 {
			p := fmt.Sprintf("/race-%d.txt", round)
			mustStatus(t, 201, "PUT", a.url(p), nil, []byte("race"))
			var wins, lost atomic.Int64
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					st, _, _, err := try("LOCK", nodes[i%3].url(p), map[string]string{"Timeout": "Second-300"}, []byte(lockBody))
					switch {
					case err != nil:
						t.Errorf("LOCK: %v", err)
					case st == 200:
						wins.Add(1)
					case st == 423:
						lost.Add(1)
					default:
						t.Errorf("LOCK %s: status %d", p, st)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 || lost.Load() != 15 {
				t.Fatalf("round %d: %d winners and %d 423s of 16 LOCKs, want 1 and 15", round, wins.Load(), lost.Load())
			}
		}
	})

	t.Run("5 MOVE of a 10000-entry collection is atomic as seen from the other nodes", func(t *testing.T) {
		const n = 10000
		mustStatus(t, 201, "MKCOL", a.url("/big/"), nil, nil)
		start := time.Now()
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 16 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
					if st, _, body, err := try("PUT", a.url(fmt.Sprintf("/big/f%05d", i)), nil, []byte{}); err != nil || st != 201 {
						t.Errorf("PUT member %d: %d %v %s", i, st, err, body)
						return
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		t.Logf("%d members created through one node in %v", n, time.Since(start).Round(time.Millisecond))
		// Observers on b and c list the root, one request read at one etcd revision: it must
		// show the collection at exactly one of its names, and never go back.
		stop := make(chan struct{})
		var seenBoth, seenNone, seenBack atomic.Int64
		var polls atomic.Int64
		for _, o := range []*server{b, c} {
			wg.Go(func() {
				moved := false
				for {
					select {
					case <-stop:
						return
					default:
					}
					st, _, body, err := try("PROPFIND", o.url("/"), map[string]string{"Depth": "1"}, []byte(propfindResourcetype))
					if err != nil || st != 207 {
						t.Errorf("observer: PROPFIND /: %d %v", st, err)
						return
					}
					polls.Add(1)
					src, dst := bytes.Contains(body, []byte("/big/</D:href>")), bytes.Contains(body, []byte("/moved/</D:href>"))
					switch {
					case src && dst:
						seenBoth.Add(1)
					case !src && !dst:
						seenNone.Add(1)
					case src && moved:
						seenBack.Add(1)
					case dst:
						moved = true
					}
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		moveStart := time.Now()
		mustStatus(t, 201, "MOVE", a.url("/big/"), map[string]string{"Destination": a.url("/moved/")}, nil)
		moveTook := time.Since(moveStart)
		time.Sleep(200 * time.Millisecond)
		close(stop)
		wg.Wait()
		t.Logf("MOVE of %d members took %v; %d observer listings during it", n, moveTook.Round(time.Millisecond), polls.Load())
		if seenBoth.Load()+seenNone.Load()+seenBack.Load() != 0 {
			t.Fatalf("observers saw both names %d times, neither %d times, the old name after the new %d times", seenBoth.Load(), seenNone.Load(), seenBack.Load())
		}
		listing := mustStatus(t, 207, "PROPFIND", c.url("/moved/"), map[string]string{"Depth": "1"}, []byte(propfindResourcetype))
		if got := bytes.Count(listing, []byte("<D:response>")); got != n+1 {
			t.Fatalf("c lists %d responses in /moved/, want %d", got, n+1)
		}
		mustStatus(t, 404, "PROPFIND", b.url("/big/"), map[string]string{"Depth": "0"}, nil)
	})

	t.Run("8 S3 stopped then started: 503 meanwhile, nothing lost, service resumes", func(t *testing.T) {
		body := randomBytes(200<<10, 8)
		mustStatus(t, 201, "MKCOL", a.url("/s3/"), nil, nil)
		mustStatus(t, 201, "PUT", a.url("/s3/kept.bin"), nil, body)
		s3.Stop()
		for _, n := range nodes {
			st, hdr, _, err := try("GET", n.url("/s3/kept.bin"), nil, nil)
			if err != nil || st != 503 || hdr.Get("Retry-After") == "" {
				t.Errorf("%s: GET with S3 down: %d (Retry-After %q) %v, want 503 with Retry-After", n.Addr, st, hdr.Get("Retry-After"), err)
			}
			st, hdr, _, err = try("PUT", n.url("/s3/new.bin"), nil, []byte("while S3 is down"))
			if err != nil || st != 503 || hdr.Get("Retry-After") == "" {
				t.Errorf("%s: PUT with S3 down: %d (Retry-After %q) %v, want 503 with Retry-After", n.Addr, st, hdr.Get("Retry-After"), err)
			}
		}
		// Metadata lives in etcd: listings and properties still answer.
		if listing := mustStatus(t, 207, "PROPFIND", b.url("/s3/"), map[string]string{"Depth": "1"}, nil); !bytes.Contains(listing, []byte("kept.bin")) {
			t.Errorf("PROPFIND with S3 down does not list kept.bin:\n%s", listing)
		}
		s3.Start()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, _, got, err := try("GET", c.url("/s3/kept.bin"), nil, nil)
			if err == nil && st == 200 {
				if !bytes.Equal(got, body) {
					t.Fatal("the content read after S3 came back differs from the one written")
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET still %d %v 20 s after S3 came back", st, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		mustStatus(t, 404, "GET", a.url("/s3/new.bin"), nil, nil)
		mustStatus(t, 201, "PUT", b.url("/s3/new.bin"), nil, []byte("after"))
	})

	t.Run("6 kill -9 of a node mid-upload of 200 MiB leaves the old content and collects the blob", func(t *testing.T) {
		mustStatus(t, 201, "PUT", a.url("/upload.bin"), nil, []byte("the old content"))
		before := bucketObjects(t, mc)
		const size = 200 << 20
		sent := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			pr, pw := io.Pipe()
			go func() {
				chunk := randomBytes(1<<20, 6)
				for i := 0; i < size>>20; i++ {
					if i == 64 {
						close(sent)
					}
					if _, err := pw.Write(chunk); err != nil {
						return
					}
				}
				pw.Close()
			}()
			req, _ := http.NewRequest("PUT", b.url("/upload.bin"), pr)
			req.ContentLength = size
			resp, err := httpClient.Do(req)
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("the PUT completed with %s", resp.Status)
			}
			pr.CloseWithError(err)
			done <- err
		}()
		select {
		case <-sent:
		case <-time.After(60 * time.Second):
			t.Fatal("64 MiB not sent within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
		b.kill()
		t.Logf("the PUT through the killed node: %v", <-done)
		if got := mustStatus(t, 200, "GET", a.url("/upload.bin"), nil, nil); string(got) != "the old content" {
			t.Fatalf("after the kill, GET reads %d bytes, want the old content", len(got))
		}
		if n := incompleteUploads(t, mc); n == 0 {
			t.Fatal("the cut upload left no multipart upload behind: the test did not cut it mid-way")
		}
		// The sweep (once per grace period, on the surviving nodes) aborts the cut upload and
		// deletes any object of it; no object appears that was not there before.
		deadline := time.Now().Add(40 * time.Second)
		for {
			uploads, extra := incompleteUploads(t, mc), 0
			for k := range bucketObjects(t, mc) {
				if !before[k] {
					extra++
				}
			}
			if uploads == 0 && extra == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("40 s after the kill: %d incomplete uploads and %d new objects left", uploads, extra)
			}
			time.Sleep(500 * time.Millisecond)
		}
		b.restart()
	})

	t.Run("7 the etcd leader killed under load loses no acknowledged write or lock", func(t *testing.T) {
		mustStatus(t, 201, "MKCOL", a.url("/load/"), nil, nil)
		type ack struct {
			path, body, token string
		}
		var mu sync.Mutex
		var acks []ack
		var lastFailure, firstSuccessAfter atomic.Int64 // unix nanos
		var killedAt atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 6 {
			n := nodes[w%3]
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					p := fmt.Sprintf("/load/w%d-%d", w, i)
					body := fmt.Sprintf("write %d of worker %d", i, w)
					var st int
					var hdr http.Header
					var err error
					if i%4 == 3 {
						st, hdr, _, err = try("LOCK", n.url(p), map[string]string{"Timeout": "Second-600"}, []byte(lockBody))
					} else {
						st, _, _, err = try("PUT", n.url(p), nil, []byte(body))
					}
					now := time.Now().UnixNano()
					switch {
					case err != nil || st == 503:
						lastFailure.Store(now)
						time.Sleep(20 * time.Millisecond)
					case st == 201:
						mu.Lock()
						acks = append(acks, ack{path: p, body: body, token: hdr.Get("Lock-Token")})
						mu.Unlock()
						if k := killedAt.Load(); k != 0 && now > k {
							firstSuccessAfter.CompareAndSwap(0, now)
						}
					default:
						t.Errorf("%s %s: status %d", map[bool]string{true: "LOCK", false: "PUT"}[i%4 == 3], p, st)
						return
					}
				}
			})
		}
		time.Sleep(2 * time.Second)
		leader := etcd.Leader()
		etcd.Kill(leader)
		killedAt.Store(time.Now().UnixNano())
		t.Logf("killed etcd member %d, the leader", leader)
		time.Sleep(6 * time.Second)
		close(stop)
		wg.Wait()
		if f := firstSuccessAfter.Load(); f == 0 || time.Duration(f-killedAt.Load()) > 5*time.Second {
			t.Fatalf("no request succeeded within 5 s of the leader's death (first success: %v after it)", time.Duration(f-killedAt.Load()))
		} else {
			t.Logf("first success %v after the kill; last failure %v after it", time.Duration(f-killedAt.Load()).Round(time.Millisecond), time.Duration(max(lastFailure.Load()-killedAt.Load(), 0)).Round(time.Millisecond))
		}
		etcd.Start(leader)
		locks := 0
		for i, k := range acks {
			n := nodes[(i+1)%3] // read through another node than most writes
			if k.token != "" {
				locks++
				disc := mustStatus(t, 207, "PROPFIND", n.url(k.path), map[string]string{"Depth": "0"}, []byte(propfindLockdiscovery))
				if !bytes.Contains(disc, []byte(strings.Trim(k.token, "<>"))) {
					t.Fatalf("the acknowledged lock %s on %s is lost", k.token, k.path)
				}
				continue
			}
			if got := mustStatus(t, 200, "GET", n.url(k.path), nil, nil); string(got) != k.body {
				t.Fatalf("the acknowledged PUT of %s reads %q, want %q", k.path, got, k.body)
			}
		}
		t.Logf("%d acknowledged writes and %d acknowledged locks, all found after the leader's death", len(acks)-locks, locks)
		if len(acks)-locks == 0 || locks == 0 {
			t.Fatal("the load acknowledged no write or no lock")
		}
	})

	t.Run("10 fencing: a node frozen mid-PUT under a lapsed lock cannot overwrite the next holder", func(t *testing.T) {
		p := "/fenced.txt"
		mustStatus(t, 201, "PUT", a.url(p), nil, []byte("before"))
		_, hdr, _, err := try("LOCK", a.url(p), map[string]string{"Timeout": "Second-2"}, []byte(lockBody))
		if err != nil || hdr.Get("Lock-Token") == "" {
			t.Fatalf("LOCK: %v", err)
		}
		token := hdr.Get("Lock-Token")
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("PUT", a.url(p), pr)
		req.ContentLength = 4 << 20
		req.Header.Set("If", "("+token+")")
		type result struct {
			status int
			err    error
		}
		res := make(chan result, 1)
		go func() {
			resp, err := httpClient.Do(req)
			if err != nil {
				res <- result{0, err}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			res <- result{resp.StatusCode, nil}
		}()
		stale := bytes.Repeat([]byte("A"), 4<<20)
		if _, err := pw.Write(stale[:1<<20]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // a has confirmed the lock and is uploading
		pid := a.cmd.Process.Pid
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer syscall.Kill(pid, syscall.SIGCONT)
		time.Sleep(3 * time.Second) // the lock lapses while a is frozen
		st, hdr, body, err := try("LOCK", b.url(p), map[string]string{"Timeout": "Second-60"}, []byte(lockBody))
		if err != nil || st != 200 {
			t.Fatalf("b: LOCK after a's lock lapsed: %d %v %s", st, err, body)
		}
		mustStatus(t, 204, "PUT", b.url(p), map[string]string{"If": "(" + hdr.Get("Lock-Token") + ")"}, []byte("b's content"))
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(stale[1<<20:]); err != nil {
			t.Fatalf("sending the rest of a's body: %v", err)
		}
		pw.Close()
		r := <-res
		if r.err != nil || r.status != 423 {
			t.Fatalf("a's PUT after it resumed: %d %v, want 423", r.status, r.err)
		}
		if got := mustStatus(t, 200, "GET", c.url(p), nil, nil); string(got) != "b's content" {
			t.Fatalf("c reads %.40q, want b's content", got)
		}
	})

	t.Run("3 a lock taken on a is enforced by b, removed by c, and survives restarting every node", func(t *testing.T) {
		p := "/locked.txt"
		mustStatus(t, 201, "PUT", a.url(p), nil, []byte("x"))
		_, hdr, _, err := try("LOCK", a.url(p), map[string]string{"Timeout": "Second-600"}, []byte(lockBody))
		token := hdr.Get("Lock-Token")
		if err != nil || token == "" {
			t.Fatalf("LOCK: %v", err)
		}
		mustStatus(t, 423, "PUT", b.url(p), nil, []byte("no token"))
		mustStatus(t, 204, "PUT", b.url(p), map[string]string{"If": "(" + token + ")"}, []byte("with the token"))
		for _, n := range nodes {
			if err := n.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range nodes {
			n.restart()
		}
		mustStatus(t, 423, "PUT", c.url(p), nil, []byte("no token, after the restarts"))
		mustStatus(t, 204, "UNLOCK", c.url(p), map[string]string{"Lock-Token": token}, nil)
		mustStatus(t, 204, "PUT", a.url(p), nil, []byte("unlocked"))
	})
}

const (
	propfindResourcetype  = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>`
	propfindLockdiscovery = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`
)

// try sends one request; unlike do, a failure to connect is returned, not fatal (nodes and
// services go down on purpose here).
func try(method, url string, hdr map[string]string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// bucketObjects lists the names of the objects in the cluster's bucket.
func bucketObjects(t *testing.T, mc *minio.Client) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for o := range mc.ListObjects(context.Background(), c3Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out[o.Key] = true
	}
	return out
}

// incompleteUploads counts the multipart uploads begun and neither completed nor aborted.
func incompleteUploads(t *testing.T, mc *minio.Client) int {
	t.Helper()
	n := 0
	for u := range mc.ListIncompleteUploads(context.Background(), c3Bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		n++
	}
	return n
}

// upstreamCounts counts the requests nginx sent to each upstream, from its access log (one
// $upstream_addr per line).
func upstreamCounts(t *testing.T, accessLog string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for line := range strings.Lines(string(b)) {
		n[strings.TrimSpace(line)]++
	}
	return n
}

// startNginx starts nginx as a round-robin load balancer in front of upstreams, for the test's
// duration, and returns its URL and access log (the upstream of each request, a line each).
func startNginx(t *testing.T, bin string, upstreams ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "    server %s;\n", u)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
  log_format upstream '$upstream_addr';
  access_log %[1]s/access.log upstream;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream davd {
%[2]s  }
  server {
    listen 127.0.0.1:%[3]d;
    client_max_body_size 0;
    location / {
      proxy_pass http://davd;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
}
`, dir, servers.String(), port)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("--- nginx error log ---\n%s", b)
		}
	})
	u := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _, _, err := try("OPTIONS", u, nil, nil); err == nil && st == 200 {
			return u, filepath.Join(dir, "access.log")
		}
		select {
		case <-exited:
			t.Fatal("nginx exited during start-up")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not answer within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
