package gcfloor

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, roots, floor uint64
		base, want         int
	}{
		{1 * mib, 0, 16 * mib, 100, 1500},      // goal 16 MiB
		{1 * mib, 1 * mib, 16 * mib, 100, 750}, // the roots count in the goal
		{4 * mib, 0, 16 * mib, 100, 300},
		{8 * mib, 0, 16 * mib, 100, 100},  // GOGC's goal is the floor already
		{20 * mib, 0, 16 * mib, 100, 100}, // a big heap keeps GOGC's goal
		{6 * mib, 0, 16 * mib, 200, 200},  // 18 MiB > floor
		{1024, 0, 16 * mib, 100, 5000},    // bounded
		{0, 0, 16 * mib, 100, 100},        // no reading yet
		{2 * mib, 0, 16 * mib, 50, 700},   // from another base
		{12 * mib, 0, 16 * mib, 50, 50},   // 18 MiB > floor
	} {
		got := percentFor(tc.live, tc.roots, tc.floor, tc.base)
		if got != tc.want {
			t.Errorf("percentFor(%d, %d, %d, %d) = %d, want %d", tc.live, tc.roots, tc.floor, tc.base, got, tc.want)
		}
		if got > tc.base && got < maxPercent {
			goal := tc.live + (tc.live+tc.roots)*uint64(got)/100
			if goal > tc.floor || goal < tc.floor-tc.floor/50 {
				t.Errorf("percentFor(%d, %d, %d, %d): goal %d, want the floor", tc.live, tc.roots, tc.floor, tc.base, goal)
			}
		}
	}
}

// TestStart: with a small live heap the percentage rises after a collection so that the goal
// is the floor; stop restores the process's own.
func TestStart(t *testing.T) {
	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	stop := Start(64 << 20)
	deadline := time.Now().Add(5 * time.Second)
	var p int
	for time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the cleanup runs on its own goroutine
		if p = readPercent(); p > 100 {
			break
		}
	}
	if p <= 100 {
		t.Fatalf("percentage after collections with a small heap = %d, want > 100", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 80<<20 {
		t.Errorf("memory limit while the percentage is raised = %d, want %d", l, 80<<20)
	}
	stop()
	if p := readPercent(); p != 100 {
		t.Errorf("after stop: percentage %d, want 100", p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("after stop: memory limit %d", l)
	}
}

// TestBurst: a live heap that jumps while the percentage is raised for a small one never gets
// a goal of the stale percentage times its size (the memory limit holds it), and once the
// collector has seen it, GOGC's rule is back and the limit lifted.
func TestBurst(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	const floor = 8 << 20
	stop := Start(floor)
	defer stop()
	deadline := time.Now().Add(5 * time.Second)
	for readPercent() <= 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	raised := readPercent()
	if raised <= 100 {
		t.Fatalf("percentage not raised: %d", raised)
	}
	var keep [][]byte
	var live uint64
	for range 48 {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = 1 // touched: really held
		}
		keep = append(keep, b)
		live += 1 << 20
		if goal := heapGoal(); goal > 3*live+2*floor {
			t.Fatalf("heap goal %d MiB with %d MiB live (percentage %d)", goal>>20, live>>20, readPercent())
		}
	}
	for readPercent() != 100 && time.Now().Before(deadline.Add(5*time.Second)) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if p := readPercent(); p != 100 {
		t.Errorf("percentage with %d MiB live = %d, want 100", live>>20, p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("memory limit with %d MiB live = %d, want none", live>>20, l)
	}
	runtime.KeepAlive(keep)
}

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestStartGOGCSet: GOGC in the environment decides alone.
func TestStartGOGCSet(t *testing.T) {
	t.Setenv("GOGC", "100")
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	stop := Start(64 << 20)
	defer stop()
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if p := readPercent(); p != 100 {
		t.Errorf("with GOGC set: percentage %d, want 100", p)
	}
}

// readPercent reads the percentage in force without changing it.
func readPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
