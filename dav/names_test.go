package dav_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/memprops"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/memfs"
	"github.com/davd/davd/storage/osfs"
)

// pct percent-encodes every byte of s but letters and digits: an encoder apart from davpath's,
// so the test does not check Escape against itself.
func pct(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// roundTripNames are the names of issue 15 item 6: every printable ASCII punctuation character
// (alone, but for the dot, and inside a name), a backslash, bytes that are not UTF-8, and valid
// multi-byte UTF-8.
func roundTripNames() []string {
	names := []string{`back\slash`, `..\secret.txt`, `\`, "\xff", "raw\xff\xfe.bin", "caf\xe9.txt", "résumé 日本語 🎉", "%2e%2e", "..."}
	for c := byte('!'); c <= '~'; c++ {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' {
			continue
		}
		names = append(names, "p"+string(c)+"q")
		if c != '.' {
			names = append(names, string(c))
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(names)))
}

// displayName is what DAV:displayname must read for name: the name itself, with each byte that
// is not UTF-8 shown as U+FFFD (XML 1.0 cannot carry it; the href carries the exact bytes).
func displayName(name string) string {
	var b strings.Builder
	for _, r := range name {
		b.WriteRune(r)
	}
	return b.String()
}

// TestNamesRoundTrip is issue 15 item 6 through the engine (RFC 4918 §8.3: hrefs are URIs, so
// the bytes travel percent-encoded, RFC 3986 §2.1): every name a Unix file system allows is
// created with PUT, read with GET, listed by PROPFIND with an href that a client can send back
// and a displayname that is well-formed XML, and copied, moved and deleted, on memfs and osfs.
// On osfs the file on disk has exactly the name's bytes and nothing appears outside the root.
func TestNamesRoundTrip(t *testing.T) {
	for _, backend := range []string{"memfs", "osfs"} {
		t.Run(backend, func(t *testing.T) {
			var fsys storage.Backend
			var root string
			if backend == "osfs" {
				top := t.TempDir()
				root = filepath.Join(top, "root")
				if err := os.Mkdir(root, 0o755); err != nil {
					t.Fatal(err)
				}
				o, err := osfs.New(root, osfs.Options{NoFsync: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					o.Close()
					if es, _ := os.ReadDir(top); len(es) != 1 || es[0].Name() != "root" {
						t.Errorf("entries beside the root: %v", es)
					}
				})
				fsys = o
			} else {
				fsys = memfs.New()
			}
			lm, _ := memlock.New(memlock.Options{})
			h, err := dav.New(dav.Config{Storage: fsys, Props: memprops.New(props.Limits{}), Locks: lm})
			if err != nil {
				t.Fatal(err)
			}
			testNamesRoundTrip(t, &env{t: t, h: h}, root)
		})
	}
}

func testNamesRoundTrip(t *testing.T, e *env, root string) {
	onDisk := func(rel ...string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(append([]string{root}, rel...)...))
		return string(b), err == nil
	}
	names := roundTripNames()
	for _, d := range []string{"/src/", "/dst/", "/mv/"} {
		e.mustDo(201, "MKCOL", d, nil, "")
	}
	body := func(n string) string { return "content of " + n }
	for _, n := range names {
		e.mustDo(201, "PUT", "/src/"+pct(n), nil, body(n))
		if code, got := e.get("/src/" + pct(n)); code != 200 || got != body(n) {
			t.Errorf("GET %q after PUT: %d %q", n, code, got)
		}
		if root != "" {
			if got, ok := onDisk("src", n); !ok || got != body(n) {
				t.Errorf("on disk, src/%q: %q %v", n, got, ok)
			}
		}
	}
	// A backslash straight in the request line is the same literal name.
	e.mustDo(201, "PUT", `/src/raw\back`, nil, "raw")
	if code, got := e.get("/src/raw%5Cback"); code != 200 || got != "raw" {
		t.Errorf("GET raw%%5Cback after a PUT with a raw backslash: %d %q", code, got)
	}
	e.mustDo(204, "DELETE", "/src/raw%5cback", nil, "")
	if root != "" {
		for _, outside := range []string{"secret.txt", "../secret.txt"} {
			if _, ok := onDisk(outside); ok {
				t.Errorf("%s exists: a backslash name escaped its directory", outside)
			}
		}
	}

	// PROPFIND lists each name once, under an href that unescapes to its bytes and that GET
	// takes back as it is.
	w := e.mustDo(207, "PROPFIND", "/src/", hdr{"Depth": "1"},
		`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>`)
	if !xmlWellFormed(w.Body.Bytes()) {
		t.Fatalf("PROPFIND body is not well-formed XML:\n%q", w.Body.String())
	}
	listed := map[string]string{} // unescaped name → href
	shown := map[string]string{}  // unescaped name → displayname
	for _, r := range checkMultistatus(t, w.Body.Bytes()).Responses {
		href := r.Href[0]
		if href == "/src/" {
			continue
		}
		p, err := url.PathUnescape(href)
		if err != nil || !strings.HasPrefix(p, "/src/") {
			t.Errorf("href %q: %q %v", href, p, err)
			continue
		}
		n := p[len("/src/"):]
		listed[n] = href
		for _, ps := range r.Propstats {
			for _, a := range ps.Prop.Any {
				if a.XMLName.Local == "displayname" {
					var s string
					if err := xml.Unmarshal([]byte("<x>"+a.Inner+"</x>"), &s); err != nil {
						t.Errorf("displayname of %q: %v", href, err)
					}
					shown[n] = s
				}
			}
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
		if bad := unsafeInHref(href); bad >= 0 {
			t.Errorf("href %q holds a raw %q at %d", href, href[bad], bad)
		}
		if code, got := e.get(href); code != 200 || got != body(n) {
			t.Errorf("GET of the listed href %q: %d %q", href, code, got)
		}
		if want := displayName(n); shown[n] != want {
			t.Errorf("displayname of %q = %q, want %q", n, shown[n], want)
		}
	}

	// COPY, MOVE and DELETE, with the names in the Destination too.
	for _, n := range names {
		e.mustDo(201, "COPY", "/src/"+pct(n), hdr{"Destination": "/dst/" + pct(n)}, "")
		e.mustDo(201, "MOVE", "/dst/"+pct(n), hdr{"Destination": "/mv/" + pct(n)}, "")
		if code, _ := e.get("/dst/" + pct(n)); code != 404 {
			t.Errorf("GET %q after MOVE away: %d", n, code)
		}
		for _, d := range []string{"/src/", "/mv/"} {
			if code, got := e.get(d + pct(n)); code != 200 || got != body(n) {
				t.Errorf("GET %s%q after COPY and MOVE: %d %q", d, n, code, got)
			}
		}
		if root != "" {
			if got, ok := onDisk("mv", n); !ok || got != body(n) {
				t.Errorf("on disk, mv/%q after MOVE: %q %v", n, got, ok)
			}
		}
		e.mustDo(204, "DELETE", "/mv/"+pct(n), nil, "")
		if code, _ := e.get("/mv/" + pct(n)); code != 404 {
			t.Errorf("GET %q after DELETE: %d", n, code)
		}
	}
	if root != "" {
		for _, d := range []string{"dst", "mv"} {
			if es, err := os.ReadDir(filepath.Join(root, d)); err != nil || len(es) != 0 {
				t.Errorf("%s after MOVE and DELETE: %v %v", d, es, err)
			}
		}
		es, _ := os.ReadDir(filepath.Join(root, "src"))
		var got []string
		for _, e := range es {
			got = append(got, e.Name())
		}
		if !slices.Equal(got, names) {
			t.Errorf("src on disk = %q,\nwant %q", got, names)
		}
		if es, _ := os.ReadDir(root); len(es) != 3 {
			t.Errorf("root holds %d entries, want src, dst and mv: %v", len(es), es)
		}
	}
}

// unsafeInHref returns the offset of the first byte of href that is neither an RFC 3986 §2.3
// unreserved character, a §2.2 sub-delim other than "&" and "'" (which XML would need to
// escape), ":", "@", "/", nor a "%" starting a percent-encoded octet; -1 if there is none.
func unsafeInHref(href string) int {
	const hex = "0123456789ABCDEFabcdef"
	for i := 0; i < len(href); i++ {
		c := href[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~!$()*+,;=:@/", c) >= 0:
		case c == '%' && i+2 < len(href) && strings.IndexByte(hex, href[i+1]) >= 0 && strings.IndexByte(hex, href[i+2]) >= 0:
			i += 2
		default:
			return i
		}
	}
	return -1
}

// xmlWellFormed reads every token of b with encoding/xml, which refuses bytes that are not
// UTF-8 and characters XML 1.0 does not allow.
func xmlWellFormed(b []byte) bool {
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		_, err := d.Token()
		if err != nil {
			return err == io.EOF
		}
	}
}
