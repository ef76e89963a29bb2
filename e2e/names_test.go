//go:build e2e

package e2e

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pctAll percent-encodes every byte of s but letters and digits.
func pctAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

var responseRE = regexp.MustCompile(`(?s)<D:response>.*?</D:response>`)
var displayRE = regexp.MustCompile(`(?s)<D:displayname>(.*?)</D:displayname>`)

// TestHostileLiteralNames is issue 15 item 6 against the real binary: names a Unix file system
// allows but that the old rule refused (a backslash, bytes that are not UTF-8) are served. The
// hostile spellings ("..\pwned.txt" raw in the request line, "..%5c..%5c", a Destination with a
// backslash) land as one literal name inside alice's scope, byte for byte, and nothing outside
// the scope changes. Then every printable ASCII punctuation character, a backslash, invalid
// UTF-8 and valid multi-byte UTF-8 make the round trip PUT, PROPFIND (and GET of the listed
// href), COPY, MOVE, DELETE.
func TestHostileLiteralNames(t *testing.T) {
	d := startDavd(t, davdOpts{Prefix: "/dav", Config: hostileConfig(t, ""), Setup: hostileTree(t)})
	baseline := treeHash(t, d.Root, d.Outside)
	alice := filepath.Join(d.Root, "alice")
	raw := func(method, target, body string, hdr ...string) int {
		t.Helper()
		code, b := hostileCase{user: "alice", method: method, target: target, body: body, hdr: hdr}.send(t, d.Addr)
		for _, secret := range []string{"top secret", "bob's secret"} {
			if strings.Contains(b, secret) {
				t.Errorf("%s %s answered with %q", method, target, secret)
			}
		}
		return code
	}
	wantFile := func(name, want string) {
		t.Helper()
		if b, err := os.ReadFile(filepath.Join(alice, name)); err != nil || string(b) != want {
			t.Errorf("alice/%q on disk: %q %v, want %q", name, b, err, want)
		}
	}
	outsideIntact := func() {
		t.Helper()
		for rel, want := range map[string]string{"secret.txt": "top secret\n", "bob/secret.txt": "bob's secret\n", "ok.txt": "root ok\n"} {
			if b, err := os.ReadFile(filepath.Join(d.Root, rel)); err != nil || string(b) != want {
				t.Errorf("%s changed: %q %v", rel, b, err)
			}
		}
		for _, p := range []string{"pwned.txt", "x.txt", "../pwned.txt", "bob/pwned.txt", "../outside/pwned.txt"} {
			if _, err := os.Lstat(filepath.Join(d.Root, p)); err == nil {
				t.Errorf("%s was created outside alice's scope", p)
			}
		}
	}

	hostile := []struct{ target, name string }{
		{`/dav/..\pwned.txt`, `..\pwned.txt`},
		{"/dav/..%5c..%5cpwned.txt", `..\..\pwned.txt`},
		{"/dav/..%5C..%5Cbob%5Cpwned.txt", `..\..\bob\pwned.txt`},
		{"/dav/%ff%fe", "\xff\xfe"},
	}
	for _, h := range hostile {
		if code := raw("PUT", h.target, "pwned?"); code != 201 {
			t.Fatalf("PUT %s: %d, want 201", h.target, code)
		}
		wantFile(h.name, "pwned?")
		if code := raw("GET", h.target, ""); code != 200 {
			t.Errorf("GET %s: %d", h.target, code)
		}
	}
	if code := raw("COPY", "/dav/ok.txt", "", `Destination: http://{host}/dav/..\x.txt`); code != 201 {
		t.Fatalf("COPY to a backslash name: %d", code)
	}
	wantFile(`..\x.txt`, "alice ok\n")
	if code := raw("MOVE", "/dav/..%5Cx.txt", "", "Destination: http://{host}/dav/..%5C..%5Cx.txt"); code != 201 {
		t.Fatalf("MOVE to a backslash name: %d", code)
	}
	wantFile(`..\..\x.txt`, "alice ok\n")
	outsideIntact()
	for _, target := range []string{"/dav/..%5C..%5Cx.txt", `/dav/..\pwned.txt`, "/dav/..%5c..%5cpwned.txt", "/dav/..%5C..%5Cbob%5Cpwned.txt", "/dav/%FF%FE"} {
		if code := raw("DELETE", target, ""); code != 204 {
			t.Errorf("DELETE %s: %d", target, code)
		}
	}
	if h := treeHash(t, d.Root, d.Outside); h != baseline {
		t.Fatal("the tree differs after deleting what the test created")
	}

	// The round trip, as a client that percent-encodes every byte would make it.
	names := []string{`back\slash`, `\`, "\xff", "raw\xff\xfe.bin", "caf\xe9.txt", "résumé 日本語"}
	for c := byte('!'); c <= '~'; c++ {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' {
			continue
		}
		names = append(names, "p"+string(c)+"q")
		if c != '.' {
			names = append(names, string(c))
		}
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	a := func(method, path string, hdr map[string]string, body string) req {
		r := req{Method: method, Path: path, User: "alice", Pass: hostilePW, Hdr: hdr}
		if body != "" {
			r.Body = []byte(body)
		}
		return r
	}
	for _, dir := range []string{"/n/", "/c/", "/m/"} {
		d.want(201, a("MKCOL", dir, nil, ""))
	}
	for _, n := range names {
		d.want(201, a("PUT", "/n/"+pctAll(n), nil, "body "+n))
		wantFile(filepath.Join("n", n), "body "+n)
	}
	_, ms := d.want(207, a("PROPFIND", "/n/", map[string]string{"Depth": "1"},
		`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>`))
	if err := xml.Unmarshal(ms, new(struct{})); err != nil {
		t.Fatalf("the 207 is not well-formed XML: %v\n%q", err, ms)
	}
	listed := map[string]string{}
	for _, resp := range responseRE.FindAllString(string(ms), -1) {
		m := hrefRE.FindStringSubmatch(resp)
		if m == nil || m[1] == "/dav/n/" {
			continue
		}
		p, err := url.PathUnescape(m[1])
		if err != nil || !strings.HasPrefix(p, "/dav/n/") {
			t.Errorf("href %q: %v", m[1], err)
			continue
		}
		n := p[len("/dav/n/"):]
		listed[n] = m[1]
		var shown string
		if dm := displayRE.FindStringSubmatch(resp); dm == nil || xml.Unmarshal([]byte("<x>"+dm[1]+"</x>"), &shown) != nil {
			t.Errorf("displayname of %q missing or not XML: %q", n, resp)
		} else if want := string([]rune(n)); shown != want { // each byte that is not UTF-8 shows as U+FFFD
			t.Errorf("displayname of %q = %q, want %q", n, shown, want)
		}
	}
	if len(listed) != len(names) {
		t.Errorf("PROPFIND listed %d members, want %d", len(listed), len(names))
	}
	for _, n := range names {
		href, ok := listed[n]
		if !ok {
			t.Errorf("PROPFIND does not list %q", n)
			continue
		}
		if strings.ContainsFunc(href, func(r rune) bool { return r >= 0x80 || r == '\\' || r == '"' || r == '<' || r == '&' || r == '\'' }) {
			t.Errorf("href %q holds a byte that should be percent-encoded", href)
		}
		if code, b := (hostileCase{user: "alice", method: "GET", target: href}).send(t, d.Addr); code != 200 || b != "body "+n {
			t.Errorf("GET of the listed href %s: %d %q", href, code, b)
		}
		d.want(201, a("COPY", "/n/"+pctAll(n), map[string]string{"Destination": d.URL + "c/" + pctAll(n)}, ""))
		wantFile(filepath.Join("c", n), "body "+n)
		d.want(201, a("MOVE", "/c/"+pctAll(n), map[string]string{"Destination": d.URL + "m/" + pctAll(n)}, ""))
		wantFile(filepath.Join("m", n), "body "+n)
		if _, err := os.Lstat(filepath.Join(alice, "c", n)); err == nil {
			t.Errorf("c/%q still there after MOVE", n)
		}
		d.want(204, a("DELETE", "/m/"+pctAll(n), nil, ""))
		if _, err := os.Lstat(filepath.Join(alice, "m", n)); err == nil {
			t.Errorf("m/%q still there after DELETE", n)
		}
	}
	es, _ := os.ReadDir(filepath.Join(alice, "n"))
	var got []string
	for _, e := range es {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("alice/n on disk = %q,\nwant %q", got, names)
	}
	outsideIntact()
	for _, dir := range []string{"/n", "/c", "/m"} {
		d.want(204, a("DELETE", dir, nil, ""))
	}
	if h := treeHash(t, d.Root, d.Outside); h != baseline {
		t.Fatal("the tree differs after the round trip")
	}
}
