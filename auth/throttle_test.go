package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) throttle(o ThrottleOptions) *Throttle { return NewThrottle(o, c.now) }

// An address that keeps failing is banned after MaxFailures, for Ban, doubling per ban in a
// row up to MaxBan; another address is not affected.
func TestThrottleBansAddress(t *testing.T) {
	c := newClock()
	th := c.throttle(ThrottleOptions{MaxFailures: 3, Ban: time.Minute, MaxBan: 3 * time.Minute})
	for i := range 2 {
		if _, banned := th.Fail("192.0.2.1:5000", "alice"); banned {
			t.Fatalf("banned after %d failures", i+1)
		}
	}
	if _, banned := th.Fail("192.0.2.1:6000", "alice"); !banned {
		t.Fatal("not banned after 3 failures (the port does not matter)")
	}
	if d := th.Banned("192.0.2.1:7000"); d != time.Minute {
		t.Fatalf("ban %v, want 1m", d)
	}
	if d := th.Banned("192.0.2.2:5000"); d != 0 {
		t.Fatalf("another address is banned too: %v", d)
	}
	for _, want := range []time.Duration{2 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		c.add(th.Banned("192.0.2.1:1") + time.Second)
		for range 3 {
			th.Fail("192.0.2.1:1", "alice")
		}
		if d := th.Banned("192.0.2.1:1"); d != want {
			t.Fatalf("next ban %v, want %v", d, want)
		}
	}
	// A quiet spell ends the series.
	c.add(2 * time.Hour)
	for range 3 {
		th.Fail("192.0.2.1:1", "alice")
	}
	if d := th.Banned("192.0.2.1:1"); d != time.Minute {
		t.Fatalf("ban after a quiet spell %v, want 1m again", d)
	}
}

// Failures older than the window are forgotten; IPv6 addresses count by their /64.
func TestThrottleWindowAndIPv6(t *testing.T) {
	c := newClock()
	th := c.throttle(ThrottleOptions{MaxFailures: 3, Window: time.Minute})
	th.Fail("[2001:db8::1]:1", "a")
	th.Fail("[2001:db8::2]:1", "a")
	c.add(2 * time.Minute)
	if _, banned := th.Fail("[2001:db8::3]:1", "a"); banned {
		t.Fatal("failures outside the window counted")
	}
	th.Fail("[2001:db8::4]:1", "a")
	if _, banned := th.Fail("[2001:db8:0:0:ffff::5]:1", "a"); !banned {
		t.Fatal("three failures from one /64 did not ban it")
	}
	if th.Banned("[2001:db8:0:1::1]:1") != 0 {
		t.Fatal("the neighbouring /64 is banned")
	}
}

// A user name under attack delays its failures; the tracking stays bounded however many
// addresses and names fail.
func TestThrottleUserDelayAndBound(t *testing.T) {
	c := newClock()
	th := c.throttle(ThrottleOptions{MaxFailures: 1000, UserMaxFailures: 2, UserDelay: time.Second, MaxTracked: 50})
	for i := range 2 {
		if d, _ := th.Fail(fmt.Sprintf("198.51.100.%d:1", i), "alice"); d != 0 {
			t.Fatalf("failure %d delayed", i+1)
		}
	}
	if d, _ := th.Fail("198.51.100.9:1", "alice"); d != time.Second {
		t.Fatalf("third failure of alice from a third address: delay %v, want 1s", d)
	}
	for i := range 10000 {
		th.Fail(fmt.Sprintf("10.%d.%d.%d:1", i>>16, i>>8&255, i&255), "u"+strconv.Itoa(i))
	}
	if a, u := th.Len(); a > 50 || u > 50 {
		t.Fatalf("tracking %d addresses and %d names, bound 50", a, u)
	}
}

// Through the middleware: an attacker guessing from one address gets 429 with Retry-After once
// banned, without a password check; the real user logging in from another address succeeds,
// even with the attacker's target name under delay.
func TestMiddlewareThrottle(t *testing.T) {
	users := testUsers(t, bcrypt.MinCost)
	c := newClock()
	var throttled atomic.Int64
	h := Middleware(Options{Users: users, Throttle: c.throttle(ThrottleOptions{MaxFailures: 3, UserMaxFailures: 1000}), OnThrottled: func() { throttled.Add(1) }},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	try := func(remote, user, pass string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("PROPFIND", "/", nil)
		r.RemoteAddr = remote
		r.SetBasicAuth(user, pass)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := try("203.0.113.66:4000", "alice", fmt.Sprint("guess", i)); w.Code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, w.Code)
		}
	}
	w := try("203.0.113.66:4001", "alice", "wonderland")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("banned address with the right password: %d Retry-After %q, want 429 and 60", w.Code, w.Header().Get("Retry-After"))
	}
	if w := try("192.0.2.10:5000", "alice", "wonderland"); w.Code != 200 {
		t.Fatalf("the real user from another address: %d, want 200", w.Code)
	}
	if throttled.Load() != 1 {
		t.Fatalf("OnThrottled called %d times, want 1", throttled.Load())
	}
	c.add(61 * time.Second)
	if w := try("203.0.113.66:4002", "alice", "wonderland"); w.Code != 200 {
		t.Fatalf("after the ban: %d, want 200", w.Code)
	}
}

// FailAndWait reports the ban Fail decides, and a name under attack makes it wait UserDelay,
// which a client that goes away cuts short (the handler must not sit on a dead request).
func TestThrottleFailAndWait(t *testing.T) {
	c := newClock()
	th := c.throttle(ThrottleOptions{MaxFailures: 2, Ban: time.Minute, MaxBan: time.Minute,
		Window: time.Hour, UserMaxFailures: 1, UserDelay: time.Hour})
	if th.FailAndWait(context.Background(), "192.0.2.1:1", "bob") {
		t.Fatal("banned after one failure")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- th.FailAndWait(ctx, "192.0.2.1:1", "bob") }()
	select {
	case <-done:
		t.Fatal("the second failure of bob did not wait its UserDelay")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if banned := <-done; !banned {
		t.Fatal("not banned after MaxFailures")
	}
}
