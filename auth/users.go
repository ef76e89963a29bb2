package auth

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// DefaultCost is the bcrypt cost of hashes made by HashPassword.
const DefaultCost = bcrypt.DefaultCost

// MaxCost is the highest bcrypt cost accepted: each step doubles the time of every login, and
// at 16 one check already takes seconds.
const MaxCost = 16

// MinCost is the lowest bcrypt cost HashPassword makes (bcrypt's own minimum; below it the
// bcrypt package would silently use its default instead).
const MinCost = bcrypt.MinCost

// HashPassword returns a bcrypt hash of password at cost (DefaultCost when 0), which must lie
// between MinCost and MaxCost.
func HashPassword(password []byte, cost int) (string, error) {
	if cost == 0 {
		cost = DefaultCost
	}
	if cost < MinCost || cost > MaxCost {
		return "", fmt.Errorf("auth: cost %d is outside %d to %d", cost, MinCost, MaxCost)
	}
	if len(password) == 0 {
		return "", errors.New("auth: empty password")
	}
	h, err := bcrypt.GenerateFromPassword(password, cost)
	if err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	return string(h), nil
}

// Users is a table of user names and bcrypt hashes. Build it with Add and LoadHtpasswd before
// serving, then call Seal; after Seal it is safe for concurrent use.
type Users struct {
	hashes map[string][]byte
	// dummy is compared against for unknown users; it has the cost most users' hashes have.
	dummy  []byte
	sealed bool

	key   [32]byte // HMAC key of the success cache, random per process
	mu    sync.Mutex
	cache map[string][32]byte

	sem chan struct{} // bounds concurrent bcrypt computations
}

// NewUsers returns an empty table.
func NewUsers() *Users {
	u := &Users{hashes: map[string][]byte{}, cache: map[string][32]byte{}}
	rand.Read(u.key[:])
	u.sem = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	return u
}

// ValidName reports whether name can be a user name: not empty, printable, and free of ':' (the
// Basic separator) and '\' (the Windows DOMAIN\user separator).
func ValidName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == ':' || r == '\\' || r == '\uFFFD' {
			return false
		}
	}
	return true
}

// Add adds one user with a bcrypt hash ($2a$, $2b$ or $2y$).
func (u *Users) Add(name, hash string) error {
	if u.sealed {
		return errors.New("auth: Add after Seal")
	}
	if !ValidName(name) {
		return fmt.Errorf("auth: invalid user name %q", name)
	}
	if _, dup := u.hashes[name]; dup {
		return fmt.Errorf("auth: user %q defined twice", name)
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return fmt.Errorf("auth: user %q: password hash is not bcrypt (make one with `davd hash-password`): %w", name, err)
	}
	if cost > MaxCost {
		return fmt.Errorf("auth: user %q: bcrypt cost %d is above %d; every login would take too long", name, cost, MaxCost)
	}
	u.hashes[name] = []byte(hash)
	return nil
}

// LoadHtpasswd adds the users of an htpasswd file. Only bcrypt entries (htpasswd -B) are
// accepted; any other scheme is an error naming the line, rather than a user silently locked out.
func (u *Users) LoadHtpasswd(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return u.readHtpasswd(f, path)
}

func (u *Users) readHtpasswd(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(s, ":")
		if !ok {
			return fmt.Errorf("%s:%d: want user:hash", name, line)
		}
		if err := u.Add(user, hash); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	return sc.Err()
}

// Len returns the number of users.
func (u *Users) Len() int { return len(u.hashes) }

// Names returns the user names, sorted.
func (u *Users) Names() []string {
	names := make([]string, 0, len(u.hashes))
	for n := range u.hashes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Has reports whether name is a configured user.
func (u *Users) Has(name string) bool { _, ok := u.hashes[name]; return ok }

// Seal ends the building phase: it makes the dummy hash for unknown users, with the cost most
// configured hashes have (the highest such cost on a tie).
func (u *Users) Seal() error {
	count := map[int]int{}
	cost := DefaultCost
	best := 0
	for _, h := range u.hashes {
		c, _ := bcrypt.Cost(h)
		count[c]++
		if n := count[c]; n > best || n == best && c > cost {
			best, cost = n, c
		}
	}
	var pw [18]byte
	rand.Read(pw[:])
	d, err := bcrypt.GenerateFromPassword(pw[:], cost)
	if err != nil {
		return fmt.Errorf("auth: dummy hash: %w", err)
	}
	u.dummy = d
	u.sealed = true
	return nil
}

// Verify reports whether password is name's password. It takes as long for an unknown name as
// for a known one with a wrong password. ctx bounds the wait for a bcrypt slot.
func (u *Users) Verify(ctx context.Context, name, password string) bool {
	if !u.sealed {
		panic("auth: Verify before Seal")
	}
	mac := u.mac(name, password)
	hash, known := u.hashes[name]
	if known {
		u.mu.Lock()
		prev, ok := u.cache[name]
		u.mu.Unlock()
		if ok && hmac.Equal(prev[:], mac[:]) {
			return true
		}
	} else {
		hash = u.dummy
	}
	select {
	case u.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	<-u.sem
	if err != nil || !known {
		return false
	}
	u.mu.Lock()
	u.cache[name] = mac
	u.mu.Unlock()
	return true
}

func (u *Users) mac(name, password string) [32]byte {
	m := hmac.New(sha256.New, u.key[:])
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var out [32]byte
	m.Sum(out[:0])
	return out
}
