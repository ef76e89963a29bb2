//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cadaver drives one interactive cadaver session. cadaver exits 0 even when a command fails, so
// every command's own output is returned and checked. After each command an `echo` of a unique
// marker is sent; the command's output is everything printed before the marker comes back.
type cadaver struct {
	t     *testing.T
	name  string
	Dir   string // local working directory (put/get paths are relative to it)
	stdin io.WriteCloser
	lines chan string
	cmd   *exec.Cmd
	done  chan struct{}
	n     int
}

func startCadaver(t *testing.T, name, url string) *cadaver {
	t.Helper()
	bin := tool(t, "cadaver", "cadaver")
	stdbuf := tool(t, "stdbuf", "coreutils")
	c := &cadaver{t: t, name: name, Dir: t.TempDir(), lines: make(chan string, 1024), done: make(chan struct{})}
	// stdbuf: cadaver's stdout is a pipe here; without it, output would sit in stdio's buffer.
	c.cmd = exec.Command(stdbuf, "-o0", "-e0", bin, "-t", url)
	c.cmd.Dir = c.Dir
	// An empty HOME: no ~/.cadaverrc or ~/.netrc of the machine's user is read.
	c.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		pr.Close()
	}()
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		fmt.Fprintln(c.stdin, "quit")
		c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	c.run("echo ready") // the connection is set up before the first real command
	return c
}

// run sends one command and returns what cadaver printed for it (at most 60 s).
func (c *cadaver) run(command string) string {
	c.t.Helper()
	c.n++
	marker := fmt.Sprintf("ENDOFCOMMAND%d", c.n)
	if _, err := fmt.Fprintf(c.stdin, "%s\necho %s\n", command, marker); err != nil {
		c.t.Fatalf("cadaver %s: writing %q: %v", c.name, command, err)
	}
	var out []string
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("cadaver %s exited during %q; output:\n%s", c.name, command, strings.Join(out, "\n"))
			}
			if strings.TrimSpace(line) == marker {
				s := strings.Join(out, "\n")
				c.t.Logf("cadaver %s> %s\n%s", c.name, command, s)
				return s
			}
			out = append(out, line)
		case <-timeout:
			c.t.Fatalf("cadaver %s: %q did not finish within 60 s; output so far:\n%s", c.name, command, strings.Join(out, "\n"))
		}
	}
}

// ok runs a command that must succeed: cadaver reports "succeeded" and never "failed".
func (c *cadaver) ok(command string) string {
	c.t.Helper()
	out := c.run(command)
	if !strings.Contains(out, "succeeded") || strings.Contains(out, "failed") {
		c.t.Errorf("cadaver %s: %q did not succeed:\n%s", c.name, command, out)
	}
	return out
}

// fails runs a command that must fail with the given status in cadaver's report.
func (c *cadaver) fails(command, status string) string {
	c.t.Helper()
	out := c.run(command)
	if !strings.Contains(out, "failed") || !strings.Contains(out, status) {
		c.t.Errorf("cadaver %s: %q should fail with %s:\n%s", c.name, command, status, out)
	}
	return out
}

func (c *cadaver) writeLocal(name string, data []byte) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.Dir, name), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// TestCadaver drives cadaver through put, get, mkcol, copy, move, propset/propget, lock/unlock,
// ls, delete and rmcol, checking every command's report and the result over HTTP.
func TestCadaver(t *testing.T) {
	s := startServer(t, serverOpts{Flags: []string{"-no-fsync"}})
	c := startCadaver(t, "A", s.URL)

	payload := randomBytes(100<<10+7, 1)
	c.writeLocal("payload.bin", payload)
	c.ok("put payload.bin")
	if got := mustStatus(t, 200, "GET", s.url("payload.bin"), nil, nil); !bytes.Equal(got, payload) {
		t.Errorf("GET after cadaver put: %d bytes differ from the %d put", len(got), len(payload))
	}

	c.ok("get payload.bin back.bin")
	if got, err := os.ReadFile(filepath.Join(c.Dir, "back.bin")); err != nil || !bytes.Equal(got, payload) {
		t.Errorf("cadaver get: %d bytes (err %v) differ from the %d put", len(got), err, len(payload))
	}

	c.ok("mkcol coll")
	if fi, err := os.Stat(filepath.Join(s.Root, "coll")); err != nil || !fi.IsDir() {
		t.Errorf("mkcol coll: no directory on disk (%v)", err)
	}

	c.ok("copy payload.bin coll/copy.bin")
	if got := mustStatus(t, 200, "GET", s.url("coll/copy.bin"), nil, nil); !bytes.Equal(got, payload) {
		t.Errorf("copy: coll/copy.bin differs from payload.bin")
	}

	c.ok("move coll/copy.bin coll/moved.bin")
	mustStatus(t, 404, "GET", s.url("coll/copy.bin"), nil, nil)
	if got := mustStatus(t, 200, "GET", s.url("coll/moved.bin"), nil, nil); !bytes.Equal(got, payload) {
		t.Errorf("move: coll/moved.bin differs from payload.bin")
	}

	c.ok("propset payload.bin color blue")
	if out := c.run("propget payload.bin color"); !strings.Contains(out, "Value of color is: blue") {
		t.Errorf("propget after propset: %q", out)
	}
	// cadaver keeps its properties in its own namespace; check them over HTTP too.
	body := mustStatus(t, 207, "PROPFIND", s.url("payload.bin"), map[string]string{"Depth": "0"},
		[]byte(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><C:color xmlns:C="http://webdav.org/cadaver/custom-properties/"/></D:prop></D:propfind>`))
	if !strings.Contains(string(body), ">blue<") {
		t.Errorf("PROPFIND color after cadaver propset:\n%s", body)
	}

	c.ok("lock payload.bin")
	mustStatus(t, 423, "PUT", s.url("payload.bin"), nil, []byte("not the lock owner"))
	c.ok("unlock payload.bin")
	mustStatus(t, 204, "PUT", s.url("payload.bin"), nil, payload)

	ls := c.ok("ls")
	for _, want := range []string{"payload.bin", "coll"} {
		if !strings.Contains(ls, want) {
			t.Errorf("ls does not list %s:\n%s", want, ls)
		}
	}
	ls = c.ok("ls coll")
	if !strings.Contains(ls, "moved.bin") || strings.Contains(ls, "copy.bin") {
		t.Errorf("ls coll: want moved.bin and no copy.bin:\n%s", ls)
	}

	c.fails("get nonexistent.txt nothing.txt", "404")
	c.ok("delete coll/moved.bin")
	mustStatus(t, 404, "GET", s.url("coll/moved.bin"), nil, nil)
	c.ok("rmcol coll")
	if _, err := os.Stat(filepath.Join(s.Root, "coll")); !os.IsNotExist(err) {
		t.Errorf("rmcol coll: directory still on disk (%v)", err)
	}
}

// TestCadaverTwoSessionLock: session A locks a file; B's put is refused with 423; A's put (with
// its token) succeeds; A unlocks; then B's put succeeds.
func TestCadaverTwoSessionLock(t *testing.T) {
	s := startServer(t, serverOpts{Flags: []string{"-no-fsync"}})
	a := startCadaver(t, "A", s.URL)
	b := startCadaver(t, "B", s.URL)
	get := func() string { return string(mustStatus(t, 200, "GET", s.url("shared.txt"), nil, nil)) }

	a.writeLocal("shared.txt", []byte("A version 1\n"))
	a.ok("put shared.txt")
	a.ok("lock shared.txt")

	b.writeLocal("shared.txt", []byte("B version\n"))
	b.fails("put shared.txt", "423")
	if got := get(); got != "A version 1\n" {
		t.Errorf("after B's refused put: content %q", got)
	}

	a.writeLocal("shared.txt", []byte("A version 2\n"))
	a.ok("put shared.txt")
	if got := get(); got != "A version 2\n" {
		t.Errorf("after A's put under its lock: content %q", got)
	}

	a.ok("unlock shared.txt")
	b.ok("put shared.txt")
	if got := get(); got != "B version\n" {
		t.Errorf("after B's put once unlocked: content %q", got)
	}
}
