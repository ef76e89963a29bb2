//go:build e2e

package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientFrom is an HTTP client whose connections leave from the loopback address src, so that
// one test can be several clients to davd.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func propfindAs(t *testing.T, c *http.Client, url, user, pass string, hdr map[string]string) (int, http.Header) {
	t.Helper()
	r, _ := http.NewRequestWithContext(context.Background(), "PROPFIND", url, nil)
	r.Header.Set("Depth", "0")
	r.SetBasicAuth(user, pass)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestLoginThrottle (issue 17 item 5) runs a bounded guessing loop against the real binary at
// its default throttle settings: the attacker's address gets five password checks, then 429
// with Retry-After; the real user logging in from another address is unaffected. Behind a
// trusted proxy the same holds per X-Forwarded-For address, and the auth log names the real
// client, not the proxy.
func TestLoginThrottle(t *testing.T) {
	h := hashOf(t, "right", 4)
	d := startDavd(t, davdOpts{Config: usersConfig(h, "alice")})
	attacker, user := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	start := time.Now()
	checked, refused := 0, 0
	var retryAfter string
	for time.Since(start) < 3*time.Second { // bounded: 3 s of guessing
		st, hdr := propfindAs(t, attacker, d.URL, "alice", "guess", nil)
		switch st {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
			refused++
			retryAfter = hdr.Get("Retry-After")
		default:
			t.Fatalf("guess answered %d", st)
		}
	}
	elapsed := time.Since(start)
	t.Logf("attacker, one address, %v: %d passwords checked (%.2f/s), %d requests refused with 429 (Retry-After %s)", elapsed.Round(time.Millisecond), checked, float64(checked)/elapsed.Seconds(), refused, retryAfter)
	// Retry-After counts down from the ban's 60 s.
	if ra, _ := strconv.Atoi(retryAfter); checked != 5 || refused == 0 || ra < 50 || ra > 60 {
		t.Fatalf("%d passwords checked and %d refused (Retry-After %q), want 5, some, and 50 to 60", checked, refused, retryAfter)
	}
	if st, _ := propfindAs(t, attacker, d.URL, "alice", "right", nil); st != http.StatusTooManyRequests {
		t.Fatalf("the right password from the banned address: %d, want 429", st)
	}
	for range 3 {
		if st, _ := propfindAs(t, user, d.URL, "alice", "right", nil); st != 207 {
			t.Fatalf("the real user from another address: %d, want 207", st)
		}
	}

	// Behind a trusted proxy (the test plays nginx at 127.0.0.1): per forwarded address.
	p := startDavd(t, davdOpts{Config: usersConfig(h, "alice") + "\n[proxy]\ntrusted = [\"127.0.0.1\"]\n"})
	evil := map[string]string{"X-Forwarded-For": "198.51.100.66"}
	for range 5 {
		propfindAs(t, attacker, p.URL, "alice", "guess", evil)
	}
	if st, _ := propfindAs(t, attacker, p.URL, "alice", "right", evil); st != http.StatusTooManyRequests {
		t.Fatalf("through the proxy, the banned client: %d, want 429", st)
	}
	if st, _ := propfindAs(t, attacker, p.URL, "alice", "right", map[string]string{"X-Forwarded-For": "198.51.100.7"}); st != 207 {
		t.Fatalf("through the same proxy, another client: %d, want 207 (the proxy itself must not be banned)", st)
	}
	log, err := os.ReadFile(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "198.51.100.66") || strings.Contains(string(log), `remote=127.0.0.1`) {
		t.Fatalf("the auth log should name the forwarded client, not the proxy:\n%s", log)
	}
}
