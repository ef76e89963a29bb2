// Package share is the seam of share links: a Link record (a token, its creator, a path of the
// served tree, a kind, an expiry and an optional password hash) and the Store that keeps them,
// with an embedded implementation (store/bolt), one in etcd for cluster mode (share/etcdshare)
// and one in memory. What a link lets its holder do over HTTP is server/sharelink's.
package share

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/davd/davd/davpath"
)

// Kind is what a link lets its holder do.
type Kind string

// Kinds of links.
const (
	Read   Kind = "read"   // read the file, or the folder and everything below it
	Upload Kind = "upload" // put new files into the folder, without seeing what it holds
)

// Link is one share link.
type Link struct {
	// Token is the secret part of the URL: 32 bytes from crypto/rand, base64url without padding.
	Token string
	// Owner is the user who created the link; its access is checked on every request.
	Owner string
	// Path is the shared file or folder, in the served tree (not the owner's view): a scope that
	// changes later cannot move the link onto another directory.
	Path davpath.Path
	// Dir reports whether Path was a folder when the link was created.
	Dir  bool
	Kind Kind
	// Created and Expires (zero: never) are wall-clock times.
	Created time.Time
	Expires time.Time
	// PasswordHash is the bcrypt hash of the link's password, or "" for none.
	PasswordHash string
}

// Expired reports whether l has expired at now.
func (l Link) Expired(now time.Time) bool { return !l.Expires.IsZero() && !now.Before(l.Expires) }

// ErrNotFound is returned by Store.Get and Store.Delete for a token that names no link.
var ErrNotFound = errors.New("share: no such link")

// Store keeps the links. Implementations are safe for concurrent use; every Get reads the
// current state (no cache), so a revoked link stops working on every node at once.
type Store interface {
	// Create stores a new link; its token must not be in use.
	Create(ctx context.Context, l Link) error
	// Get returns the link of token, or ErrNotFound.
	Get(ctx context.Context, token string) (Link, error)
	// Delete removes the link of token, or returns ErrNotFound.
	Delete(ctx context.Context, token string) error
	// List returns the links of owner, in no particular order.
	List(ctx context.Context, owner string) ([]Link, error)
}

// tokenBytes is the entropy of a token: 256 bits, well over the 128 the issue asks.
const tokenBytes = 32

// NewToken returns a fresh token.
func NewToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ValidToken reports whether s has the shape of a token, so that anything else is refused
// before the store is asked.
func ValidToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
