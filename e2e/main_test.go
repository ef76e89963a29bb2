//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// davdBin is the server binary every test starts: built once by TestMain from ./cmd/davd.
var davdBin string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if b := os.Getenv("DAVD_BIN"); b != "" {
		abs, err := filepath.Abs(b)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: DAVD_BIN:", err)
			return 2
		}
		davdBin = abs
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "davd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	davdBin = filepath.Join(dir, "davd")
	args := []string{"build", "-o", davdBin}
	if os.Getenv("DAVD_E2E_RACE") != "0" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/davd")
	cmd := exec.Command("go", args...)
	cmd.Dir = ".." // the module root: go test runs in the package directory
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 2
	}
	return m.Run()
}

// server is one running davd process.
type server struct {
	t      *testing.T
	Root   string // served directory
	State  string // -state directory
	Prefix string // -prefix ("" for none)
	Flags  []string
	Addr   string // 127.0.0.1:port
	URL    string // http://Addr + Prefix + "/"
	Log    string // file holding the process's stdout and stderr

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// serverOpts configures startServer; zero values mean fresh temp directories and no extra flags.
type serverOpts struct {
	Root, State, Prefix string
	Flags               []string
}

// startServer starts davd on a free loopback port and returns once OPTIONS answers. The process
// is stopped (SIGTERM, then SIGKILL) by PID when the test ends; a data race or panic reported in
// its log fails the test.
func startServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	if o.Root == "" {
		o.Root = filepath.Join(t.TempDir(), "data")
	}
	if o.State == "" {
		o.State = filepath.Join(t.TempDir(), "state")
	}
	s := &server{t: t, Root: o.Root, State: o.State, Prefix: o.Prefix, Flags: o.Flags}
	logDir := t.TempDir()
	var lastErr error
	for attempt := range 3 {
		s.Log = filepath.Join(logDir, fmt.Sprintf("davd-%d.log", attempt))
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("davd did not start: %v\n--- server log ---\n%s", lastErr, s.logTail(60))
	}
	t.Cleanup(func() {
		if s.running() {
			if err := s.Stop(); err != nil {
				t.Errorf("stopping davd: %v", err)
			}
		}
		s.checkLog()
		if t.Failed() {
			t.Logf("--- davd log (last 40 lines of %s) ---\n%s", s.Log, s.logTail(40))
		}
	})
	return s
}

// restart starts the same server again (same root, state and flags) after Stop.
func (s *server) restart() {
	s.t.Helper()
	if s.running() {
		s.t.Fatal("restart: the server is still running")
	}
	s.checkLog()
	var lastErr error
	for attempt := range 3 {
		s.Log = strings.TrimSuffix(s.Log, ".log") + fmt.Sprintf("-r%d.log", attempt)
		if lastErr = s.start(); lastErr == nil {
			return
		}
	}
	s.t.Fatalf("davd did not restart: %v\n--- server log ---\n%s", lastErr, s.logTail(60))
}

func (s *server) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.URL = "http://" + s.Addr + s.Prefix + "/"
	args := []string{"-root", s.Root, "-state", s.State, "-listen", s.Addr}
	if s.Prefix != "" {
		args = append(args, "-prefix", s.Prefix)
	}
	args = append(args, s.Flags...)
	logf, err := os.Create(s.Log)
	if err != nil {
		return err
	}
	cmd := exec.Command(davdBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	// Wait (bounded) until OPTIONS answers, or the process exits (e.g. the port was taken).
	deadline := time.Now().Add(30 * time.Second)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("davd exited during start-up: %v", s.waitErr)
		default:
		}
		req, _ := http.NewRequest(http.MethodOptions, s.URL, nil)
		if resp, err := c.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
			s.kill()
			return fmt.Errorf("OPTIONS %s: %s", s.URL, resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("OPTIONS %s did not answer within 30 s", s.URL)
}

func (s *server) running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM to the server's PID and waits (at most 20 s, then SIGKILL) for it to exit.
// It returns an error unless the process exited cleanly (status 0).
func (s *server) Stop() error {
	if !s.running() {
		return errors.New("not running")
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.done:
		return s.waitErr
	case <-time.After(20 * time.Second):
		s.kill()
		return errors.New("davd did not exit within 20 s of SIGTERM; killed")
	}
}

func (s *server) kill() {
	if s.running() {
		s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
	}
}

// checkLog fails the test if the server reported a data race or a panic.
func (s *server) checkLog() {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return
	}
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if bytes.Contains(b, []byte(bad)) {
			s.t.Errorf("davd log %s reports %q", s.Log, bad)
		}
	}
}

func (s *server) logTail(n int) string {
	b, _ := os.ReadFile(s.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// url joins a resource path (without leading slash) to the server's base URL.
func (s *server) url(p string) string { return s.URL + strings.TrimPrefix(p, "/") }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

// do sends one request and returns the response (body already read and closed) and its body.
func do(t *testing.T, method, url string, hdr map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

// mustStatus is do that also checks the status code.
func mustStatus(t *testing.T, want int, method, url string, hdr map[string]string, body []byte) []byte {
	t.Helper()
	resp, b := do(t, method, url, hdr, body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", method, url, resp.StatusCode, want, b)
	}
	return b
}

// tool returns the path of an external client, failing (never skipping) when it is missing.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (Debian package %s; ./scripts/test.sh installs it): %v", name, pkg, err)
	}
	return p
}

// runCmd runs a command with a deadline and returns its combined output.
func runCmd(t *testing.T, timeout time.Duration, dir string, env []string, stdin io.Reader, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdin = stdin // nil: /dev/null
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v: %w", name, timeout, err)
	}
	return string(out), err
}

// randomBytes returns n deterministic pseudo-random bytes (every byte value appears).
func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
