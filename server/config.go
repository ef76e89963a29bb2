package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/davd/davd/access"
	"github.com/davd/davd/auth"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
)

// Config is the typed configuration of one davd instance: the TOML file maps onto it key for
// key (the toml tags), and the command-line flags override single fields. Defaults live in
// Defaults; Validate checks everything before anything is opened.
type Config struct {
	// Root is the served directory (created if missing).
	Root string `toml:"root"`
	// Listen is the TCP address to listen on.
	Listen string `toml:"listen"`
	// State is the directory of the embedded store (dead properties, locks). It must not lie
	// inside Root: nothing in it is ever reachable over HTTP.
	State string `toml:"state"`
	// Prefix is the URL path davd is mounted at behind a reverse proxy ("" for none).
	Prefix string `toml:"prefix"`
	// NoFsync skips fsync of uploaded content (benchmarks, volatile file systems).
	NoFsync bool `toml:"no_fsync"`
	// Pprof, when set, serves net/http/pprof on this separate (loopback) address.
	Pprof string `toml:"pprof"`
	// Metrics, when set, is the address of a separate listener serving Prometheus metrics
	// (/metrics), liveness (/healthz) and readiness (/readyz). It has no authentication: keep
	// it on loopback or a management network. Never the WebDAV port.
	Metrics string `toml:"metrics"`
	// AccessLog writes one line per request.
	AccessLog bool `toml:"access_log"`
	// AccessLogFormat is "" (a structured line in LogFormat) or "combined" (Apache's and
	// nginx's Combined Log Format, for existing log tooling).
	AccessLogFormat string `toml:"access_log_format"`
	// LogFormat is the format of davd's log: "text" (slog's key=value, the default) or "json".
	LogFormat string `toml:"log_format"`
	// AccessLogOut receives the access lines: Combined Log Format ones (default os.Stderr),
	// or structured ones in LogFormat (default: the log Run is given); not a key.
	AccessLogOut io.Writer `toml:"-"`
	// HTTP1 chooses what serves plain-HTTP (cleartext) connections: "davd" (the default), the
	// built-in HTTP/1.1 server of package server/h1, or "net/http", Go's http.Server. HTTPS
	// (with HTTP/2) is always served by net/http.
	HTTP1 string `toml:"http1"`

	// InsecureOpen allows listening on a non-loopback address with no users configured, which
	// gives everyone who can reach the port read and write access to the tree.
	InsecureOpen bool `toml:"insecure_open"`
	// OptionsUnauthenticated answers OPTIONS without credentials (the Windows Mini-Redirector
	// gives up when its first OPTIONS gets a 401). OPTIONS reveals only the DAV capabilities.
	OptionsUnauthenticated bool `toml:"options_unauthenticated"`
	// NextcloudLayout also serves each user's files at /remote.php/dav/files/USER/ and their
	// chunked uploads at /remote.php/dav/uploads/USER/ (after Prefix), as Nextcloud and ownCloud
	// clients and rclone's "nextcloud" vendor expect. Needs users; chunks wait in the state
	// directory, so it is not available in cluster mode.
	NextcloudLayout bool `toml:"nextcloud_layout"`
	// QuotaBytes, when positive, bounds the bytes of all files in the served tree (RFC 4331:
	// a write past it is a 507 with DAV:quota-not-exceeded). A user's own quota_bytes bounds
	// the user's scope. Written as bytes or with a unit ("10G").
	QuotaBytes int64 `toml:"quota_bytes"`
	// Htpasswd is an htpasswd file of bcrypt entries (htpasswd -B), read at start-up.
	Htpasswd string `toml:"htpasswd"`
	// Anonymous, when set, lets requests without credentials in with this access.
	Anonymous *Access `toml:"anonymous"`
	// Users are the accounts; any user or an htpasswd file turns authentication on.
	Users []User `toml:"users"`

	TLS   TLS   `toml:"tls"`
	Proxy Proxy `toml:"proxy"`
	// CORS lets browser applications on other origins use davd (none by default).
	CORS     CORS     `toml:"cors"`
	Timeouts Timeouts `toml:"timeouts"`
	Limits   Limits   `toml:"limits"`
	// LoginThrottle is the defence against password guessing (on by default).
	LoginThrottle auth.ThrottleOptions `toml:"login_throttle"`
	Cluster       Cluster              `toml:"cluster"`
}

// Cluster is cluster mode: the tree, dead properties and locks in etcd, the contents in an S3
// bucket, so that any number of davd nodes serve the same tree (root and state are then not
// used). The S3 credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, else from
// the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile
// AWS_PROFILE or default); never from the command line.
type Cluster struct {
	// Etcd are the etcd client URLs; any turns cluster mode on.
	Etcd []string `toml:"etcd"`
	// EtcdPrefix is put before every key davd writes in etcd (default "/davd/").
	EtcdPrefix string `toml:"etcd_prefix"`
	// EtcdCA is the PEM file of the CA of the etcd members' certificates; EtcdCert and EtcdKey
	// a client certificate, when etcd asks for one.
	EtcdCA   string `toml:"etcd_ca"`
	EtcdCert string `toml:"etcd_cert"`
	EtcdKey  string `toml:"etcd_key"`
	// EtcdUser authenticates to etcd with the password in EtcdPasswordFile, or in the
	// DAVD_ETCD_PASSWORD environment variable.
	EtcdUser         string `toml:"etcd_user"`
	EtcdPasswordFile string `toml:"etcd_password_file"`
	// S3Endpoint is the S3 service URL, S3Bucket the bucket of the contents, S3Region its region.
	S3Endpoint string `toml:"s3_endpoint"`
	S3Bucket   string `toml:"s3_bucket"`
	S3Region   string `toml:"s3_region"`
	// CreateBucket makes the bucket when it does not exist (default true).
	CreateBucket *bool `toml:"create_bucket"`
	// BlobGrace is how long replaced and uncommitted contents are kept (default 15m);
	// GCInterval how often each node collects them (default 1m).
	BlobGrace  time.Duration `toml:"blob_grace"`
	GCInterval time.Duration `toml:"gc_interval"`
}

// Enabled reports whether c asks for cluster mode.
func (c Cluster) Enabled() bool { return len(c.Etcd) > 0 }

// Access is what a principal may do: a scope (the sub-tree that is its "/"), a default
// permission and path rules over its view of the tree.
type Access struct {
	// Scope is the principal's root in the served tree ("/" or "" for all of it), e.g. "/alice".
	Scope string `toml:"scope"`
	// Permissions is "read-write" (the default for users), "read-only" or "none".
	Permissions string `toml:"permissions"`
	// Rules override Permissions under a path prefix (whole segments: "/pub" is not "/public");
	// the longest matching prefix wins. Paths are as the principal sees them, inside its scope.
	Rules []Rule `toml:"rules"`
}

// Rule is one path rule.
type Rule struct {
	Path        string `toml:"path"`
	Permissions string `toml:"permissions"`
}

// User is one account. Password is a bcrypt hash (`davd hash-password`); it may be left out
// when the htpasswd file has the user, to give an htpasswd user a scope or rules.
type User struct {
	Name     string `toml:"name"`
	Password string `toml:"password"`
	Access
	// QuotaBytes, when positive, bounds the bytes of all files in the user's scope, whoever
	// writes them (users sharing a scope share its quota: the smallest of theirs applies).
	QuotaBytes int64 `toml:"quota_bytes"`
}

// TLS configures HTTPS (HTTP/2 included) from PEM files.
type TLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	// RedirectHTTP, when set, is a second listen address that answers plain HTTP with a
	// permanent redirect (308, method preserved) to the HTTPS address.
	RedirectHTTP string `toml:"redirect_http"`
}

// Proxy configures reverse-proxy mode.
type Proxy struct {
	// Trusted are the addresses (IPs or CIDR prefixes) of reverse proxies whose
	// X-Forwarded-Host and X-Forwarded-Proto are believed; from anyone else these headers are
	// removed before the request is handled.
	Trusted []string `toml:"trusted"`
	// PublicHosts are host[:port] values a Destination header may name besides the Host.
	PublicHosts []string `toml:"public_hosts"`
}

// Timeouts bound how long a connection may be held.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers (slowloris).
	ReadHeader time.Duration `toml:"read_header"`
	// Idle bounds the wait for the next request on a keep-alive connection.
	Idle time.Duration `toml:"idle"`
	// Transfer bounds each stall of a request: reading the next piece of the body or writing
	// the next piece of the response must not take longer. Uploads and downloads of any length
	// go on as long as they make progress.
	Transfer time.Duration `toml:"transfer"`
	// Shutdown is how long in-flight requests get when the server stops.
	Shutdown time.Duration `toml:"shutdown"`
}

// Limits bound what one request, or one principal, may cost: the engine's limits and the lock
// manager's, as their own packages define, document and default them. The [limits] keys are
// their toml tags: max_put_bytes, max_xml_bytes, max_xml_depth, max_uri_len, propfind_infinity
// and max_propfind_entries (dav.Limits); max_lock_timeout, max_locks and max_locks_per_user
// (lock.Limits).
type Limits struct {
	dav.Limits
	LockLimits
}

// LockLimits is lock.Limits under a name that can be embedded beside dav.Limits.
type LockLimits = lock.Limits

// The values of Config.HTTP1.
const (
	HTTP1Davd    = "davd"
	HTTP1NetHTTP = "net/http"
)

// Defaults returns the configuration of `davd` with no flags: ./data on 127.0.0.1:8080.
func Defaults() Config {
	return Config{
		Root:                   "data",
		Listen:                 "127.0.0.1:8080",
		AccessLog:              true,
		HTTP1:                  HTTP1Davd,
		OptionsUnauthenticated: true,
		Timeouts: Timeouts{
			ReadHeader: 20 * time.Second,
			Idle:       120 * time.Second,
			Transfer:   60 * time.Second,
			Shutdown:   30 * time.Second,
		},
		Limits: Limits{dav.DefaultLimits, lock.DefaultLimits},
	}
}

// MaxConfigBytes bounds the size of a configuration file.
const MaxConfigBytes = 1 << 20

// LoadFile reads the TOML file at path over c: keys present in the file replace c's values,
// absent ones keep them. Unknown keys are an error naming them.
func LoadFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := Parse(b, c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Parse decodes a TOML document over c, strictly: unknown keys are an error naming them.
func Parse(b []byte, c *Config) error {
	if len(b) > MaxConfigBytes {
		return fmt.Errorf("larger than %d bytes", MaxConfigBytes)
	}
	// A table such as [anonymous] present in the file must start from its own zero value, not
	// from what c held; decode into a copy so a failed parse leaves c untouched.
	n := *c
	n.Anonymous = nil
	n.Users = nil
	b, err := withSizes(b)
	if err != nil {
		return err
	}
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&n)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("line %d: %s", pe.Position.Line, hintQuotes(pe.Message))
		}
		return err
	}
	if err := checkDurations(md, &n); err != nil {
		return err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return fmt.Errorf("unknown key(s): %s", strings.Join(keys, ", "))
	}
	if !md.IsDefined("anonymous") {
		n.Anonymous = c.Anonymous
	}
	if !md.IsDefined("users") {
		n.Users = c.Users
	}
	*c = n
	return nil
}

// DefaultStateDir returns the state directory used when none is configured: a directory per
// served root under the user's state home, never inside the served tree.
func DefaultStateDir(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no state directory: set -state (%w)", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "davd", filepath.Base(abs)+"-"+hex.EncodeToString(sum[:6])), nil
}

// AuthEnabled reports whether requests are authenticated (any user, an htpasswd file, or an
// anonymous section). Without it every request may read and write everything.
func (c *Config) AuthEnabled() bool {
	return len(c.Users) > 0 || c.Htpasswd != "" || c.Anonymous != nil
}

// Validate checks the configuration and fills derived defaults. Every error names the
// offending key as it is spelled in the configuration file.
func (c *Config) Validate() error {
	if c.Cluster.Enabled() {
		if c.Cluster.S3Endpoint == "" || c.Cluster.S3Bucket == "" {
			return errors.New("cluster: s3_endpoint and s3_bucket must be set with etcd (-s3-endpoint, -s3-bucket)")
		}
	} else if c.Root == "" {
		return errors.New("root: must be set")
	}
	if c.Listen == "" {
		return errors.New("listen: must be set")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port: %w", c.Listen, err)
	}
	if c.Metrics != "" {
		if _, _, err := net.SplitHostPort(c.Metrics); err != nil {
			return fmt.Errorf("metrics: %q is not host:port: %w", c.Metrics, err)
		}
		if _, port, _ := net.SplitHostPort(c.Metrics); port != "0" && (c.Metrics == c.Listen || c.Metrics == c.TLS.RedirectHTTP) {
			return fmt.Errorf("metrics: %s is the WebDAV address; the metrics need a listener of their own", c.Metrics)
		}
	}
	if err := c.validateStore(); err != nil {
		return err
	}
	if c.Prefix != "" {
		if _, err := canonical(c.Prefix); err != nil {
			return fmt.Errorf("prefix: %q is not a clean absolute URL path", c.Prefix)
		}
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("log_format: %q is neither \"text\" nor \"json\"", c.LogFormat)
	}
	switch c.AccessLogFormat {
	case "", "combined":
	default:
		return fmt.Errorf("access_log_format: %q: want \"combined\" or nothing (a line of the log)", c.AccessLogFormat)
	}
	switch c.HTTP1 {
	case "", HTTP1Davd, HTTP1NetHTTP:
	default:
		return fmt.Errorf("http1: %q is neither %q nor %q", c.HTTP1, HTTP1Davd, HTTP1NetHTTP)
	}
	if err := c.validateTransport(); err != nil {
		return err
	}
	if _, _, err := c.principals(); err != nil {
		return err
	}
	if c.NextcloudLayout && !c.AuthEnabled() {
		return errors.New("nextcloud_layout: the layout names users (/remote.php/dav/files/USER/); add [[users]] or an htpasswd file")
	}
	if !c.AuthEnabled() && !c.InsecureOpen && !isLoopback(c.Listen) {
		return fmt.Errorf("listen: %s is not a loopback address and no users are configured, so anyone "+
			"who can reach it could read and write everything; add [[users]] or an htpasswd file, "+
			"or set insecure_open = true (-insecure-open) if that is really what you want", c.Listen)
	}
	return nil
}

func (c *Config) validateLimits() error {
	l := c.Limits
	for _, f := range []struct {
		key string
		v   int64
	}{
		{"limits.max_put_bytes", l.MaxPutBytes},
		{"quota_bytes", c.QuotaBytes},
		{"limits.max_xml_bytes", l.MaxXMLBytes},
		{"limits.max_xml_depth", int64(l.MaxXMLDepth)},
		{"limits.max_uri_len", int64(l.MaxURILen)},
		{"limits.max_propfind_entries", int64(l.MaxPropfindEntries)},
		{"limits.max_lock_timeout", int64(l.MaxTimeout)},
		{"limits.max_locks", int64(l.MaxLocks)},
		{"limits.max_locks_per_user", int64(l.MaxPerPrincipal)},
		{"timeouts.idle", int64(c.Timeouts.Idle)},
		{"timeouts.transfer", int64(c.Timeouts.Transfer)},
		{"timeouts.shutdown", int64(c.Timeouts.Shutdown)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%s: must not be negative", f.key)
		}
	}
	if c.Timeouts.ReadHeader <= 0 {
		return errors.New("timeouts.read_header: must be positive (it is the slowloris defence)")
	}
	if l.MaxURILen > davpath.MaxLen {
		return fmt.Errorf("limits.max_uri_len: at most %d", davpath.MaxLen)
	}
	if l.MaxLocks > 0 && l.MaxPerPrincipal > l.MaxLocks {
		return errors.New("limits.max_locks_per_user: larger than limits.max_locks")
	}
	return nil
}

func (c *Config) validateTransport() error {
	t := c.TLS
	if (t.Cert == "") != (t.Key == "") {
		return errors.New("tls: cert and key must be set together")
	}
	if t.RedirectHTTP != "" {
		if t.Cert == "" {
			return errors.New("tls.redirect_http: needs tls.cert and tls.key")
		}
		if _, _, err := net.SplitHostPort(t.RedirectHTTP); err != nil {
			return fmt.Errorf("tls.redirect_http: %q is not host:port", t.RedirectHTTP)
		}
	}
	for i, s := range c.Proxy.Trusted {
		if _, err := parsePrefix(s); err != nil {
			return fmt.Errorf("proxy.trusted[%d]: %q is neither an IP address nor a CIDR prefix", i, s)
		}
	}
	if err := c.CORS.validate(); err != nil {
		return err
	}
	for i, h := range c.Proxy.PublicHosts {
		if h == "" || strings.ContainsAny(h, "/ \t@") {
			return fmt.Errorf("proxy.public_hosts[%d]: %q is not host[:port]", i, h)
		}
	}
	return nil
}

// principal is the resolved access of one principal.
type principal struct {
	scope davpath.Path
	rules access.UserRules
	quota int64 // bytes the scope may hold (0: no quota of the user's own)
}

// principals resolves users and the anonymous section into scopes and rules, and the user
// table for authentication (nil when authentication is off).
func (c *Config) principals() (map[string]principal, *auth.Users, error) {
	if !c.AuthEnabled() {
		return nil, nil, nil
	}
	users := auth.NewUsers()
	if c.Htpasswd != "" {
		if err := users.LoadHtpasswd(c.Htpasswd); err != nil {
			return nil, nil, fmt.Errorf("htpasswd: %w", err)
		}
	}
	out := map[string]principal{}
	for _, name := range users.Names() { // so far, the htpasswd file's users
		out[name] = principal{scope: davpath.Root, rules: access.UserRules{Default: access.PermWrite}}
	}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		if u.Name != "" {
			key = fmt.Sprintf("users[%d] (%s)", i, u.Name)
		}
		if !auth.ValidName(u.Name) {
			return nil, nil, fmt.Errorf("%s.name: must be a non-empty name without ':' or '\\'", key)
		}
		if slices.IndexFunc(c.Users[:i], func(v User) bool { return v.Name == u.Name }) >= 0 {
			return nil, nil, fmt.Errorf("%s.name: user %q defined twice", key, u.Name)
		}
		switch {
		case u.Password != "":
			if users.Has(u.Name) {
				return nil, nil, fmt.Errorf("%s.password: user %q also has a password in the htpasswd file", key, u.Name)
			}
			if err := users.Add(u.Name, u.Password); err != nil {
				return nil, nil, fmt.Errorf("%s.password: %w", key, err)
			}
		case !users.Has(u.Name):
			return nil, nil, fmt.Errorf("%s.password: must be set (a bcrypt hash from `davd hash-password`) unless the htpasswd file has the user", key)
		}
		p, err := resolveAccess(key, u.Access, access.PermWrite)
		if err != nil {
			return nil, nil, err
		}
		if u.QuotaBytes < 0 {
			return nil, nil, fmt.Errorf("%s.quota_bytes: must not be negative", key)
		}
		p.quota = u.QuotaBytes
		out[u.Name] = p
	}
	if c.Anonymous != nil {
		p, err := resolveAccess("anonymous", *c.Anonymous, access.PermRead)
		if err != nil {
			return nil, nil, err
		}
		out[""] = p
	}
	if err := users.Seal(); err != nil {
		return nil, nil, err
	}
	return out, users, nil
}

func resolveAccess(key string, a Access, def access.Perm) (principal, error) {
	p := principal{scope: davpath.Root, rules: access.UserRules{Default: def}}
	if a.Scope != "" {
		s, err := canonical(a.Scope)
		if err != nil {
			return p, fmt.Errorf("%s.scope: %q is not a clean absolute path such as \"/alice\"", key, a.Scope)
		}
		p.scope = s
	}
	if a.Permissions != "" {
		perm, err := access.ParsePerm(a.Permissions)
		if err != nil {
			return p, fmt.Errorf("%s.permissions: %q: want read-write, read-only or none", key, a.Permissions)
		}
		p.rules.Default = perm
	}
	for j, r := range a.Rules {
		rk := fmt.Sprintf("%s.rules[%d]", key, j)
		rp, err := canonical(r.Path)
		if err != nil {
			return p, fmt.Errorf("%s.path: %q is not a clean absolute path such as \"/pub\"", rk, r.Path)
		}
		perm, err := access.ParsePerm(r.Permissions)
		if err != nil {
			return p, fmt.Errorf("%s.permissions: %q: want read-write, read-only or none", rk, r.Permissions)
		}
		if slices.ContainsFunc(p.rules.Rules, func(x access.Rule) bool { return x.Prefix == rp }) {
			return p, fmt.Errorf("%s.path: a second rule for %s", rk, rp)
		}
		p.rules.Rules = append(p.rules.Rules, access.Rule{Prefix: rp, Perm: perm})
	}
	return p, nil
}

// canonical parses a configured path ("/alice", "/dav") and insists it is written canonically,
// so what the operator reads in the file is exactly what is enforced.
func canonical(s string) (davpath.Path, error) {
	if !strings.HasPrefix(s, "/") {
		return "", errors.New("not absolute")
	}
	p, err := davpath.Parse(davpath.Path(s).Escape("", false), "")
	if err != nil {
		return "", err
	}
	if string(p) != strings.TrimRight(s, "/") && !(p.IsRoot() && s == "/") {
		return "", errors.New("not canonical")
	}
	return p, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// isLoopback reports whether every address the listen host stands for is a loopback address.
// An empty host (":8080") means every interface.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().IsLoopback()
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Unmap().IsLoopback() {
			return false
		}
	}
	return true
}

// validateStore checks the local root and state directories (not used in cluster mode).
func (c *Config) validateStore() error {
	if c.Cluster.Enabled() {
		return nil
	}
	if c.State == "" {
		s, err := DefaultStateDir(c.Root)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		c.State = s
	}
	absRoot, err := filepath.Abs(c.Root)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	absState, err := filepath.Abs(c.State)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if rel, err := filepath.Rel(absRoot, absState); err == nil && filepath.IsLocal(rel) || absRoot == absState {
		return fmt.Errorf("state: %s lies inside the served root %s; it must be outside", c.State, c.Root)
	}
	return nil
}
