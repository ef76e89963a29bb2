package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is one Run in a goroutine: its address, its log, and stop to end it.
type running struct {
	Addr    string
	Root    string // the directory served
	Metrics string // the metrics listener's address, when c.Metrics is set
	Log     *syncBuffer
	stop    func() error
}

// startRun runs c (root and state in temporary directories, listening on a loopback port) until the test ends or stop is called; stop returns Run's error.
func startRun(t *testing.T, c Config) *running {
	t.Helper()
	dir := t.TempDir()
	c.Root, c.State = filepath.Join(dir, "data"), filepath.Join(dir, "state")
	c.Listen = "127.0.0.1:0"
	r := &running{Log: &syncBuffer{}, Root: c.Root}
	log := slog.New(slog.NewTextHandler(r.Log, nil))
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	maddr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, c, log, RunOptions{
			Ready:        func(a net.Addr) { addr <- a.String() },
			MetricsReady: func(a net.Addr) { maddr <- a.String() },
		})
	}()
	select {
	case r.Addr = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v\n%s", err, r.Log)
	}
	if c.Metrics != "" {
		r.Metrics = <-maddr // sent before Ready
	}
	var once sync.Once
	var err error
	r.stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func TestRunLogsVersion(t *testing.T) {
	r := startRun(t, Defaults())
	line := r.Log.String()
	if !strings.Contains(line, "davd serving") || !strings.Contains(line, "version=") || !strings.Contains(line, "go="+runtime.Version()) {
		t.Errorf("start-up line lacks the version:\n%s", line)
	}
}

// Under systemd (Type=notify), Run reports READY=1 once it listens and STOPPING=1 when it
// begins to shut down, to the socket NOTIFY_SOCKET names (a fake one here).
func TestRunNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	r := startRun(t, Defaults())
	read := func() string {
		buf := make([]byte, 512)
		n, err := l.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if got := read(); !strings.HasPrefix(got, "READY=1\n") || !strings.Contains(got, r.Addr) {
		t.Fatalf("first notification %q, want READY=1 with the address", got)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := read(); !strings.HasPrefix(got, "STOPPING=1") {
		t.Fatalf("notification at shutdown %q, want STOPPING=1", got)
	}
}
