package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/auth"
	"github.com/davd/davd/davpath"
	"golang.org/x/crypto/bcrypt"
)

// testHash is a bcrypt hash of "secret" at the minimum cost, made once.
var testHash = func() string {
	h, err := auth.HashPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return h
}()

// base returns the start of a valid configuration with root and state in dir.
func base(dir string) string {
	return "root = " + quote(filepath.Join(dir, "data")) + "\nstate = " + quote(filepath.Join(dir, "state")) + "\n"
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

func TestExampleConfig(t *testing.T) {
	dir := t.TempDir()
	doc := base(dir) + `
listen = "127.0.0.1:8443"
prefix = "/dav"
options_unauthenticated = false

[tls]
cert = "/etc/davd/cert.pem"
key = "/etc/davd/key.pem"
redirect_http = "127.0.0.1:8080"

[proxy]
trusted = ["127.0.0.1", "10.0.0.0/8", "::1"]
public_hosts = ["dav.example.com"]

[timeouts]
read_header = "5s"
idle = "1m"
transfer = "30s"

[limits]
max_put_bytes = 1073741824
max_xml_depth = 32
max_locks_per_user = 50

[anonymous]
scope = "/pub"

[[users]]
name = "alice"
password = "` + testHash + `"
scope = "/alice"
rules = [
  { path = "/archive", permissions = "read-only" },
  { path = "/private", permissions = "none" },
]

[[users]]
name = "bob"
password = "` + testHash + `"
permissions = "read-only"
`
	c := Defaults()
	if err := Parse([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8443" || c.Prefix != "/dav" || c.OptionsUnauthenticated || c.TLS.RedirectHTTP == "" ||
		c.Timeouts.ReadHeader != 5*time.Second || c.Timeouts.Shutdown != 30*time.Second ||
		c.Limits.MaxPutBytes != 1<<30 || c.Limits.MaxXMLBytes != 1<<20 || c.Limits.MaxPerPrincipal != 50 {
		t.Errorf("decoded %+v", c)
	}
	pr, users, err := c.principals()
	if err != nil {
		t.Fatal(err)
	}
	if users.Len() != 2 {
		t.Errorf("%d users, want 2", users.Len())
	}
	a := pr["alice"]
	if a.scope != "/alice" || a.rules.Default != access.PermWrite || a.rules.Perm("/archive/x") != access.PermRead || a.rules.Perm("/private") != access.PermNone {
		t.Errorf("alice = %+v", a)
	}
	if b := pr["bob"]; b.scope != davpath.Root || b.rules.Default != access.PermRead {
		t.Errorf("bob = %+v", b)
	}
	if an := pr[""]; an.scope != "/pub" || an.rules.Default != access.PermRead {
		t.Errorf("anonymous = %+v", an)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	b := base(dir)
	user := "\n[[users]]\nname = \"alice\"\npassword = \"" + testHash + "\"\n"
	tests := []struct {
		name string
		doc  string
		want string // in the error
	}{
		{"unknown top-level key", b + "lisen = \"x:1\"\n", "unknown key(s): lisen"},
		{"unknown nested key", b + "[limits]\nmax_put = 1\n", "limits.max_put"},
		{"unknown user key", b + user + "pasword = \"x\"\n", "users.pasword"},
		{"unknown table", b + "[tsl]\ncert = \"x\"\n", "tsl"},
		{"wrong type", b + "[limits]\nmax_put_bytes = \"big\"\n", "max_put_bytes"},
		{"bad duration", b + "[timeouts]\nidle = \"forever\"\n", "forever"},
		{"syntax error names the line", b + "listen = \n", "line 3"},
		{"negative limit", b + "[limits]\nmax_put_bytes = -1\n", "limits.max_put_bytes: must not be negative"},
		{"unknown http1", b + "http1 = \"fasthttp\"\n", `http1: "fasthttp" is neither "davd" nor "net/http"`},
		{"zero read_header", b + "[timeouts]\nread_header = \"0s\"\n", "timeouts.read_header"},
		{"uri cap above parser's", b + "[limits]\nmax_uri_len = 100000\n", "limits.max_uri_len"},
		{"per-user above total", b + "[limits]\nmax_locks = 10\nmax_locks_per_user = 20\n", "limits.max_locks_per_user"},
		{"cert without key", b + "[tls]\ncert = \"c.pem\"\n", "tls: cert and key"},
		{"redirect without TLS", b + "[tls]\nredirect_http = \":80\"\n", "tls.redirect_http"},
		{"bad trusted proxy", b + "[proxy]\ntrusted = [\"proxy.local\"]\n", "proxy.trusted[0]"},
		{"bad public host", b + "[proxy]\npublic_hosts = [\"https://x/\"]\n", "proxy.public_hosts[0]"},
		{"plain-text password", b + "[[users]]\nname = \"alice\"\npassword = \"hunter2\"\n", "users[0] (alice).password"},
		{"missing password", b + "[[users]]\nname = \"alice\"\n", "users[0] (alice).password: must be set"},
		{"missing name", b + "[[users]]\npassword = \"" + testHash + "\"\n", "users[0].name"},
		{"name with colon", b + "[[users]]\nname = \"a:b\"\npassword = \"" + testHash + "\"\n", "users[0] (a:b).name"},
		{"duplicate user", b + user + user, "users[1] (alice).name: user \"alice\" defined twice"},
		{"scope with dot-dot", b + user + "scope = \"/a/../b\"\n", "users[0] (alice).scope"},
		{"relative scope", b + user + "scope = \"alice\"\n", "users[0] (alice).scope"},
		{"scope with a control character", b + user + "scope = \"/a\\tb\"\n", "users[0] (alice).scope"},
		{"scope with trailing dot", b + user + "scope = \"/a/.\"\n", "users[0] (alice).scope"},
		{"too costly hash", b + "[[users]]\nname = \"x\"\npassword = \"$2a$31$" + testHash[7:] + "\"\n", "users[0] (x).password"},
		{"bad permission", b + user + "permissions = \"admin\"\n", "users[0] (alice).permissions"},
		{"bad rule path", b + user + "rules = [{ path = \"pub\", permissions = \"read\" }]\n", "users[0] (alice).rules[0].path"},
		{"bad rule permission", b + user + "rules = [{ path = \"/pub\", permissions = \"all\" }]\n", "users[0] (alice).rules[0].permissions"},
		{"duplicate rule", b + user + "rules = [{ path = \"/p\", permissions = \"read\" }, { path = \"/p/\", permissions = \"none\" }]\n", "users[0] (alice).rules[1].path"},
		{"bad anonymous permission", b + "[anonymous]\npermissions = \"rwx\"\n", "anonymous.permissions"},
		{"state inside root", "root = " + quote(dir) + "\nstate = " + quote(filepath.Join(dir, "st")) + "\n", "state:"},
		{"bad prefix", b + "prefix = \"dav\"\n", "prefix:"},
		{"open on all interfaces", b + "listen = \":8080\"\n", "insecure_open"},
		{"open on a public address", b + "listen = \"192.0.2.1:8080\"\n", "not a loopback address"},
		{"missing htpasswd", b + "htpasswd = " + quote(filepath.Join(dir, "nope")) + "\n", "htpasswd:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			err := Parse([]byte(tt.doc), &c)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, doc string
	}{
		{"loopback without users", base(dir) + "listen = \"127.0.0.1:8080\"\n"},
		{"localhost without users", base(dir) + "listen = \"localhost:8080\"\n"},
		{"IPv6 loopback", base(dir) + "listen = \"[::1]:8080\"\n"},
		{"all interfaces with insecure_open", base(dir) + "listen = \":8080\"\ninsecure_open = true\n"},
		{"all interfaces with users", base(dir) + "listen = \":8080\"\n[[users]]\nname = \"u\"\npassword = \"" + testHash + "\"\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			if err := Parse([]byte(tt.doc), &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestConfigHtpasswd(t *testing.T) {
	dir := t.TempDir()
	hp := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(hp, []byte("carol:$2y$"+testHash[4:]+"\ndave:"+testHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := base(dir) + "htpasswd = " + quote(hp) + "\n[[users]]\nname = \"carol\"\nscope = \"/carol\"\n"
	c := Defaults()
	if err := Parse([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	pr, users, err := c.principals()
	if err != nil {
		t.Fatal(err)
	}
	if users.Len() != 2 || pr["carol"].scope != "/carol" || pr["dave"].scope != davpath.Root || pr["dave"].rules.Default != access.PermWrite {
		t.Errorf("principals %+v", pr)
	}
	// A password in both places is ambiguous.
	doc = base(dir) + "htpasswd = " + quote(hp) + "\n[[users]]\nname = \"dave\"\npassword = \"" + testHash + "\"\n"
	c = Defaults()
	if err := Parse([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "users[0] (dave).password") {
		t.Errorf("err = %v", err)
	}
}

// TestParseKeepsOnError checks that a failed parse leaves the configuration untouched.
func TestParseKeepsOnError(t *testing.T) {
	c := Defaults()
	if err := Parse([]byte("listen = \"1.2.3.4:5\"\nbogus = 1\n"), &c); err == nil {
		t.Fatal("no error")
	}
	if c.Listen != Defaults().Listen {
		t.Errorf("listen changed to %q by a failed parse", c.Listen)
	}
}

// FuzzConfig feeds arbitrary documents to the loader: it must never panic, and whatever it
// accepts must validate or fail with an error, never half-apply.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("listen = \"127.0.0.1:1\"\n[limits]\nmax_put_bytes = 5\n"))
	f.Add([]byte("[[users]]\nname = \"a\"\npassword = \"" + testHash + "\"\nscope = \"/a\"\nrules = [{path=\"/p\", permissions=\"read\"}]\n"))
	f.Add([]byte("[anonymous]\npermissions = \"read\"\n[tls]\ncert=\"a\"\nkey=\"b\"\n[proxy]\ntrusted=[\"10.0.0.0/8\"]\n"))
	f.Add([]byte("[timeouts]\nidle = \"1h\"\ntransfer = 5\n"))
	f.Add([]byte("a = [[[[[[[[[[1]]]]]]]]]]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, doc []byte) {
		c := Defaults()
		c.Root, c.State = filepath.Join(dir, "data"), filepath.Join(dir, "state")
		before := c
		if err := Parse(doc, &c); err != nil {
			if c.Listen != before.Listen || c.Root != before.Root || len(c.Users) != 0 {
				t.Fatalf("failed parse changed the configuration")
			}
			return
		}
		c.Htpasswd = ""       // never read files named by fuzz input
		c.InsecureOpen = true // never resolve host names from fuzz input
		for i := range c.Users {
			if cost, err := bcrypt.Cost([]byte(c.Users[i].Password)); err == nil && cost > bcrypt.MinCost {
				c.Users[i].Password = testHash // keep each run fast
			}
		}
		_ = c.Validate()
	})
}

// TestLimitsKeys pins the [limits] keys and their defaults, which are public interface: the
// section is made of dav.Limits and lock.Limits, and each key must still land in its field.
func TestLimitsKeys(t *testing.T) {
	d := Defaults().Limits
	if d.MaxPutBytes != 0 || d.MaxXMLBytes != 1<<20 || d.MaxXMLDepth != 64 || d.MaxURILen != davpath.MaxLen ||
		!d.PropfindInfinity || d.MaxPropfindEntries != 100000 || d.MaxTimeout != time.Hour ||
		d.MaxLocks != 10000 || d.MaxPerPrincipal != 1000 {
		t.Errorf("default limits changed: %+v", d)
	}
	doc := `[limits]
max_put_bytes = 1
max_xml_bytes = 2
max_xml_depth = 3
max_uri_len = 4
propfind_infinity = false
max_propfind_entries = 5
max_lock_timeout = "6s"
max_locks = 7
max_locks_per_user = 7
`
	c := Defaults()
	if err := Parse([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	want := Limits{}
	want.MaxPutBytes, want.MaxXMLBytes, want.MaxXMLDepth, want.MaxURILen = 1, 2, 3, 4
	want.PropfindInfinity, want.MaxPropfindEntries = false, 5
	want.MaxTimeout, want.MaxLocks, want.MaxPerPrincipal = 6*time.Second, 7, 7
	if c.Limits != want {
		t.Errorf("decoded %+v, want %+v", c.Limits, want)
	}
	// The embedded types' Go field names are not keys.
	for _, bad := range []string{"[limits]\nmax_timeout = \"1s\"", "[limits]\nmax_per_principal = 1", "[limits]\nlimits = 1"} {
		c := Defaults()
		if err := Parse([]byte(bad), &c); err == nil {
			t.Errorf("Parse(%q) accepted an unknown key", bad)
		}
	}
}

// TestScopeLiteralNames: since issue 15 item 6 a scope may name a directory whose name holds a
// backslash or a percent sign, as any path may; both are taken literally, never as a separator
// or an escape.
func TestScopeLiteralNames(t *testing.T) {
	dir := t.TempDir()
	for _, scope := range []string{`/a\b`, `/..\x`, "/a%2Fb", "/%2e%2e"} {
		c := Defaults()
		doc := base(dir) + "\n[[users]]\nname = \"alice\"\npassword = \"" + testHash + "\"\nscope = " + quote(scope) + "\n"
		if err := Parse([]byte(doc), &c); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("scope %q: %v", scope, err)
		}
		pr, _, err := c.principals()
		if err != nil {
			t.Fatal(err)
		}
		if got := pr["alice"].scope; string(got) != scope || got.Depth() != 1 {
			t.Errorf("scope %q resolved to %q (depth %d), want the same single segment", scope, got, got.Depth())
		}
	}
}

// nextcloud_layout names users in its URLs: without users davd refuses to start and says why.
// In cluster mode it is allowed (the chunks wait in the cluster's upload tree).
func TestNextcloudLayoutNeeds(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ doc, want string }{
		{base(dir) + "nextcloud_layout = true\n", "add [[users]]"},
	} {
		c := Defaults()
		if err := Parse([]byte(tc.doc), &c); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "nextcloud_layout") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want nextcloud_layout's with %q", err, tc.want)
		}
	}
	c := Defaults()
	if err := Parse([]byte(base(dir)+"nextcloud_layout = true\n[[users]]\nname = \"dave\"\npassword = \""+testHash+"\"\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("with users: %v", err)
	}
	c = Defaults()
	if err := Parse([]byte(base(dir)+"nextcloud_layout = true\n[cluster]\netcd = [\"http://127.0.0.1:2379\"]\ns3_endpoint = \"http://127.0.0.1:9000\"\ns3_bucket = \"b\"\n"+
		"[[users]]\nname = \"dave\"\npassword = \""+testHash+"\"\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("with users in cluster mode: %v", err)
	}
}
