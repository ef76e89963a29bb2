//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShutdownSecondSignal: SIGTERM during a download that does not finish starts a graceful
// shutdown that says what it waits for; a second SIGTERM ends it at once, names the request it
// cuts off, which still gets its access-log line, and davd exits with a plain message.
func TestShutdownSecondSignal(t *testing.T) {
	s := startServer(t, serverOpts{Flags: []string{"-no-fsync"}})
	big := randomBytes(64<<20, 7)
	if err := os.WriteFile(filepath.Join(s.Root, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /big.bin HTTP/1.1\r\nHost: %s\r\n\r\n", s.Addr)
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("status line %q, %v", status, err)
	}
	// From here on the client reads nothing: the download stalls with the server blocked.
	waitLog := func(want string) {
		t.Helper()
		for range 200 { // 10 s
			if b, _ := os.ReadFile(s.Log); strings.Contains(string(b), want) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("the log never said %q:\n%s", want, s.logTail(20))
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog("requests_running=1")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("davd did not exit within 20 s of the second SIGTERM (the grace period is 30 s)")
	}
	if s.waitErr == nil {
		t.Error("davd exited 0 although it cut a request off")
	}
	log := s.logTail(30)
	for _, want := range []string{
		"a second signal stops at once",
		`msg="shutdown: request cut off" method=GET path=/big.bin`,
		`msg=request method=GET path=/big.bin status=200`,
		"davd: stopped by a second signal: 1 requests cut off",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "context deadline exceeded") || strings.Contains(log, "context canceled") {
		t.Errorf("log shows a context error instead of a plain message:\n%s", log)
	}
}
