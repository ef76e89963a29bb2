// Package cluster is what davd's cluster backends share: one connection to etcd (metadata,
// dead properties, locks) and one to an S3 bucket (contents), opened and checked at start-up.
//
// A davd node in cluster mode keeps no state of its own: every node answers every request
// from etcd and S3, so nodes can be added, removed or restarted behind a load balancer. etcd
// gives the linearizable reads and compare-and-swap transactions that the storage, the lock
// manager and the property store build their atomic operations on; S3 holds each content as
// an immutable object named by a random id, never overwritten, so a reader keeps the version
// it opened while a writer replaces the resource.
//
// This package knows no HTTP (internal/archtest): the status codes of its failures are the
// engine's business (storage.ErrUnavailable answers 503 with Retry-After).
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Config says where the cluster's services are.
type Config struct {
	// Endpoints are the etcd client URLs (http://host:2379 or https://...).
	Endpoints []string
	// Prefix is put before every etcd key davd writes: several davd clusters can share one
	// etcd. Default "/davd/".
	Prefix string
	// Username and Password authenticate to etcd when set.
	Username, Password string
	// EtcdTLS, when set, is used for https endpoints (client certificates, private CAs).
	EtcdTLS *tls.Config

	// S3Endpoint is the S3 service URL (http://host:port or https://host).
	S3Endpoint string
	// Bucket holds the contents.
	Bucket string
	// Region of the bucket; default "us-east-1".
	Region string
	// AccessKey and SecretKey sign the S3 requests. When both are empty, the shared
	// credentials file is read (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile
	// AWS_PROFILE or "default").
	AccessKey, SecretKey string
	// CreateBucket makes the bucket when it does not exist.
	CreateBucket bool

	// DialTimeout bounds each attempt to reach a service at start-up and each call later.
	// Default 5 s.
	DialTimeout time.Duration
}

// Conn is an open connection to the cluster's etcd and S3.
type Conn struct {
	Etcd   *clientv3.Client
	S3     *minio.Client
	Bucket string
	// Prefix is Config.Prefix, ending in "/".
	Prefix string
	// Timeout bounds one call to etcd or S3.
	Timeout time.Duration
}

// Open connects to etcd and S3 and checks that both answer; it refuses to start, with a
// message naming the service, when one does not.
func Open(ctx context.Context, c Config) (*Conn, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("cluster: no etcd endpoints")
	}
	if c.S3Endpoint == "" || c.Bucket == "" {
		return nil, errors.New("cluster: an S3 endpoint and a bucket are required")
	}
	if c.Prefix == "" {
		c.Prefix = "/davd/"
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: c.DialTimeout,
		Username:    c.Username,
		Password:    c.Password,
		TLS:         c.EtcdTLS,
		Logger:      quietZap(),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	cctx, cancel := context.WithTimeout(ctx, c.DialTimeout)
	_, err = cli.Get(cctx, c.Prefix+"rev")
	cancel()
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("cluster: etcd %s is not reachable: %w", strings.Join(c.Endpoints, ","), err)
	}
	u, err := url.Parse(c.S3Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		cli.Close()
		return nil, fmt.Errorf("cluster: S3 endpoint %q: want http://host:port or https://host", c.S3Endpoint)
	}
	creds := credentials.NewStaticV4(c.AccessKey, c.SecretKey, "")
	if c.AccessKey == "" && c.SecretKey == "" {
		creds = credentials.NewFileAWSCredentials("", "")
		if _, err := creds.GetWithContext(nil); err != nil {
			cli.Close()
			return nil, fmt.Errorf("cluster: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a shared credentials file (%v)", err)
		}
	}
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       c.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   2,
	})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("cluster: S3 %s: %w", c.S3Endpoint, err)
	}
	cctx, cancel = context.WithTimeout(ctx, c.DialTimeout)
	defer cancel()
	ok, err := mc.BucketExists(cctx, c.Bucket)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("cluster: S3 %s is not reachable (bucket %s): %w", c.S3Endpoint, c.Bucket, err)
	}
	if !ok {
		if !c.CreateBucket {
			cli.Close()
			return nil, fmt.Errorf("cluster: S3 %s has no bucket %s (create it, or allow davd to)", c.S3Endpoint, c.Bucket)
		}
		if err := mc.MakeBucket(cctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region}); err != nil {
			cli.Close()
			return nil, fmt.Errorf("cluster: S3 %s: creating bucket %s: %w", c.S3Endpoint, c.Bucket, err)
		}
	}
	return &Conn{Etcd: cli, S3: mc, Bucket: c.Bucket, Prefix: c.Prefix, Timeout: c.DialTimeout}, nil
}

// Close closes the etcd connection.
func (c *Conn) Close() error { return c.Etcd.Close() }

// quietZap is the etcd client's logger: its retries and reconnections are expected in a
// cluster and are reported to the operator through davd's own errors, not as zap lines.
func quietZap() *zap.Logger { return zap.NewNop() }
