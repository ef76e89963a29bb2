package bolt

import (
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/davd/davd/share"
)

// bucketShares holds the share links: token → share.Encode. It is created by the first link, so
// a store file written before links existed opens unchanged.
var bucketShares = []byte("shares")

// Shares returns the store of share links.
func (d *DB) Shares() share.Store { return (*shares)(d) }

type shares DB

var _ share.Store = (*shares)(nil)

// Create implements share.Store.
func (s *shares) Create(_ context.Context, l share.Link) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketShares)
		if err != nil {
			return err
		}
		if b.Get([]byte(l.Token)) != nil {
			return fmt.Errorf("token in use")
		}
		return b.Put([]byte(l.Token), share.Encode(l))
	})
	if err != nil {
		return fmt.Errorf("bolt: create share: %w", err)
	}
	return nil
}

// Get implements share.Store.
func (s *shares) Get(_ context.Context, token string) (share.Link, error) {
	var l share.Link
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketShares)
		if b == nil {
			return share.ErrNotFound
		}
		v := b.Get([]byte(token))
		if v == nil {
			return share.ErrNotFound
		}
		var err error
		l, err = share.Decode(token, v)
		return err
	})
	return l, err
}

// Delete implements share.Store.
func (s *shares) Delete(_ context.Context, token string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketShares)
		if b == nil || b.Get([]byte(token)) == nil {
			return share.ErrNotFound
		}
		return b.Delete([]byte(token))
	})
}

// List implements share.Store.
func (s *shares) List(_ context.Context, owner string) ([]share.Link, error) {
	var ls []share.Link
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketShares)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			l, err := share.Decode(string(k), v)
			if err != nil {
				return err
			}
			if l.Owner == owner {
				ls = append(ls, l)
			}
			return nil
		})
	})
	return ls, err
}
