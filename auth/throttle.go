package auth

import (
	"container/list"
	"context"
	"net/netip"
	"sync"
	"time"
)

// ThrottleOptions configure the defence against password guessing. Zero fields take the
// defaults in DefaultThrottle.
type ThrottleOptions struct {
	// MaxFailures failed logins from one client address within Window ban the address for
	// Ban; each further ban in a row doubles, up to MaxBan. A banned address is answered 429
	// with Retry-After and its credentials are not even checked.
	MaxFailures int           `toml:"max_failures"`
	Window      time.Duration `toml:"window"`
	Ban         time.Duration `toml:"ban"`
	MaxBan      time.Duration `toml:"max_ban"`
	// UserMaxFailures failed logins of one user name within Window, from any addresses, make
	// each further failed login of that name wait UserDelay before its 401. A correct password
	// is never delayed, so guessing from many addresses slows down without locking the real
	// user out.
	UserMaxFailures int           `toml:"user_max_failures"`
	UserDelay       time.Duration `toml:"user_delay"`
	// MaxTracked bounds the addresses and the user names tracked (each); beyond it the least
	// recently failing is forgotten, so an attacker with many addresses cannot grow the memory.
	MaxTracked int `toml:"max_tracked"`
	// Disabled turns the defence off.
	Disabled bool `toml:"disabled"`
}

// DefaultThrottle is what zero ThrottleOptions fields mean.
var DefaultThrottle = ThrottleOptions{
	MaxFailures:     5,
	Window:          10 * time.Minute,
	Ban:             time.Minute,
	MaxBan:          time.Hour,
	UserMaxFailures: 20,
	UserDelay:       2 * time.Second,
	MaxTracked:      100000,
}

// WithDefaults returns o with its zero fields set from DefaultThrottle.
func (o ThrottleOptions) WithDefaults() ThrottleOptions {
	d := DefaultThrottle
	if o.MaxFailures <= 0 {
		o.MaxFailures = d.MaxFailures
	}
	if o.Window <= 0 {
		o.Window = d.Window
	}
	if o.Ban <= 0 {
		o.Ban = d.Ban
	}
	if o.MaxBan <= 0 {
		o.MaxBan = d.MaxBan
	}
	if o.UserMaxFailures <= 0 {
		o.UserMaxFailures = d.UserMaxFailures
	}
	if o.UserDelay <= 0 {
		o.UserDelay = d.UserDelay
	}
	if o.MaxTracked <= 0 {
		o.MaxTracked = d.MaxTracked
	}
	return o
}

// Throttle counts failed logins per client address and per user name. It is safe for
// concurrent use.
type Throttle struct {
	o     ThrottleOptions
	now   func() time.Time
	mu    sync.Mutex
	addrs tracker
	users tracker
}

// NewThrottle returns a Throttle; now is its clock (nil: time.Now).
func NewThrottle(o ThrottleOptions, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	o = o.WithDefaults()
	return &Throttle{o: o, now: now, addrs: newTracker(o.MaxTracked), users: newTracker(o.MaxTracked)}
}

// record is what is known of one address or name.
type record struct {
	key     string
	start   time.Time // of the current window
	fails   int       // in the current window
	bans    int       // bans in a row
	until   time.Time // banned until
	lastBan time.Time
}

// tracker is a bounded LRU of records.
type tracker struct {
	max int
	m   map[string]*list.Element
	l   *list.List // front: most recent
}

func newTracker(max int) tracker {
	return tracker{max: max, m: map[string]*list.Element{}, l: list.New()}
}

func (t *tracker) get(key string) (*record, bool) {
	e, ok := t.m[key]
	if !ok {
		return nil, false
	}
	t.l.MoveToFront(e)
	return e.Value.(*record), true
}

func (t *tracker) getOrAdd(key string) *record {
	if r, ok := t.get(key); ok {
		return r
	}
	if t.l.Len() >= t.max {
		old := t.l.Back()
		t.l.Remove(old)
		delete(t.m, old.Value.(*record).key)
	}
	r := &record{key: key}
	t.m[key] = t.l.PushFront(r)
	return r
}

// Len is the number of addresses and names tracked (for tests of the bound).
func (th *Throttle) Len() (addrs, users int) {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.addrs.l.Len(), th.users.l.Len()
}

// Banned reports how long the client address addr must still wait (0: it may try).
func (th *Throttle) Banned(addr string) time.Duration {
	th.mu.Lock()
	defer th.mu.Unlock()
	r, ok := th.addrs.get(addrKey(addr))
	if !ok {
		return 0
	}
	if d := r.until.Sub(th.now()); d > 0 {
		return d
	}
	return 0
}

// Fail records a failed login of name from addr. It returns how long the 401 must wait (the
// name is under attack) and whether addr is now banned.
func (th *Throttle) Fail(addr, name string) (delay time.Duration, banned bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	now := th.now()
	a := th.addrs.getOrAdd(addrKey(addr))
	if now.Sub(a.start) > th.o.Window {
		a.start, a.fails = now, 0
		if now.Sub(a.lastBan) > th.o.Window+th.o.MaxBan {
			a.bans = 0 // a quiet window ends the series of bans
		}
	}
	a.fails++
	if a.fails >= th.o.MaxFailures {
		d := th.o.Ban << min(a.bans, 20)
		a.until, a.lastBan = now.Add(min(d, th.o.MaxBan)), now
		a.bans++
		a.fails = 0
		banned = true
	}
	u := th.users.getOrAdd(name)
	if now.Sub(u.start) > th.o.Window {
		u.start, u.fails = now, 0
	}
	u.fails++
	if u.fails > th.o.UserMaxFailures {
		delay = th.o.UserDelay
	}
	return delay, banned
}

// FailAndWait records a failure like Fail, then waits the delay Fail asks for, or until ctx
// ends. A name under attack makes each failure wait; a right password never does. It reports
// whether addr is now banned.
func (th *Throttle) FailAndWait(ctx context.Context, addr, name string) (banned bool) {
	delay, banned := th.Fail(addr, name)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return banned
}

// addrKey is the tracking key of a client address (host:port or host): an IPv4 address, or
// the /64 of an IPv6 one (one subscriber's whole prefix).
func addrKey(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	var a netip.Addr
	if err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(remote); err != nil {
		return remote
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
