// Package gcfloor puts a floor under the garbage collector's heap goal.
//
// With GOGC=100 the collector runs whenever the heap has doubled since the last cycle, and never
// later than at 4 MiB. A server whose live heap is about 1 MiB (davd between big listings) then
// collects dozens of times a second under load: at 26,000 small PUTs a second, 37 cycles a
// second, each with its stop-the-world phases, write barriers, mark assists and the flushing of
// every sync.Pool (GOGC=400, whose smallest goal is 16 MiB, took a seventh off the server's CPU
// per request). A goal of a few MiB more costs a few MiB of memory and saves most of those
// cycles.
//
// Start keeps GOGC's rule (the goal is about the live heap times 1+GOGC/100) while that goal is
// above the floor, and raises the percentage after each cycle just enough that the goal is the
// floor when the live heap is small. A big live heap (a large PROPFIND) gets GOGC's goal
// unchanged, so peak memory does not grow with the floor.
//
// The percentage is set after a cycle for the live heap that cycle found, and the runtime applies
// it to the next; a live heap that jumps from 1 MiB to 10 MiB in between (a burst of big
// listings) would get a goal of 16 times 10 MiB. While the percentage is raised, a memory limit
// of a quarter more than the floor therefore bounds the total: the collector runs there,
// whatever the percentage, and the next adjustment sees the bigger live heap and lowers it. The
// limit is lifted with the percentage.
//
// Nothing is changed when GOGC or GOMEMLIMIT is set in the environment: then they decide alone.
package gcfloor

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// maxPercent bounds the percentage Start sets (a goal of 51 times a tiny live heap).
const maxPercent = 5000

type tuner struct {
	floor   uint64
	base    int // the GOGC the process started with
	mu      sync.Mutex
	current int
	stopped bool
	sample  []metrics.Sample
}

// sentinel is garbage as soon as it is made; its cleanup runs after each collection.
type sentinel struct {
	_ *int // a pointer field: never a tiny allocation, which would delay the cleanup
	_ [16]byte
}

// Start sets the floor (in bytes) and returns a function that removes it and restores the
// percentage the process had. It does nothing, and returns a no-op, when GOGC or GOMEMLIMIT is
// set in the environment or the collector is off.
func Start(floor uint64) (stop func()) {
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, set := os.LookupEnv(v); set {
			return func() {}
		}
	}
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if base <= 0 {
		return func() {}
	}
	t := &tuner{floor: floor, base: base, current: base, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	t.adjust()
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped = true
		debug.SetGCPercent(t.base)
		debug.SetMemoryLimit(math.MaxInt64)
	}
}

// arm makes a sentinel whose cleanup, run after the next collection, adjusts the percentage
// and arms again.
func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) {
		if t.adjust() {
			t.arm()
		}
	}, t)
}

// adjust sets the percentage for the live heap of the last cycle; false once stopped.
func (t *tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	var v [3]uint64
	for i, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	p := percentFor(v[0], v[1]+v[2], t.floor, t.base)
	// Small changes are not worth a call (each takes the heap lock).
	if p == t.current || (p != t.base && p*10 >= t.current*9 && p*10 <= t.current*11) {
		return true
	}
	if p > t.base {
		// The rail first, then the raise.
		debug.SetMemoryLimit(int64(t.floor + t.floor/4))
		debug.SetGCPercent(p)
	} else {
		debug.SetGCPercent(p)
		debug.SetMemoryLimit(math.MaxInt64)
	}
	t.current = p
	return true
}

// percentFor is the percentage whose goal for a live heap of live bytes is the floor, or base
// when base's goal is already above it. The runtime's goal is live + (live + roots) × GOGC/100,
// where roots are the stacks and globals it scans.
func percentFor(live, roots, floor uint64, base int) int {
	if live == 0 {
		return base
	}
	scan := live + roots
	if live+scan*uint64(base)/100 >= floor {
		return base
	}
	p := int((floor - live) * 100 / scan)
	return min(max(p, base), maxPercent)
}
