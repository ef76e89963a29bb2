package share

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/davd/davd/davpath"
)

// record is a link as stored: JSON, with the path as bytes so that a name which is not valid
// UTF-8 survives (encoding/json would replace its bytes).
type record struct {
	Owner        string    `json:"owner"`
	Path         []byte    `json:"path"`
	Dir          bool      `json:"dir,omitempty"`
	Kind         Kind      `json:"kind"`
	Created      time.Time `json:"created"`
	Expires      time.Time `json:"expires,omitzero"`
	PasswordHash string    `json:"password_hash,omitempty"`
}

// Encode returns the stored form of l (its token is the key, not part of the value).
func Encode(l Link) []byte {
	b, _ := json.Marshal(record{l.Owner, []byte(l.Path), l.Dir, l.Kind, l.Created, l.Expires, l.PasswordHash})
	return b
}

// Decode parses the stored form of the link of token.
func Decode(token string, b []byte) (Link, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Link{}, fmt.Errorf("share: link record: %w", err)
	}
	p := davpath.Path(r.Path)
	if !wellFormed(p) {
		return Link{}, fmt.Errorf("share: link record: bad path %q", r.Path)
	}
	if r.Kind != Read && r.Kind != Upload {
		return Link{}, fmt.Errorf("share: link record: bad kind %q", r.Kind)
	}
	return Link{token, r.Owner, p, r.Dir, r.Kind, r.Created, r.Expires, r.PasswordHash}, nil
}

// Mem is a Store in memory, for tests and for a server without a state store.
type Mem struct {
	mu    sync.Mutex
	links map[string][]byte
}

// NewMem returns an empty Mem.
func NewMem() *Mem { return &Mem{links: map[string][]byte{}} }

// Create implements Store.
func (m *Mem) Create(_ context.Context, l Link) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.links[l.Token]; ok {
		return fmt.Errorf("share: token in use")
	}
	m.links[l.Token] = Encode(l)
	return nil
}

// Get implements Store.
func (m *Mem) Get(_ context.Context, token string) (Link, error) {
	m.mu.Lock()
	b, ok := m.links[token]
	m.mu.Unlock()
	if !ok {
		return Link{}, ErrNotFound
	}
	return Decode(token, b)
}

// Delete implements Store.
func (m *Mem) Delete(_ context.Context, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.links[token]; !ok {
		return ErrNotFound
	}
	delete(m.links, token)
	return nil
}

// List implements Store.
func (m *Mem) List(_ context.Context, owner string) ([]Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ls []Link
	for t, b := range m.links {
		l, err := Decode(t, b)
		if err != nil {
			return nil, err
		}
		if l.Owner == owner {
			ls = append(ls, l)
		}
	}
	return ls, nil
}

// wellFormed reports whether p has the shape of a canonical path: the root, or "/"-separated
// non-empty segments other than "." and "..", without NUL. (What a name may hold beyond that
// is davpath's to say when the path is parsed; the record only has to come back as it went in.)
func wellFormed(p davpath.Path) bool {
	if p.IsRoot() {
		return true
	}
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	for _, seg := range strings.Split(string(p[1:]), "/") {
		if seg == "" || seg == "." || seg == ".." || strings.IndexByte(seg, 0) >= 0 {
			return false
		}
	}
	return true
}
