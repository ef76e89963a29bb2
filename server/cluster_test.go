package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/cluster"
	"github.com/davd/davd/internal/clustertest"
)

// openCluster opens the cluster that cc names the way the wiring does (TLS and password from
// [cluster]'s files), against the S3 server s3.
func openCluster(t *testing.T, cc Cluster, s3 *clustertest.S3) (*cluster.Conn, error) {
	t.Helper()
	tc, err := etcdTLS(cc)
	if err != nil {
		return nil, err
	}
	pw, err := etcdPassword(cc)
	if err != nil {
		return nil, err
	}
	c, err := cluster.Open(context.Background(), cluster.Config{
		Endpoints: cc.Etcd, EtcdTLS: tc, Username: cc.EtcdUser, Password: pw,
		S3Endpoint: s3.Endpoint, Bucket: "wiring", Region: s3.Region, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey,
		CreateBucket: true, DialTimeout: 3 * time.Second,
	})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// [cluster]'s etcd_ca, etcd_cert and etcd_key reach an etcd that serves TLS only and asks for
// a client certificate; without the certificate the node refuses to start.
func TestClusterEtcdTLS(t *testing.T) {
	e, s3 := clustertest.StartEtcdTLS(t), clustertest.StartS3(t)
	cc := Cluster{Etcd: []string{e.Endpoint}, EtcdCA: e.CA, EtcdCert: e.Cert, EtcdKey: e.Key}
	if _, err := openCluster(t, cc, s3); err != nil {
		t.Fatalf("with the CA and the client certificate: %v", err)
	}
	if _, err := openCluster(t, Cluster{Etcd: cc.Etcd, EtcdCA: e.CA}, s3); err == nil {
		t.Fatal("without a client certificate: connected to an etcd that requires one")
	}
	if _, err := openCluster(t, Cluster{Etcd: cc.Etcd, EtcdCert: e.Cert}, s3); err == nil || !strings.Contains(err.Error(), "etcd_key") {
		t.Fatalf("etcd_cert without etcd_key: %v", err)
	}
}

// etcd_user with etcd_password_file (or DAVD_ETCD_PASSWORD) authenticates to an etcd with
// authentication enabled; a wrong or missing password is refused at start-up.
func TestClusterEtcdAuth(t *testing.T) {
	e, s3 := clustertest.StartEtcd(t, 1), clustertest.StartS3(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cli.UserAdd(ctx, "root", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openCluster(t, Cluster{Etcd: e.Endpoints(), EtcdUser: "root", EtcdPasswordFile: pwFile}, s3); err != nil {
		t.Fatalf("with the password file: %v", err)
	}
	t.Setenv("DAVD_ETCD_PASSWORD", "s3cret")
	if _, err := openCluster(t, Cluster{Etcd: e.Endpoints(), EtcdUser: "root"}, s3); err != nil {
		t.Fatalf("with DAVD_ETCD_PASSWORD: %v", err)
	}
	t.Setenv("DAVD_ETCD_PASSWORD", "wrong")
	if _, err := openCluster(t, Cluster{Etcd: e.Endpoints(), EtcdUser: "root"}, s3); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	t.Setenv("DAVD_ETCD_PASSWORD", "")
	if _, err := openCluster(t, Cluster{Etcd: e.Endpoints(), EtcdUser: "root"}, s3); err == nil || !strings.Contains(err.Error(), "DAVD_ETCD_PASSWORD") {
		t.Fatalf("etcd_user without a password: %v", err)
	}
	if _, err := openCluster(t, Cluster{Etcd: e.Endpoints()}, s3); err == nil {
		t.Fatal("no credentials: connected to an etcd with authentication on")
	}
}

// Without AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY the S3 credentials come from the shared
// credentials file; with neither, the node refuses to start and says what to set.
func TestClusterS3CredentialsFile(t *testing.T) {
	e, s3 := clustertest.StartEtcd(t, 1), clustertest.StartS3(t)
	open := func() error {
		c, err := cluster.Open(context.Background(), cluster.Config{
			Endpoints: e.Endpoints(), S3Endpoint: s3.Endpoint, Bucket: "creds", Region: s3.Region, CreateBucket: true,
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	if err := open(); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("no credentials anywhere: %v", err)
	}
	f := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(f, []byte("[default]\naws_access_key_id = "+s3.AccessKey+"\naws_secret_access_key = "+s3.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", f)
	if err := open(); err != nil {
		t.Fatalf("with the shared credentials file: %v", err)
	}
}
