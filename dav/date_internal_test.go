package dav

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendDate: the hand-written formatting of getlastmodified and creationdate is exactly
// time's, for any instant and zone, including years that fall back to the general formatter.
func TestAppendDate(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("east", 14*3600), time.FixedZone("west", -12*3600-1800)}
	times := []time.Time{
		time.Unix(0, 0), time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(999, 6, 7, 8, 9, 10, 0, time.UTC),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		times = append(times, time.Unix(r.Int64N(1<<37)-1<<36, r.Int64N(1e9)))
	}
	for _, tm := range times {
		for _, z := range zones {
			tz := tm.In(z)
			for _, layout := range []string{layoutHTTP, layoutISO, time.RFC850} {
				if got, want := string(appendDate(nil, tz, layout)), tz.UTC().Format(layout); got != want {
					t.Fatalf("%v in %q: got %q, want %q", tm, layout, got, want)
				}
			}
		}
	}
}
