//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadSIGHUP (issue 17 item 4) changes the configuration file of the running binary and
// sends SIGHUP: a changed password and a new user take effect without a restart, a file with an
// error is refused with a log line naming the key and the old configuration stays, and a
// change to what serves plain HTTP (http1) is reported as needing a restart.
func TestReloadSIGHUP(t *testing.T) {
	one, two := hashOf(t, "one", 4), hashOf(t, "two", 4)
	d := startDavd(t, davdOpts{Config: usersConfig(one, "alice")})
	cfgPath := filepath.Join(filepath.Dir(d.Root), "davd.toml")
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(orig), "\n[[users]]")
	hup := func(cfg, want string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(head+cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(d.Log)
		n := strings.Count(string(b), want)
		if err := syscall.Kill(d.pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			b, _ := os.ReadFile(d.Log)
			if strings.Count(string(b), want) > n {
				return
			}
			if time.Now().After(deadline) || !d.alive() {
				t.Fatalf("no %q after SIGHUP:\n%s", want, d.logTail())
			}
		}
	}
	d.want(207, req{Method: "PROPFIND", User: "alice", Pass: "one", Hdr: map[string]string{"Depth": "0"}})

	hup(usersConfig(two, "alice")+usersConfig(one, "bob"), "configuration reloaded")
	d.want(401, req{Method: "PROPFIND", User: "alice", Pass: "one", Hdr: map[string]string{"Depth": "0"}})
	d.want(207, req{Method: "PROPFIND", User: "alice", Pass: "two", Hdr: map[string]string{"Depth": "0"}})
	d.want(207, req{Method: "PROPFIND", User: "bob", Pass: "one", Hdr: map[string]string{"Depth": "0"}})

	hup(usersConfig(two, "alice")+"\n[timeouts]\nidle = 30\n", "configuration reload refused")
	if !strings.Contains(d.logTail(), "timeouts.idle") {
		t.Fatalf("the refusal does not name the key:\n%s", d.logTail())
	}
	d.want(207, req{Method: "PROPFIND", User: "bob", Pass: "one", Hdr: map[string]string{"Depth": "0"}})

	hup("http1 = \"net/http\"\n"+usersConfig(two, "alice"), "need a restart")
	if !strings.Contains(d.logTail(), "keys=http1") {
		t.Fatalf("the restart-needed key is not named:\n%s", d.logTail())
	}
	d.want(401, req{Method: "PROPFIND", User: "bob", Pass: "one", Hdr: map[string]string{"Depth": "0"}})
	d.want(207, req{Method: "PROPFIND", User: "alice", Pass: "two", Hdr: map[string]string{"Depth": "0"}})
}
