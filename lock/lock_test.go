package lock_test

import (
	"testing"

	"github.com/davd/davd/lock"
)

// counted is a Manager (by embedding; its methods are never called) with a Counter.
type counted struct {
	lock.Manager
	n int
}

func (c counted) Len() int { return c.n }

// wrapper wraps a Manager without counting.
type wrapper struct{ lock.Manager }

func (w wrapper) Unwrap() lock.Manager { return w.Manager }

// loop unwraps to itself.
type loop struct{ lock.Manager }

func (l *loop) Unwrap() lock.Manager { return l }

func TestLen(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    lock.Manager
		n    int
		ok   bool
	}{
		{"nil", nil, 0, false},
		{"counter", counted{n: 3}, 3, true},
		{"through two wrappers", wrapper{wrapper{counted{n: 2}}}, 2, true},
		{"wrapper of a non-counter", wrapper{wrapper{}}, 0, false},
		{"self-loop is bounded", &loop{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, ok := lock.Len(tc.m); n != tc.n || ok != tc.ok {
				t.Errorf("Len = %d, %v; want %d, %v", n, ok, tc.n, tc.ok)
			}
		})
	}
}
