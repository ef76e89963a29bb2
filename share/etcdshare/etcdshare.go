// Package etcdshare keeps share links in etcd, for cluster mode: every node sees a link, and its
// revocation, at once. Each link is one key, <prefix>s/<token>, whose value is share.Encode.
package etcdshare

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/davd/davd/share"
)

// Store is a share.Store in etcd.
type Store struct {
	cli     *clientv3.Client
	pre     string
	timeout time.Duration
}

var _ share.Store = (*Store)(nil)

// New returns the store under prefix (which ends in "/").
func New(cli *clientv3.Client, prefix string) *Store {
	return &Store{cli: cli, pre: prefix + "s/", timeout: 5 * time.Second}
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Create implements share.Store: one transaction that fails if the token is taken.
func (s *Store) Create(ctx context.Context, l share.Link) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	k := s.pre + l.Token
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(share.Encode(l)))).
		Commit()
	if err != nil {
		return fmt.Errorf("etcdshare: create: %w", err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcdshare: create: token in use")
	}
	return nil
}

// Get implements share.Store. It reads from the quorum, so a link revoked on another node is
// gone here too.
func (s *Store) Get(ctx context.Context, token string) (share.Link, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.pre+token)
	if err != nil {
		return share.Link{}, fmt.Errorf("etcdshare: get: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return share.Link{}, share.ErrNotFound
	}
	return share.Decode(token, resp.Kvs[0].Value)
}

// Delete implements share.Store.
func (s *Store) Delete(ctx context.Context, token string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Delete(ctx, s.pre+token)
	if err != nil {
		return fmt.Errorf("etcdshare: delete: %w", err)
	}
	if resp.Deleted == 0 {
		return share.ErrNotFound
	}
	return nil
}

// List implements share.Store. Links are few (a bound per user), so it reads them all.
func (s *Store) List(ctx context.Context, owner string) ([]share.Link, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.pre, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("etcdshare: list: %w", err)
	}
	var ls []share.Link
	for _, kv := range resp.Kvs {
		l, err := share.Decode(string(kv.Key[len(s.pre):]), kv.Value)
		if err != nil {
			return nil, err
		}
		if l.Owner == owner {
			ls = append(ls, l)
		}
	}
	return ls, nil
}
