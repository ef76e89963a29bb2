package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/auth"
	"github.com/davd/davd/internal/testcert"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given serial number.
func writeCert(t *testing.T, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, err := testcert.Write(dir, serial)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestReload (issue 17 item 4) rotates the certificate, changes a password and adds a user while
// a 32 MiB download is under way on a kept-alive TLS connection: the download finishes intact on
// its old connection, new handshakes get the new certificate, the old password is refused and
// the new one and the new user are let in. A file that does not load is refused with the key at
// fault and changes nothing; a change to a key that needs a restart is reported, not applied.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	hash := func(pw string) string {
		h, err := auth.HashPassword([]byte(pw), auth.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	certA, keyA := writeCert(t, filepath.Join(dir), 1)
	if err := os.MkdirAll(filepath.Join(dir, "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	certB, keyB := writeCert(t, filepath.Join(dir, "b"), 2)

	c := Defaults()
	c.Root, c.State, c.Listen = filepath.Join(dir, "data"), filepath.Join(dir, "state"), "127.0.0.1:0"
	c.TLS = TLS{Cert: certA, Key: keyA}
	c.Users = []User{{Name: "alice", Password: hash("one")}}
	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	if err := os.WriteFile(filepath.Join(c.Root, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}

	next := make(chan Config, 1)
	reloadc := make(chan struct{})
	logBuf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logBuf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- Run(ctx, c, log, RunOptions{
			Ready:       func(a net.Addr) { addrc <- a.String() },
			Reload:      reloadc,
			Reconfigure: func() (Config, error) { return <-next, nil },
		})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Run: %v\n%s", err, logBuf)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// reload hands cfg to Run and waits for its log line (want) to appear.
	reload := func(cfg Config, want string) {
		t.Helper()
		n := strings.Count(logBuf.String(), want)
		next <- cfg
		reloadc <- struct{}{}
		for deadline := time.Now().Add(10 * time.Second); strings.Count(logBuf.String(), want) == n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after the reload:\n%s", want, logBuf)
			}
		}
	}
	base := "https://" + addr + "/"
	client := func() *http.Client { // a new connection each time
		return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	serial := func(cl *http.Client, user, pw string) (int, int64) {
		t.Helper()
		req, _ := http.NewRequest("PROPFIND", base, nil)
		req.Header.Set("Depth", "0")
		req.SetBasicAuth(user, pw)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}

	// A download on its own connection, paused after its first MiB.
	dl := client()
	req, _ := http.NewRequest("GET", base+"big.bin", nil)
	req.SetBasicAuth("alice", "one")
	resp, err := dl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
		t.Fatalf("download: %d from certificate %d", resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber)
	}
	got := sha256.New()
	if _, err := io.CopyN(got, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}

	c2 := c
	c2.TLS = TLS{Cert: certB, Key: keyB}
	c2.Users = []User{{Name: "alice", Password: hash("two")}, {Name: "bob", Password: hash("bob")}}
	reload(c2, "configuration reloaded")

	if _, err := io.Copy(got, resp.Body); err != nil {
		t.Fatalf("the download across the reload: %v", err)
	}
	resp.Body.Close()
	if want := sha256.Sum256(big); !bytes.Equal(got.Sum(nil), want[:]) {
		t.Fatal("the download across the reload is not the file")
	}
	// The download's connection is still open and still serves the old certificate's session.
	if st, sn := serial(dl, "alice", "two"); st != 207 || sn != 1 {
		t.Fatalf("kept-alive connection after the reload: %d, certificate %d; want 207 on certificate 1", st, sn)
	}
	for _, tc := range []struct {
		user, pw string
		want     int
	}{{"alice", "one", 401}, {"alice", "two", 207}, {"bob", "bob", 207}} {
		if st, sn := serial(client(), tc.user, tc.pw); st != tc.want || sn != 2 {
			t.Fatalf("%s:%s after the reload: %d on certificate %d, want %d on certificate 2", tc.user, tc.pw, st, sn, tc.want)
		}
	}

	// A certificate that does not load: refused, nothing changes (bob stays).
	bad := c2
	bad.TLS.Cert = filepath.Join(dir, "missing.pem")
	bad.Users = c2.Users[:1]
	reload(bad, "configuration reload refused")
	if !strings.Contains(logBuf.String(), "tls: cert/key") {
		t.Fatalf("the refusal does not name the key:\n%s", logBuf)
	}
	if st, sn := serial(client(), "bob", "bob"); st != 207 || sn != 2 {
		t.Fatalf("after a refused reload: %d on certificate %d", st, sn)
	}

	// A key that needs a restart is reported and left alone; the rest applies.
	moved := c2
	moved.Listen = "127.0.0.1:1"
	moved.Limits.MaxLocks = c.Limits.MaxLocks + c.Limits.MaxPerPrincipal + 1
	moved.Users = c2.Users[:1]
	reload(moved, "need a restart")
	if !strings.Contains(logBuf.String(), "keys=listen,limits.max_locks") {
		t.Fatalf("restart-needed keys not named:\n%s", logBuf)
	}
	if st, _ := serial(client(), "bob", "bob"); st != 401 {
		t.Fatalf("bob after his removal: %d, want 401", st)
	}
}

// The keys configDiff names are the file's own.
func TestConfigDiff(t *testing.T) {
	a := Defaults()
	b := a
	b.Limits.MaxPutBytes = 1
	b.Timeouts.Idle = time.Second
	b.Cluster.Etcd = []string{"http://127.0.0.1:2379"}
	b.AccessLogOut = io.Discard // not a key
	got := configDiff(a, b)
	want := []string{"timeouts.idle", "limits.max_put_bytes", "cluster.etcd"}
	if !slices.Equal(got, want) {
		t.Fatalf("configDiff: %v, want %v", got, want)
	}
	if d := configDiff(a, a); len(d) != 0 {
		t.Fatalf("configDiff of equal configurations: %v", d)
	}
}
