package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestInflightWait: wait returns at once when nothing runs, returns when the last running
// request ends (well before its bound), and returns at its bound while a request still runs.
// The idle channel it waits on is made only by wait, so the channel must be there for a request
// that began before the wait and gone (closed) once that request ended.
func TestInflightWait(t *testing.T) {
	f := newInflight()
	start := time.Now()
	f.wait(10 * time.Second)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("wait with nothing running took %v", d)
	}

	release := make(chan struct{})
	running := make(chan struct{})
	h := f.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(running)
		<-release
	}))
	served := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		close(served)
	}()
	<-running

	start = time.Now()
	f.wait(50 * time.Millisecond) // the request still runs: the bound ends the wait
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("wait returned after %v with a request running", d)
	}

	done := make(chan time.Duration)
	go func() {
		s := time.Now()
		f.wait(10 * time.Second)
		done <- time.Since(s)
	}()
	time.Sleep(20 * time.Millisecond) // let the waiter block on the idle channel
	close(release)
	<-served
	select {
	case d := <-done:
		if d > 5*time.Second {
			t.Fatalf("wait took %v after the last request ended", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return when the last request ended")
	}
	if f.Len() != 0 {
		t.Fatalf("%d requests still counted", f.Len())
	}
}
