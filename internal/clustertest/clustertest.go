// Package clustertest starts the real engines of davd's cluster mode for tests: an etcd cluster
// from Debian's etcd-server package (the etcd binary on PATH) and an S3 server, versitygw with its
// POSIX backend, built once from the Go module proxy at a pinned version and cached. Both listen
// on free 127.0.0.1 ports only, keep their data in the test's temporary directory, and are
// stopped by PID when the test ends. Nothing here is a fake: the cluster backends are tested
// against the engines they run on in production.
package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// VersityGWVersion is the pinned versitygw release (github.com/versity/versitygw, Apache-2.0).
const VersityGWVersion = "v1.8.0"

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is one engine process, restartable with the same arguments.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start(extra ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s already running", p.name)
	}
	lf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, append(append([]string(nil), p.args...), extra...)...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); lf.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// stop signals the process (SIGTERM for a clean stop, SIGKILL for a crash) and waits for it.
func (p *proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// tail returns the end of the process's log, for failure messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// Etcd is a running etcd cluster.
type Etcd struct {
	t       testing.TB
	members []*etcdMember
}

type etcdMember struct {
	proc
	client string // http://127.0.0.1:port
	dir    string
	inited bool
}

// StartEtcd starts an etcd cluster of n members and waits until every member is healthy.
func StartEtcd(t testing.TB, n int) *Etcd {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd not found (Debian package etcd-server): %v", err)
	}
	base := t.TempDir()
	e := &Etcd{t: t}
	var initial []string
	peers := make([]string, n)
	for i := range n {
		peers[i] = fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peers[i]))
	}
	token := fmt.Sprintf("davd-test-%d", time.Now().UnixNano())
	for i := range n {
		client := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
		dir := filepath.Join(base, fmt.Sprintf("m%d", i))
		m := &etcdMember{client: client, dir: dir}
		m.proc = proc{
			name: fmt.Sprintf("etcd m%d", i),
			bin:  bin,
			args: []string{
				"--name", fmt.Sprintf("m%d", i),
				"--data-dir", dir,
				"--listen-client-urls", client,
				"--advertise-client-urls", client,
				"--listen-peer-urls", peers[i],
				"--initial-advertise-peer-urls", peers[i],
				"--initial-cluster", strings.Join(initial, ","),
				"--initial-cluster-token", token,
				"--heartbeat-interval", "50",
				"--election-timeout", "500",
				"--log-level", "warn",
			},
			env: []string{"ETCD_UNSUPPORTED_ARCH=" + os.Getenv("ETCD_UNSUPPORTED_ARCH")},
			log: filepath.Join(base, fmt.Sprintf("m%d.log", i)),
		}
		e.members = append(e.members, m)
	}
	for _, m := range e.members {
		if err := m.start("--initial-cluster-state", "new"); err != nil {
			t.Fatal(err)
		}
		m.inited = true
	}
	t.Cleanup(func() {
		for _, m := range e.members {
			m.stop(syscall.SIGKILL)
		}
	})
	for i := range e.members {
		if err := e.waitHealthy(i, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// Endpoints returns the client URLs of every member.
func (e *Etcd) Endpoints() []string {
	var s []string
	for _, m := range e.members {
		s = append(s, m.client)
	}
	return s
}

// Kill ends member i with SIGKILL, as a crash.
func (e *Etcd) Kill(i int) { e.members[i].stop(syscall.SIGKILL) }

// Start restarts member i with its data directory and waits until it is healthy.
func (e *Etcd) Start(i int) {
	e.t.Helper()
	if err := e.members[i].start("--initial-cluster-state", "existing"); err != nil {
		e.t.Fatal(err)
	}
	if err := e.waitHealthy(i, 30*time.Second); err != nil {
		e.t.Fatal(err)
	}
}

// Leader returns the index of the member that is the raft leader now.
func (e *Etcd) Leader() int {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for i, m := range e.members {
			if !m.running() {
				continue
			}
			st, err := status(m.client)
			if err == nil && st.Leader != "" && st.Leader == st.Header.MemberID {
				return i
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatal("etcd: no leader within 15 s")
	return -1
}

type etcdStatus struct {
	Header struct {
		MemberID string `json:"member_id"`
	} `json:"header"`
	Leader string `json:"leader"`
}

// status asks a member through etcd's JSON gateway (/v3/maintenance/status).
func status(client string) (etcdStatus, error) {
	var st etcdStatus
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", client+"/v3/maintenance/status", bytes.NewReader([]byte("{}")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("status %d", resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (e *Etcd) waitHealthy(i int, d time.Duration) error {
	m := e.members[i]
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if !m.running() {
			return fmt.Errorf("%s exited:\n%s", m.name, m.tail())
		}
		resp, err := http.Get(m.client + "/health")
		if err == nil {
			var h struct {
				Health string `json:"health"`
			}
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Health == "true" {
				return nil
			}
			last = fmt.Errorf("health %q", h.Health)
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy within %s: %v\n%s", m.name, d, last, m.tail())
}

// S3 is a running versitygw S3 server.
type S3 struct {
	t         testing.TB
	p         *proc
	Endpoint  string // http://127.0.0.1:port
	AccessKey string
	SecretKey string
	Region    string
	// Dir is the POSIX directory that holds the buckets (a bucket is a directory, an object a file).
	Dir string
}

// StartS3 starts versitygw over a fresh directory and waits until it answers.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin, err := VersityGW()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	dir := filepath.Join(base, "gw")
	side := filepath.Join(base, "meta")
	for _, d := range []string{dir, side} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s := &S3{t: t, Endpoint: "http://" + addr, AccessKey: "davdtestkey", SecretKey: "davdtestsecret0123456789", Region: "us-east-1", Dir: dir}
	s.p = &proc{
		name: "versitygw",
		bin:  bin,
		args: []string{"--port", addr, "--quiet", "posix", "--sidecar", side, dir},
		env:  []string{"ROOT_ACCESS_KEY=" + s.AccessKey, "ROOT_SECRET_KEY=" + s.SecretKey},
		log:  filepath.Join(base, "versitygw.log"),
	}
	t.Cleanup(func() { s.p.stop(syscall.SIGKILL) })
	s.Start()
	return s
}

// Stop stops the S3 server (its data stays).
func (s *S3) Stop() { s.p.stop(syscall.SIGTERM) }

// Start starts the S3 server again and waits until it answers.
func (s *S3) Start() {
	s.t.Helper()
	if err := s.p.start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if !s.p.running() {
			s.t.Fatalf("versitygw exited:\n%s", s.p.tail())
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return // any HTTP answer (403 without a signature) means it serves
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("versitygw not answering within 30 s:\n%s", s.p.tail())
}

var buildMu sync.Mutex

// VersityGW returns the path of the versitygw binary at VersityGWVersion, building it from the
// Go module proxy into the user cache (${XDG_CACHE_HOME:-~/.cache}/davd) when it is not there:
// about 1–3 minutes on 2 cores, once per machine.
func VersityGW() (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "davd", "versitygw-"+VersityGWVersion)
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+VersityGWVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building versitygw %s: %v\n%s", VersityGWVersion, err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", errors.New("building versitygw: no binary at " + bin)
	}
	return bin, nil
}
