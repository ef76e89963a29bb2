package listcache

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/dav/internal/multistatus"
)

// render feeds one rendering of entries through what Lookup returned and reports whether it was
// a hit (and then what it sent).
func render(c *Cache, k Key, entries []string, finish func(*Recorder)) (hit bool, body string) {
	h, r := c.Lookup(k)
	if h != nil {
		rec := httptest.NewRecorder()
		if err := h.Send(multistatus.New(rec)); err != nil {
			panic(err)
		}
		return true, rec.Body.String()
	}
	for _, e := range entries {
		r.Add([]byte(e))
	}
	finish(r)
	return false, ""
}

// TestLookupRecorder drives the API the engine uses: the second rendering of the same state is
// kept and the third is a hit with the same bytes; an aborted rendering, a version that moved
// during the walk, or a write in between keeps nothing.
func TestLookupRecorder(t *testing.T) {
	entries := []string{"<D:response>a</D:response>", "<D:response>b</D:response>"}
	k := Key{Dir: "/d", Shape: "s", Version: 7}
	done := func(r *Recorder) { r.Finish(7, true) }
	for _, tc := range []struct {
		name   string
		second func(*Recorder)
		write  bool
		hit    bool
	}{
		{"complete and unchanged", done, false, true},
		{"aborted", func(r *Recorder) { r.Abort(); r.Finish(7, true) }, false, false},
		{"version moved during the walk", func(r *Recorder) { r.Finish(8, true) }, false, false},
		{"storage cannot vouch after the walk", func(r *Recorder) { r.Finish(7, false) }, false, false},
		{"a write to a member in between", done, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(time.Now)
			render(c, k, entries, done) // first sight: not collected
			second := tc.second
			if tc.write {
				second = func(r *Recorder) { c.WriteDone(c.WriteStarted([]Scope{{Path: "/d/x"}})); done(r) }
			}
			if hit, _ := render(c, k, entries, second); hit {
				t.Fatal("second rendering was a hit")
			}
			hit, body := render(c, k, entries, done)
			if hit != tc.hit {
				t.Fatalf("third rendering hit = %v, want %v", hit, tc.hit)
			}
			if hit && !strings.Contains(body, strings.Join(entries, "")) {
				t.Errorf("hit sent %q", body)
			}
		})
	}
	// Nothing is wanted of a request the cache is not collecting: a nil Recorder is fed safely.
	var r *Recorder
	r.Add([]byte("x"))
	r.Abort()
	r.Finish(1, true)
}
