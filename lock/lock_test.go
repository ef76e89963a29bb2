package lock_test

import (
	"context"
	"testing"

	"github.com/davd/davd/lock"
)

// counted is a Manager (by embedding; its methods are never called) with a Counter.
type counted struct {
	lock.Manager
	n int
}

func (c counted) Len() int { return c.n }

// LenContext tells the request's count apart from Len's: the context's "extra" is added.
func (c counted) LenContext(ctx context.Context) int {
	extra, _ := ctx.Value(extraKey{}).(int)
	return c.n + extra
}

type extraKey struct{}

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
			// LenContext asks the same Counter, with the request's context.
			ctx := context.WithValue(context.Background(), extraKey{}, 10)
			want := tc.n
			if tc.ok {
				want += 10
			}
			if n, ok := lock.LenContext(ctx, tc.m); n != want || ok != tc.ok {
				t.Errorf("LenContext = %d, %v; want %d, %v", n, ok, want, tc.ok)
			}
		})
	}
}
