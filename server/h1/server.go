// Package h1 is davd's cleartext HTTP/1.1 server: a replacement for net/http's http.Server on
// plain-HTTP listeners that serves any http.Handler with less work per request.
//
// Why it exists (issue 6, bench/ceiling): net/http starts a background-read goroutine for every
// request to notice a client that goes away, which costs two goroutine hand-offs per request;
// on a small keep-alive request that is 25–40 µs of latency. This server reads each request
// on the connection's goroutine with http.ReadRequest (the very parser net/http uses, so request
// framing, chunked bodies, Content-Length rules and header syntax are net/http's) and writes
// the response with a reusable buffered writer.
//
// What it does as net/http does: the server-side request checks net/http adds to ReadRequest
// (protocol version, Host, header names and values), 431 for oversized headers, 501 for unknown
// transfer codings, Expect: 100-continue and 417, keep-alive and HTTP/1.0 keep-alive,
// Connection: close, discarding up to 256 KiB of an unread body to keep the connection (else
// closing it after the response, with a lingering close so the client sees the response),
// automatic Content-Length for small responses and chunked encoding for others, Content-Type
// sniffing, the header rules of 1xx/204/304 and HEAD, ErrContentLength, a panicking handler
// logged and its connection closed, ReadHeaderTimeout and IdleTimeout, pipelining, graceful
// Shutdown and Close. The ResponseWriter implements http.Flusher, io.ReaderFrom (sendfile) and
// the deadline methods http.ResponseController uses.
//
// Differences, on purpose:
//   - a request with both Transfer-Encoding and Content-Length (a request-smuggling pattern) is
//     answered and its connection closed, as RFC 9112 section 6.3 requires (net/http keeps the
//     connection); so is a chunked request whose header block did not arrive in one read (the
//     fields http.ReadRequest drops can then not be checked).
//   - an HTTP/1.0 request with Transfer-Encoding (with or without Content-Length) is answered
//     400 and its connection closed, as RFC 9112 section 6.1 requires: its framing is faulty
//     (net/http drops the field, frames the body by the Content-Length and serves what
//     follows as the next request).
//   - the header deadline is not cleared once the header is read: a request's body is read
//     under it until the handler sets a read deadline of its own (http.ResponseController),
//     and the answers the server makes without the handler (4xx, 417, "OPTIONS *") are
//     written under it. net/http with a ReadHeaderTimeout and no ReadTimeout leaves the body
//     without a deadline. No connection is left without one by the server.
//   - no client-gone detection while the handler runs: the request context is cancelled when the
//     handler returns or the server closes; a client that left is noticed by the next read or
//     write, which fail. (This is the background read that costs net/http its latency.)
//   - an origin-form HTTP/1.1 request with an empty Host field is refused with 400 (net/http:
//     accepted) when its header block did not arrive in one read: http.ReadRequest drops the
//     field, and only the raw block tells an empty field from a missing one (which both refuse).
//   - a response is never longer on the wire than its Content-Length: ReadFrom stops there.
//   - no Hijack, no response trailers, no HTTP/2 (TLS and HTTP/2 stay on net/http).
package h1

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.1 on listeners. Its zero value (with a Handler) is ready to use.
type Server struct {
	// Handler answers every request.
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's line and header: on a new connection from
	// the accept, on a kept-alive one from the request's first bytes. It goes on bounding the
	// request's body (and the answers the server makes itself: 417, 4xx, "OPTIONS *") unless
	// the handler sets deadlines of its own with http.ResponseController. Zero: no limit.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive connection. Zero: the
	// ReadHeaderTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and header (plus 4 KiB of slack, as net/http).
	// Zero: http.DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// ErrorLog receives panics of the handler and other server errors. Nil: package log.
	ErrorLog *log.Logger
	// DisableGeneralOptionsHandler, as in http.Server: "OPTIONS *" goes to the Handler
	// instead of being answered by the server itself (200, no body).
	DisableGeneralOptionsHandler bool

	closing atomic.Bool

	work        chan *conn    // unbuffered: a send succeeds only when a worker is waiting
	idleWorkers atomic.Int32  // workers waiting on work
	quit        chan struct{} // closed (under mu) by Shutdown and Close: idle workers end

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	ctx       context.Context
	cancel    context.CancelFunc
}

// Serve accepts connections on ln and serves each on its own goroutine until Shutdown or Close,
// then returns http.ErrServerClosed. ln is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln, true) {
		ln.Close()
		return http.ErrServerClosed
	}
	defer func() {
		s.track(ln, false)
		ln.Close()
	}()
	var delay time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE, ECONNABORTED and the like: back off (as net/http) and go on.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			s.logf("h1: accept error: %v; retrying in %v", err, delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := s.newConn(rwc)
		if c == nil { // shutting down
			rwc.Close()
			return http.ErrServerClosed
		}
		select {
		case s.work <- c: // a goroutine that served a connection before takes this one
		default:
			go s.worker(c)
		}
	}
}

// Idle workers: at most maxIdleWorkers wait, each for at most workerIdle.
const (
	maxIdleWorkers = 64
	workerIdle     = 2 * time.Second
)

// worker serves c, then up to workerIdle for the next connection that Serve hands it. A new
// connection on a reused goroutine starts with the stack the last one grew to: a fresh
// goroutine starts small and copies its stack each time a request's calls outgrow it.
func (s *Server) worker(c *conn) {
	var t *time.Timer
	for {
		c.serve()
		if s.idleWorkers.Add(1) > maxIdleWorkers {
			s.idleWorkers.Add(-1)
			return
		}
		if t == nil {
			t = time.NewTimer(workerIdle)
		} else {
			t.Reset(workerIdle)
		}
		select {
		case c = <-s.work:
		case <-t.C:
			c = nil
		case <-s.quit: // Shutdown or Close
			c = nil
		}
		s.idleWorkers.Add(-1)
		if c == nil {
			return
		}
	}
}

// Shutdown stops accepting, closes idle connections, lets connections with a request in
// progress finish it (they are then closed) and returns when none is left, or with ctx's error
// when ctx ends first (the remaining connections are left to Close).
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListeners()
	wait := time.Millisecond
	for {
		if s.closeIdle() == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if wait < 100*time.Millisecond {
			wait *= 2
		}
	}
}

// Close stops accepting and closes every connection at once, cancelling the contexts of the
// requests in progress.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.rwc.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	return nil
}

// track adds (or removes) a listener; it refuses to add one once the server is closing.
func (s *Server) track(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.work = make(chan *conn)
		s.quit = make(chan struct{})
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		ln.Close()
	}
	if s.quit != nil {
		select {
		case <-s.quit: // closed already
		default:
			close(s.quit)
		}
	}
}

// newGrace is how long a new connection that has not sent a byte yet is left alone by Shutdown
// (its request may be on the way), as net/http.
const newGrace = 5 * time.Second

// closeIdle wakes every connection waiting for a request (idle, or new for longer than newGrace)
// with an expired read deadline, and returns how many connections are left.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for c := range s.conns {
		c.mu.Lock()
		if c.state == stateIdle || (c.state == stateNew && now.Sub(c.since) > newGrace) {
			c.rwc.SetReadDeadline(aLongTimeAgo)
		}
		c.mu.Unlock()
	}
	return len(s.conns)
}

func (s *Server) newConn(rwc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	c := &conn{s: s, rwc: rwc, since: time.Now()}
	// Each connection has a cancellable context of its own: its requests' contexts register
	// with it, not all with the server's (one lock and map every request of every connection
	// would contend on).
	c.ctx, c.cancel = context.WithCancel(context.WithValue(s.ctx, http.LocalAddrContextKey, rwc.LocalAddr()))
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

func (s *Server) maxHeaderBytes() int64 {
	if s.MaxHeaderBytes > 0 {
		return int64(s.MaxHeaderBytes)
	}
	return http.DefaultMaxHeaderBytes
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return s.ReadHeaderTimeout
}

// aLongTimeAgo is a deadline that has passed: setting it wakes a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)
