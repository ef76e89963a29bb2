//go:build e2e

package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	propPatchBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:davd-e2e">
  <D:set><D:prop><Z:color xml:lang="en">persistent blue</Z:color></D:prop></D:set>
</D:propertyupdate>`
	propFindColor = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:Z="urn:example:davd-e2e"><D:prop><Z:color/><D:lockdiscovery/></D:prop></D:propfind>`
	lockBody = `<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>
<D:owner><D:href>urn:example:e2e-owner</D:href></D:owner></D:lockinfo>`
)

var (
	lockTokenRe = regexp.MustCompile(`<[^>]*locktoken>\s*<[^>]*href>\s*([^<\s]+)\s*<`)
	timeoutRe   = regexp.MustCompile(`<[^>]*timeout>\s*Second-(\d+)\s*<`)
)

// TestRestartPersistence: a dead property and a write lock survive a graceful restart (SIGTERM,
// wait, start again on the same -state): the property keeps its value, the lock keeps its token,
// owner and remaining timeout, and it still guards the resource.
func TestRestartPersistence(t *testing.T) {
	s := startServer(t, serverOpts{})
	mustStatus(t, 201, "PUT", s.url("doc.txt"), nil, []byte("version 1\n"))
	mustStatus(t, 207, "PROPPATCH", s.url("doc.txt"), map[string]string{"Content-Type": "application/xml"}, []byte(propPatchBody))

	resp, body := do(t, "LOCK", s.url("doc.txt"), map[string]string{"Timeout": "Second-600", "Content-Type": "application/xml"}, []byte(lockBody))
	if resp.StatusCode != 200 {
		t.Fatalf("LOCK: %s\n%s", resp.Status, body)
	}
	token := strings.Trim(resp.Header.Get("Lock-Token"), "<>")
	if token == "" {
		t.Fatalf("LOCK: no Lock-Token header\n%s", body)
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("SIGTERM: davd did not exit cleanly: %v", err)
	}
	s.restart()

	body = mustStatus(t, 207, "PROPFIND", s.url("doc.txt"), map[string]string{"Depth": "0", "Content-Type": "application/xml"}, []byte(propFindColor))
	text := string(body)
	if !strings.Contains(text, "persistent blue") {
		t.Errorf("dead property lost across the restart:\n%s", text)
	}
	m := lockTokenRe.FindStringSubmatch(text)
	if m == nil || m[1] != token {
		t.Errorf("lockdiscovery after the restart does not show token %s:\n%s", token, text)
	}
	if !strings.Contains(text, "urn:example:e2e-owner") {
		t.Errorf("lock owner lost across the restart:\n%s", text)
	}
	if tm := timeoutRe.FindStringSubmatch(text); tm == nil {
		t.Errorf("lockdiscovery after the restart has no finite timeout:\n%s", text)
	} else if left, _ := strconv.Atoi(tm[1]); left <= 0 || left > 600 || left < 540 {
		t.Errorf("remaining lock timeout after the restart: %d s, want in (540, 600]", left)
	}

	// The lock still guards the resource: refused without the token, accepted with it.
	mustStatus(t, 423, "PUT", s.url("doc.txt"), nil, []byte("intruder\n"))
	mustStatus(t, 204, "PUT", s.url("doc.txt"), map[string]string{"If": "(<" + token + ">)"}, []byte("version 2\n"))
	mustStatus(t, 204, "UNLOCK", s.url("doc.txt"), map[string]string{"Lock-Token": "<" + token + ">"}, nil)
	mustStatus(t, 204, "PUT", s.url("doc.txt"), nil, []byte("version 3\n"))
	if got := string(mustStatus(t, 200, "GET", s.url("doc.txt"), nil, nil)); got != "version 3\n" {
		t.Errorf("GET after unlock: %q", got)
	}

	// An unlock is durable too.
	if err := s.Stop(); err != nil {
		t.Fatalf("second SIGTERM: %v", err)
	}
	s.restart()
	body = mustStatus(t, 207, "PROPFIND", s.url("doc.txt"), map[string]string{"Depth": "0", "Content-Type": "application/xml"}, []byte(propFindColor))
	if strings.Contains(string(body), token) {
		t.Errorf("the released lock came back after a restart:\n%s", body)
	}
	if !strings.Contains(string(body), "persistent blue") {
		t.Errorf("dead property lost across the second restart:\n%s", body)
	}
}
