//go:build e2e

package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// docBlock returns the fenced code block that follows the marker `<!-- checked: name -->` in a
// file of docs/: the docs' examples are tested as they are written, so a reader copies exactly
// what ran here.
func docBlock(t *testing.T, doc, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", doc))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- checked: " + regexp.QuoteMeta(name) + " -->\\s*```[a-z]*\\n(.*?)\\n\\s*```")
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("docs/%s has no block marked %q", doc, name)
	}
	// Blocks inside list items are indented; the indentation is not part of the example.
	lines := strings.Split(string(m[1]), "\n")
	indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	for i, l := range lines {
		if len(l) >= indent && strings.TrimSpace(l[:indent]) == "" {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// mustReplace replaces old in s, failing the test if the docs no longer contain it: a change to
// the example must change the test with it.
func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the documented block no longer contains %q:\n%s", old, s)
	}
	return strings.ReplaceAll(s, old, new)
}

// TestDocsNginx: docs/deployment.md's nginx and davd blocks, as written (only the port, the
// certificate and davd's address swapped), carry litmus over HTTPS (103 tests: litmus skips
// expect100 on TLS) with no failure and no warning, and COPY and MOVE whose Destination is the
// public https:// URL succeed: the X-Forwarded-Host the block sends is what davd needs to know
// its own URLs, since nginx's $host drops the port.
func TestDocsNginx(t *testing.T) {
	nginx := tool(t, "nginx", "nginx-light")
	testDocsProxy(t, func(t *testing.T, dir string, port int, cert, key, upstream string) *exec.Cmd {
		server := docBlock(t, "deployment.md", "nginx")
		server = mustReplace(t, server, "listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", port))
		server = mustReplace(t, server, "/etc/letsencrypt/live/dav.example.org/fullchain.pem", cert)
		server = mustReplace(t, server, "/etc/letsencrypt/live/dav.example.org/privkey.pem", key)
		server = mustReplace(t, server, "http://127.0.0.1:8080;", "http://"+upstream+";")
		conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
%[2]s}
`, dir, server)
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return exec.Command(nginx, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	})
}

// TestDocsApache: the Apache httpd block of docs/deployment.md, as written inside a minimal
// server configuration (the modules it names, a pid file, the port and certificate swapped).
func TestDocsApache(t *testing.T) {
	apache := tool(t, "apache2", "apache2")
	testDocsProxy(t, func(t *testing.T, dir string, port int, cert, key, upstream string) *exec.Cmd {
		vhost := docBlock(t, "deployment.md", "apache")
		vhost = mustReplace(t, vhost, "<VirtualHost *:443>", fmt.Sprintf("<VirtualHost 127.0.0.1:%d>", port))
		vhost = mustReplace(t, vhost, "/etc/letsencrypt/live/dav.example.org/fullchain.pem", cert)
		vhost = mustReplace(t, vhost, "/etc/letsencrypt/live/dav.example.org/privkey.pem", key)
		vhost = mustReplace(t, vhost, "http://127.0.0.1:8080/dav", "http://"+upstream+"/dav")
		mods := "/usr/lib/apache2/modules/"
		var load strings.Builder
		for _, m := range []string{"mpm_event", "authz_core", "proxy", "proxy_http", "headers", "ssl", "socache_shmcb"} {
			fmt.Fprintf(&load, "LoadModule %s_module %smod_%s.so\n", m, mods, m)
		}
		conf := fmt.Sprintf(`ServerRoot %[1]s
ServerName 127.0.0.1
Listen 127.0.0.1:%[2]d
PidFile %[1]s/httpd.pid
ErrorLog %[1]s/error.log
LogLevel warn
DefaultRuntimeDir %[1]s
Mutex file:%[1]s default
User www-data
Group www-data
%[3]s
SSLSessionCache shmcb:%[1]s/ssl_cache(512000)
%[4]s
`, dir, port, load.String(), vhost)
		confPath := filepath.Join(dir, "httpd.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return exec.Command(apache, "-f", confPath, "-DFOREGROUND")
	})
}

// TestDocsCaddy: the Caddy block of docs/deployment.md, with the site address swapped for the
// test's port and certificate (automatic HTTPS needs a public name) and Caddy's admin API off.
func TestDocsCaddy(t *testing.T) {
	caddy := tool(t, "caddy", "caddy")
	testDocsProxy(t, func(t *testing.T, dir string, port int, cert, key, upstream string) *exec.Cmd {
		site := docBlock(t, "deployment.md", "caddy")
		site = mustReplace(t, site, "dav.example.org {", fmt.Sprintf("https://127.0.0.1:%d {\n    tls %s %s", port, cert, key))
		site = mustReplace(t, site, "127.0.0.1:8080", upstream)
		conf := fmt.Sprintf("{\n  admin off\n  storage file_system %s\n  auto_https disable_redirects\n}\n%s", filepath.Join(dir, "storage"), site)
		confPath := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(caddy, "run", "--adapter", "caddyfile", "--config", confPath)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
		return cmd
	})
}

// testDocsProxy starts davd from the documented davd-behind-proxy block and the proxy that
// start returns (configured for port, the certificate pair and davd's address), then checks
// through the proxy over HTTPS: COPY and MOVE with the public URL as Destination, the
// listing's hrefs under the prefix, and litmus.
func testDocsProxy(t *testing.T, start func(t *testing.T, dir string, port int, cert, key, upstream string) *exec.Cmd) {
	litmus := tool(t, "litmus", "litmus")
	d := startDavd(t, davdOpts{Config: docBlock(t, "deployment.md", "davd-behind-proxy"), Prefix: "/dav"})
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := start(t, dir, port, cert, key, d.Addr)
	logPath := filepath.Join(dir, "proxy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			for _, f := range []string{"proxy.log", "error.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("--- %s ---\n%s", f, b)
			}
		}
	})
	pub := fmt.Sprintf("https://127.0.0.1:%d/dav/", port)
	// d's requests now go through the proxy, to a certificate made for the test.
	d.URL = pub
	d.Client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	deadline := time.Now().Add(15 * time.Second)
	for {
		probe, _ := http.NewRequest("OPTIONS", pub, nil)
		if resp, err := d.Client.Do(probe); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-exited:
			t.Fatal("the proxy exited during start-up")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the proxy did not answer within 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// COPY and MOVE with the absolute public URL as Destination, as Windows, KeePass and
	// WinSCP send it; the result is read back through the proxy.
	d.want(201, req{Method: "PUT", Path: "/a.txt", Body: []byte("through the proxy\n")})
	d.want(201, req{Method: "COPY", Path: "/a.txt", Hdr: map[string]string{"Destination": pub + "b.txt"}})
	d.want(201, req{Method: "MOVE", Path: "/b.txt", Hdr: map[string]string{"Destination": pub + "c%20d.txt"}})
	if _, b := d.want(200, req{Method: "GET", Path: "/c%20d.txt"}); string(b) != "through the proxy\n" {
		t.Fatalf("GET after MOVE: %q", b)
	}
	// A name with an encoded slash and percent sign reaches davd as sent.
	d.want(201, req{Method: "PUT", Path: "/100%25%20sure.txt", Body: []byte("x")})
	if _, err := os.Stat(filepath.Join(d.Root, "100% sure.txt")); err != nil {
		t.Errorf("the percent-encoded name did not arrive intact: %v", err)
	}
	_, b := d.want(207, req{Method: "PROPFIND", Path: "/", Hdr: map[string]string{"Depth": "1"}})
	if !strings.Contains(string(b), "<D:href>/dav/c%20d.txt</D:href>") {
		t.Fatalf("the listing's hrefs do not carry the prefix:\n%s", b)
	}

	// litmus speaks TLS through neon, which takes the test's certificate; over https it skips
	// one test of its own (expect100), so 103 of 104 run, and all must pass.
	out, err := runCmd(t, 5*time.Minute, t.TempDir(), nil, nil, litmus, "-k", pub)
	if err != nil {
		t.Fatalf("litmus %s: %v\n%s", pub, err, out)
	}
	checkLitmusTLS(t, out)
}

// TestDocsBackup: the backup block of docs/deployment.md, run by bash with davd stopped as its
// comments say, gives a copy that a davd started on it serves with the same contents and the
// same dead properties.
func TestDocsBackup(t *testing.T) {
	block := docBlock(t, "deployment.md", "backup")
	s := startServer(t, serverOpts{})
	mustStatus(t, 201, "PUT", s.url("/doc.txt"), nil, []byte("kept\n"))
	patch := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><t:tag xmlns:t="urn:test">blue</t:tag></D:prop></D:set></D:propertyupdate>`
	mustStatus(t, 207, "PROPPATCH", s.url("/doc.txt"), nil, []byte(patch))
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup")
	out, err := runCmd(t, time.Minute, t.TempDir(), []string{"ROOT=" + s.Root, "STATE=" + s.State, "BACKUP=" + backup}, nil, "bash", "-euo", "pipefail", "-c", block)
	if err != nil {
		t.Fatalf("the documented backup failed: %v\n%s", err, out)
	}
	r := startServer(t, serverOpts{Root: filepath.Join(backup, "data"), State: filepath.Join(backup, "state")})
	if b := mustStatus(t, 200, "GET", r.url("/doc.txt"), nil, nil); string(b) != "kept\n" {
		t.Fatalf("restored content %q", b)
	}
	find := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><t:tag xmlns:t="urn:test"/></D:prop></D:propfind>`
	b := mustStatus(t, 207, "PROPFIND", r.url("/doc.txt"), map[string]string{"Depth": "0"}, []byte(find))
	if !strings.Contains(string(b), "blue</") {
		t.Fatalf("the dead property did not survive the backup:\n%s", b)
	}
}

// TestDocsClients: the rclone, rclone mount and cadaver blocks of docs/clients.md, run by bash
// as written against davd with a user alice (only the URL and the password swapped, in a HOME
// of the test's own): rclone syncs a folder and `rclone check` finds no difference, the
// mount lists what was synced, and cadaver's session leaves the file, its property and no lock.
func TestDocsClients(t *testing.T) {
	tool(t, "rclone", "rclone")
	tool(t, "cadaver", "cadaver")
	tool(t, "fusermount3", "fuse3")
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{Config: usersConfig(h, "alice")})
	home := t.TempDir()
	env := []string{"HOME=" + home, "DAV_PASSWORD=pw", "RCLONE_CONFIG=" + filepath.Join(home, ".config/rclone/rclone.conf")}
	run := func(name string) string {
		t.Helper()
		block := docBlock(t, "clients.md", name)
		if name != "rclone-mount" { // the mount names the remote rclone's block configured
			block = mustReplace(t, block, "https://dav.example.org/dav/", d.URL)
		}
		out, err := runCmd(t, 2*time.Minute, home, env, nil, "bash", "-euo", "pipefail", "-c", block)
		if err != nil {
			t.Fatalf("docs/clients.md block %q failed: %v\n%s", name, err, out)
		}
		return out
	}
	docs := filepath.Join(home, "Documents")
	files := map[string]string{"a.txt": "alpha\n", "sub/b.md": "# b\n", "sub/deeper/c.bin": string(randomBytes(300_000, 3))}
	for n, c := range files {
		p := filepath.Join(docs, filepath.FromSlash(n))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	out := run("rclone")
	if !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check did not report 0 differences:\n%s", out)
	}
	for n, c := range files {
		b, err := os.ReadFile(filepath.Join(d.Root, "backup/Documents", filepath.FromSlash(n)))
		if err != nil || string(b) != c {
			t.Errorf("%s on the server: %d bytes (%v), want %d", n, len(b), err, len(c))
		}
	}

	// If the block stops half way, the mount must not outlive the test.
	t.Cleanup(func() { runCmd(t, 30*time.Second, "", nil, nil, "fusermount3", "-u", "-z", filepath.Join(home, "dav")) })
	out = run("rclone-mount")
	for _, want := range []string{"a.txt", "sub"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls of the rclone mount lacks %s:\n%s", want, out)
		}
	}

	netrc := fmt.Sprintf("machine %s login alice password pw\n", strings.Split(d.Addr, ":")[0])
	if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte(netrc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "notes.txt"), []byte("cadaver was here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = run("cadaver")
	if b, err := os.ReadFile(filepath.Join(d.Root, "notes/notes.txt")); err != nil || string(b) != "cadaver was here\n" {
		t.Errorf("notes/notes.txt on the server: %q %v\n%s", b, err, out)
	}
	if b, err := os.ReadFile(filepath.Join(home, "notes-copy.txt")); err != nil || string(b) != "cadaver was here\n" {
		t.Errorf("cadaver get: %q %v\n%s", b, err, out)
	}
	if !strings.Contains(out, "Value of reviewed is: yes") || strings.Contains(out, "failed") {
		t.Errorf("cadaver: a command failed, or propget did not print the value:\n%s", out)
	}
	_, b := d.want(207, req{Method: "PROPFIND", Path: "/notes/notes.txt", User: "alice", Pass: "pw", Hdr: map[string]string{"Depth": "0"}})
	if strings.Contains(string(b), "activelock") {
		t.Errorf("cadaver's unlock left a lock:\n%s", b)
	}
}

// TestDocsDavfs2: the davfs2 block of docs/clients.md, run by bash as root with a directory of
// the test's own in place of /etc/davfs2 and /mnt/dav: the mount writes a file that the server
// holds after the unmount.
func TestDocsDavfs2(t *testing.T) {
	tool(t, "mount.davfs", "davfs2")
	if os.Geteuid() != 0 {
		t.Fatalf("the davfs2 block needs root to mount (euid %d)", os.Geteuid())
	}
	h := hashOf(t, "pw", 4)
	d := startDavd(t, davdOpts{Config: usersConfig(h, "alice")})
	// davfs2 runs as its own user and must reach its cache: not a 0700 test temp dir.
	base, err := os.MkdirTemp("", "davd-docs-davfs2-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	etc, mnt, cache := filepath.Join(base, "etc"), filepath.Join(base, "mnt"), filepath.Join(base, "cache")
	for _, p := range []string{etc, cache} {
		if err := os.MkdirAll(p, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o777)
	}
	conf := fmt.Sprintf("buf_size 64\nuse_locks 1\ndelay_upload 0\ncache_dir %s\nsecrets %s/secrets\n", cache, etc)
	if err := os.WriteFile(filepath.Join(etc, "davfs2.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	block := docBlock(t, "clients.md", "davfs2")
	block = mustReplace(t, block, "https://dav.example.org/dav/", d.URL)
	block = mustReplace(t, block, `"her password"`, `"pw"`)
	block = mustReplace(t, block, "/etc/davfs2", etc)
	block = mustReplace(t, block, "/mnt/dav", mnt)
	t.Cleanup(func() { runCmd(t, 30*time.Second, "", nil, nil, "umount", "-l", mnt) })
	out, err := runCmd(t, 2*time.Minute, base, nil, nil, "bash", "-euo", "pipefail", "-c", block)
	if err != nil {
		t.Fatalf("docs/clients.md davfs2 block: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(d.Root, "from-davfs2.txt")); err != nil || string(b) != "written through the mount\n" {
		t.Fatalf("the file written through the mount, on the server: %q %v\n%s", b, err, out)
	}
}
