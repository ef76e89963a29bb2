package logbuf

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// rec records each write it gets.
type rec struct {
	mu     sync.Mutex
	writes []string
}

func (r *rec) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *rec) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func TestIdleLineAtOnce(t *testing.T) {
	var r rec
	b := New(&r, time.Hour)
	defer b.Close()
	b.Lazy().Write([]byte("a\n"))
	if got := r.get(); len(got) != 1 || got[0] != "a\n" {
		t.Fatalf("an idle writer's lazy line: writes %q, want it at once", got)
	}
}

func TestLazyLinesBatched(t *testing.T) {
	var r rec
	b := New(&r, 20*time.Millisecond)
	defer b.Close()
	l := b.Lazy()
	for _, s := range []string{"1\n", "2\n", "3\n", "4\n"} {
		l.Write([]byte(s))
	}
	if got := r.get(); len(got) != 1 {
		t.Fatalf("after four lines in one window: writes %q, want only the first", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(r.get()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the window's lines were never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := r.get(); len(got) != 2 || got[1] != "2\n3\n4\n" {
		t.Fatalf("writes %q, want the window's three lines in one write", got)
	}
	// The next window found nothing: the writer is idle again and a line goes out at once.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b.mu.Lock()
		armed := b.armed
		b.mu.Unlock()
		if !armed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never went idle")
		}
	}
	l.Write([]byte("5\n"))
	if got := r.get(); len(got) != 3 || got[2] != "5\n" {
		t.Fatalf("writes %q, want the idle line at once", got)
	}
}

func TestWriteKeepsOrder(t *testing.T) {
	var r rec
	b := New(&r, time.Hour)
	defer b.Close()
	l := b.Lazy()
	l.Write([]byte("access 1\n"))
	l.Write([]byte("access 2\n"))
	b.Write([]byte("warning\n"))
	got := r.get()
	if strings.Join(got, "") != "access 1\naccess 2\nwarning\n" || len(got) != 2 {
		t.Fatalf("writes %q: a plain line must take the buffered ones with it, in order", got)
	}
}

func TestCloseFlushes(t *testing.T) {
	var r rec
	b := New(&r, time.Hour)
	l := b.Lazy()
	l.Write([]byte("1\n"))
	l.Write([]byte("2\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.get(), ""); got != "1\n2\n" {
		t.Fatalf("after Close: %q", got)
	}
	l.Write([]byte("3\n"))
	if got := strings.Join(r.get(), ""); got != "1\n2\n3\n" {
		t.Fatalf("a line after Close: %q, want it written at once", got)
	}
}

func TestBoundedBuffer(t *testing.T) {
	var r rec
	b := New(&r, time.Hour)
	defer b.Close()
	l := b.Lazy()
	line := bytes.Repeat([]byte("x"), 1000)
	line[len(line)-1] = '\n'
	for range 200 {
		l.Write(line)
	}
	total := 0
	for _, w := range r.get() {
		total += len(w)
	}
	b.mu.Lock()
	held := len(b.buf)
	b.mu.Unlock()
	if held >= maxBuffered || total+held != 200*len(line) {
		t.Fatalf("held %d bytes, wrote %d: want under %d held and nothing lost", held, total, maxBuffered)
	}
}
