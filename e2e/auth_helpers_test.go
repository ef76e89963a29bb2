//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davd/davd/internal/clustertest"
)

// davd is one davd process started from a configuration file. Unlike startServer it accepts any
// HTTP answer (a 401 included) as "up", since with authentication on OPTIONS may need
// credentials.
type davd struct {
	t       *testing.T
	Root    string // served directory
	Outside string // a directory next to the root that nothing may ever touch
	Addr    string
	URL     string // scheme://Addr + prefix + "/"
	Log     string
	Client  *http.Client
	pid     int
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// davdOpts configures startDavd.
type davdOpts struct {
	Config string   // TOML, without root and state (added here)
	Flags  []string // extra flags after -config
	Prefix string   // for URL only; put prefix = ... in Config too
	TLS    bool     // the config has a [tls] section: talk HTTPS
	Setup  func(root, outside string)
}

func startDavd(t *testing.T, o davdOpts) *davd {
	t.Helper()
	dir := t.TempDir()
	d := &davd{t: t, Root: filepath.Join(dir, "data"), Outside: filepath.Join(dir, "outside"), Log: filepath.Join(dir, "davd.log")}
	for _, p := range []string{d.Root, d.Outside} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d.Outside, "private.txt"), []byte("outside the root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o.Setup != nil {
		o.Setup(d.Root, d.Outside)
	}
	cfg := fmt.Sprintf("root = %q\nstate = %q\naccess_log = false\nno_fsync = true\n%s", d.Root, filepath.Join(dir, "state"), o.Config)
	cfgPath := filepath.Join(dir, "davd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Client = &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	scheme := "http"
	if o.TLS {
		scheme = "https"
		d.Client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		d.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		d.URL = scheme + "://" + d.Addr + o.Prefix + "/"
		args := append([]string{"-config", cfgPath, "-listen", d.Addr}, o.Flags...)
		if lastErr = d.start(args); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("davd did not start: %v\n%s", lastErr, d.logTail())
	}
	t.Cleanup(func() {
		d.stop()
		b, _ := os.ReadFile(d.Log)
		for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("davd log reports %q", bad)
			}
		}
		if t.Failed() {
			t.Logf("--- davd log ---\n%s", d.logTail())
		}
	})
	return d
}

func (d *davd) start(args []string) error {
	logf, err := os.OpenFile(d.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(davdBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	d.cmd, d.pid, d.done = cmd, cmd.Process.Pid, make(chan struct{})
	go func() {
		d.waitErr = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return fmt.Errorf("davd exited during start-up: %v", d.waitErr)
		default:
		}
		req, _ := http.NewRequest(http.MethodOptions, d.URL, nil)
		if resp, err := d.Client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop()
	return fmt.Errorf("%s did not answer within 30 s", d.URL)
}

// stop ends the process by its PID: SIGTERM, then SIGKILL after 20 s.
func (d *davd) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	syscall.Kill(d.pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		syscall.Kill(d.pid, syscall.SIGKILL)
		<-d.done
	}
}

func (d *davd) alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

func (d *davd) logTail() string {
	b, _ := os.ReadFile(d.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// req is one request as a user ("" for none).
type req struct {
	Method, Path string // Path is appended to the URL without its trailing slash
	User, Pass   string
	Hdr          map[string]string
	Body         []byte
}

// do sends r and returns the status, headers and body.
func (d *davd) do(r req) (int, http.Header, []byte) {
	d.t.Helper()
	var rd io.Reader
	if r.Body != nil {
		rd = bytes.NewReader(r.Body)
	}
	hr, err := http.NewRequest(r.Method, strings.TrimSuffix(d.URL, "/")+r.Path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	if r.User != "" {
		hr.SetBasicAuth(r.User, r.Pass)
	}
	for k, v := range r.Hdr {
		hr.Header.Set(k, v)
	}
	resp, err := d.Client.Do(hr)
	if err != nil {
		d.t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, resp.Header, b
}

func (d *davd) want(status int, r req) (http.Header, []byte) {
	d.t.Helper()
	got, h, b := d.do(r)
	if got != status {
		d.t.Fatalf("%s %s as %q: status %d, want %d\n%s", r.Method, r.Path, r.User, got, status, b)
	}
	return h, b
}

// treeHash hashes the names, types, modes, link targets and contents of everything under the
// dirs, without following symbolic links.
func treeHash(t *testing.T, dirs ...string) string {
	t.Helper()
	h := sha256.New()
	for _, dir := range dirs {
		var lines []string
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			info, err := e.Info()
			if err != nil {
				return err
			}
			line := rel + " " + info.Mode().String()
			switch {
			case info.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				line += " -> " + target
			case info.Mode().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				line += " " + hex.EncodeToString(sum[:])
			}
			lines = append(lines, line)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Fprintln(h, l)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// clusterNodes starts one etcd member and one S3 server, puts the S3 credentials in the
// environment, and returns a function that starts a davd node in cluster mode over them (bucket
// and etcd_prefix naming the test's cluster); top holds top-level keys of the configuration
// file and tables the tables after [cluster] ([[users]]): a test starts as many nodes as it
// needs.
func clusterNodes(t *testing.T, bucket, top, tables string) func() *davd {
	t.Helper()
	etcd := clustertest.StartEtcd(t, 1)
	s3 := clustertest.StartS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3.SecretKey)
	t.Setenv("AWS_REGION", s3.Region)
	return func() *davd {
		return startDavd(t, davdOpts{Flags: []string{
			"-etcd", strings.Join(etcd.Endpoints(), ","), "-s3-endpoint", s3.Endpoint, "-s3-bucket", bucket,
		}, Config: top + "[cluster]\netcd_prefix = \"/" + bucket + "/\"\n" + tables})
	}
}
