package listcache

import (
	"strings"
	"testing"
	"time"
)

// TestListingCacheRefusesRenderingsOverlappedByWrites drives the cache directly: a write that
// starts and ends while a rendering is being made must keep that rendering out, whether or not
// it concerns the collection decides.
func TestListingCacheRefusesRenderingsOverlappedByWrites(t *testing.T) {
	var body chunks
	body.append([]byte("<D:response/>"))
	for _, c := range []struct {
		name  string
		scope Scope
		kept  bool
	}{
		{"write to a member", Scope{Path: "/d/f"}, false},
		{"write to the collection itself", Scope{Path: "/d"}, false},
		{"recursive write above", Scope{Path: "/", Recursive: true}, false},
		{"write to a sibling collection's member", Scope{Path: "/e/f"}, true},
		{"write to a grandchild", Scope{Path: "/d/sub/x"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			lc := New(time.Now)
			lc.get("/d", "s", 1)      // first sight
			l := lc.get("/d", "s", 1) // second: admitted, rendering starts at l.seq
			if !l.admit {
				t.Fatal("second rendering of the same state not admitted")
			}
			lc.WriteDone(lc.WriteStarted([]Scope{c.scope}))
			lc.get("/d", "s", 1) // another request meanwhile: the collection is tracked again
			lc.put("/d", "s", 1, l.seq, time.Now(), body)
			if hit := lc.get("/d", "s", 1).hit; hit != c.kept {
				t.Fatalf("rendering kept = %v, want %v", hit, c.kept)
			}
		})
	}
}

// TestListingCacheBudget: renderings of the same collection in two shapes share the budget, a
// new one makes room by evicting, and the accounting returns to zero.
func TestListingCacheBudget(t *testing.T) {
	lc := New(time.Now)
	lc.max = 3 * chunkSize
	render := func(n int) chunks {
		var c chunks
		for i := 0; i < n; i++ {
			c.append(make([]byte, chunkSize))
		}
		return c
	}
	keep := func(shape string, n int) {
		lc.get("/d", shape, 1)
		l := lc.get("/d", shape, 1)
		if !l.admit {
			t.Fatalf("%s not admitted", shape)
		}
		lc.put("/d", shape, 1, l.seq, time.Now(), render(n))
	}
	hit := func(shape string) bool { return lc.get("/d", shape, 1).hit }
	keep("allprop", 2)
	keep("props", 1)
	if !hit("allprop") || !hit("props") {
		t.Fatal("two shapes that fit together are not both kept")
	}
	keep("propname", 2)
	if !hit("propname") {
		t.Fatal("a new rendering did not make room")
	}
	if lc.bytes > lc.max {
		t.Fatalf("over budget: %d > %d", lc.bytes, lc.max)
	}
	lc.WriteDone(lc.WriteStarted([]Scope{{Path: "/d"}}))
	if lc.bytes != 0 {
		t.Fatalf("accounting after dropping everything: %d", lc.bytes)
	}
}

// TestListingCacheVerifiesAgedRenderings: an aged rendering is handed to one request to render
// anew and compare, the others are still served from it, and nothing is copied meanwhile. Only
// an identical rendering keeps it; a difference or a write in between drops it.
func TestListingCacheVerifiesAgedRenderings(t *testing.T) {
	for _, c := range []struct {
		name  string
		same  bool
		write bool
		kept  bool
	}{
		{"identical", true, false, true},
		{"different", false, false, false},
		{"a write to a member in between", true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := time.Unix(1e9, 0)
			lc := New(func() time.Time { return clock })
			var body chunks
			body.append([]byte("<D:response>a</D:response>"))
			lc.get("/d", "s", 1)
			lc.put("/d", "s", 1, lc.get("/d", "s", 1).seq, clock, body)
			mem := lc.bytes
			clock = clock.Add(cacheMaxAge + time.Millisecond)
			v := lc.get("/d", "s", 1)
			if v.verify == nil || v.hit || v.admit {
				t.Fatalf("aged rendering not handed out for verification: %+v", v)
			}
			if o := lc.get("/d", "s", 1); !o.hit || o.verify != nil {
				t.Fatal("another request is not served from the aged rendering while it is verified")
			}
			if lc.bytes != mem {
				t.Fatalf("verification holds memory: %d bytes, was %d", lc.bytes, mem)
			}
			if c.write {
				lc.WriteDone(lc.WriteStarted([]Scope{{Path: "/d/x"}}))
			}
			lc.renew("/d", "s", 1, v.seq, v.verify, c.same)
			if l := lc.get("/d", "s", 1); l.hit != c.kept || l.verify != nil {
				t.Fatalf("after renew: hit %v verify %v, want hit %v", l.hit, l.verify != nil, c.kept)
			}
			if !c.kept && lc.bytes != 0 {
				t.Fatalf("a dropped rendering is still counted: %d bytes", lc.bytes)
			}
		})
	}
}

// TestVerifier: the comparison does not depend on how the kept and the new renderings are cut
// into pieces, and only the exact same bytes, all of them, count as the same.
func TestVerifier(t *testing.T) {
	var kept chunks
	kept.append([]byte("<a>" + longValue + "<b>"))
	kept.append([]byte("<c>"))
	whole := "<a>" + longValue + "<b><c>"
	for _, c := range []struct {
		name string
		feed []string
		same bool
	}{
		{"in one piece", []string{whole}, true},
		{"in other pieces", []string{"<", "a>" + longValue[:5], longValue[5:] + "<b><c", ">"}, true},
		{"unfinished", []string{whole[:len(whole)-1]}, false},
		{"longer", []string{whole, "x"}, false},
		{"one byte differs", []string{strings.Replace(whole, "<b>", "<B>", 1)}, false},
		{"nothing", nil, false},
	} {
		v := verifier{list: kept.list}
		for _, f := range c.feed {
			v.feed([]byte(f))
		}
		if v.same() != c.same {
			t.Errorf("%s: same = %v", c.name, v.same())
		}
	}
}

// longValue is a rendered value long enough to be cut anywhere (the supportedlock value).
const longValue = supportedLock
