package clustertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// EtcdTLS is a one-member etcd that serves clients over TLS only and requires a client
// certificate signed by its CA.
type EtcdTLS struct {
	Endpoint string // https://127.0.0.1:port
	// CA, Cert and Key are PEM files: the CA of the member's certificate, and a client
	// certificate and key it accepts.
	CA, Cert, Key string
}

// StartEtcdTLS starts an EtcdTLS and waits until it is healthy.
func StartEtcdTLS(t testing.TB) *EtcdTLS {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd not found (Debian package etcd-server): %v", err)
	}
	dir := t.TempDir()
	caKey, caCert := newCA(t)
	write := func(name string, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e := &EtcdTLS{CA: write("ca.pem", "CERTIFICATE", caCert.Raw)}
	leaf := func(name string, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	serverCert, serverKey := leaf("server", x509.ExtKeyUsageServerAuth)
	e.Cert, e.Key = leaf("client", x509.ExtKeyUsageClientAuth)
	e.Endpoint = fmt.Sprintf("https://127.0.0.1:%d", FreePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	p := &proc{
		name: "etcd (TLS)",
		bin:  bin,
		args: []string{
			"--name", "tls", "--data-dir", filepath.Join(dir, "data"),
			"--listen-client-urls", e.Endpoint, "--advertise-client-urls", e.Endpoint,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "tls=" + peer,
			"--cert-file", serverCert, "--key-file", serverKey,
			"--trusted-ca-file", e.CA, "--client-cert-auth",
			"--log-level", "warn",
		},
		env: []string{"ETCD_UNSUPPORTED_ARCH=" + os.Getenv("ETCD_UNSUPPORTED_ARCH")},
		log: filepath.Join(dir, "etcd.log"),
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(syscall.SIGKILL) })
	cert, err := tls.LoadX509KeyPair(e.Cert, e.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := c.Get(e.Endpoint + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return e
			}
		}
		if !p.running() || time.Now().After(deadline) {
			t.Fatalf("etcd with TLS not healthy:\n%s", p.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newCA(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "davd test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}
