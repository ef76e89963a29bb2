package server

import (
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// inflight tracks the requests being served, so that a shutdown can say how many it waits for
// and name the ones it cuts off.
type inflight struct {
	mu   sync.Mutex
	reqs map[*http.Request]time.Time
	// idle, once wait has made it, is closed (and forgotten) when the count drops to zero.
	// Made only for a waiter: a channel per idle moment would cost every request served
	// alone an allocation.
	idle chan struct{}
}

func newInflight() *inflight {
	return &inflight{reqs: map[*http.Request]time.Time{}}
}

func (f *inflight) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs[r] = time.Now()
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.reqs, r)
			if len(f.reqs) == 0 && f.idle != nil {
				close(f.idle)
				f.idle = nil
			}
			f.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// Len returns the number of requests being served.
func (f *inflight) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// maxListed bounds how many cut-off requests a shutdown names in the log.
const maxListed = 20

// logCut logs (at most maxListed of) the requests still running.
func (f *inflight) logCut(log *slog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for r, start := range f.reqs {
		if n++; n > maxListed {
			log.Warn("shutdown: more requests cut off", "count", len(f.reqs)-maxListed)
			return
		}
		log.Warn("shutdown: request cut off", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "running", time.Since(start).Round(time.Millisecond))
	}
}

// wait returns when no request is running or after d, whichever comes first.
func (f *inflight) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		f.mu.Lock()
		n := len(f.reqs)
		if n > 0 && f.idle == nil {
			f.idle = make(chan struct{})
		}
		idle := f.idle
		f.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-idle:
		case <-t.C:
			return
		}
	}
}
