package h1

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// goid is the id of the calling goroutine, from the first line of its stack trace.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	f := bytes.Fields(b)
	if len(f) < 2 {
		return ""
	}
	return string(f[1])
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUpTo(t, 5*time.Second, what, cond)
}

// waitUpTo polls cond for up to d.
func waitUpTo(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// get sends one request on a new connection that asks to be closed, and returns the body.
func get(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A goroutine that served a connection serves the next one (its stack already grown), at most
// maxIdleWorkers wait, and Shutdown ends the waiting ones.
func TestWorkersAreReused(t *testing.T) {
	var release chan struct{} // when set, the handler waits on it
	var mu sync.Mutex
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ch := release
		mu.Unlock()
		if ch != nil {
			<-ch
		}
		io.WriteString(w, goid())
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()

	first := get(t, addr)
	for i := 0; i < 5; i++ {
		waitFor(t, "the worker waits for the next connection", func() bool { return s.idleWorkers.Load() == 1 })
		if id := get(t, addr); id != first {
			t.Fatalf("connection %d served by goroutine %s, the first by %s: the idle worker was not reused", i+2, id, first)
		}
	}

	// More connections at once than may wait afterwards.
	n := maxIdleWorkers + 6
	ch := make(chan struct{})
	mu.Lock()
	release = ch
	mu.Unlock()
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids <- get(t, addr)
		}()
	}
	waitFor(t, "every connection reaches the handler", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == n
	})
	close(ch)
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != n {
		t.Fatalf("%d concurrent connections were served by %d goroutines", n, len(seen))
	}
	waitFor(t, "all workers done", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 0
	})
	time.Sleep(20 * time.Millisecond)
	if got := s.idleWorkers.Load(); got != maxIdleWorkers {
		t.Fatalf("%d idle workers after %d connections ended, want the bound %d", got, n, maxIdleWorkers)
	}

	before := runtime.NumGoroutine()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
	// Sooner than workerIdle, after which they would end anyway.
	waitUpTo(t, workerIdle/2, "Shutdown ends the idle workers", func() bool { return s.idleWorkers.Load() == 0 })
	waitUpTo(t, workerIdle/2, "the idle workers' goroutines exit", func() bool {
		return runtime.NumGoroutine() <= before-maxIdleWorkers
	})
}
