package dav

import "testing"

// TestListingCacheRefusesRenderingsOverlappedByWrites drives the cache directly: a write that
// starts and ends while a rendering is being made must keep that rendering out, whether or not
// it concerns the collection decides.
func TestListingCacheRefusesRenderingsOverlappedByWrites(t *testing.T) {
	var body chunks
	body.append([]byte("<D:response/>"))
	for _, c := range []struct {
		name  string
		scope writeScope
		kept  bool
	}{
		{"write to a member", writeScope{Path: "/d/f"}, false},
		{"write to the collection itself", writeScope{Path: "/d"}, false},
		{"recursive write above", writeScope{Path: "/", Recursive: true}, false},
		{"write to a sibling collection's member", writeScope{Path: "/e/f"}, true},
		{"write to a grandchild", writeScope{Path: "/d/sub/x"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			lc := newListingCache()
			lc.get("/d", "s", 1)                     // first sight
			_, _, admit, seq := lc.get("/d", "s", 1) // second: admitted, rendering starts at seq
			if !admit {
				t.Fatal("second rendering of the same state not admitted")
			}
			lc.writeDone(lc.writeStarted([]writeScope{c.scope}))
			lc.get("/d", "s", 1) // another request meanwhile: the collection is tracked again
			lc.put("/d", "s", 1, seq, body)
			_, hit, _, _ := lc.get("/d", "s", 1)
			if hit != c.kept {
				t.Fatalf("rendering kept = %v, want %v", hit, c.kept)
			}
		})
	}
}

// TestListingCacheBudget: renderings of the same collection in two shapes share the budget, a
// new one makes room by evicting, and the accounting returns to zero.
func TestListingCacheBudget(t *testing.T) {
	lc := newListingCache()
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
		_, _, admit, seq := lc.get("/d", shape, 1)
		if !admit {
			t.Fatalf("%s not admitted", shape)
		}
		lc.put("/d", shape, 1, seq, render(n))
	}
	hit := func(shape string) bool { _, h, _, _ := lc.get("/d", shape, 1); return h }
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
	lc.writeDone(lc.writeStarted([]writeScope{{Path: "/d"}}))
	if lc.bytes != 0 {
		t.Fatalf("accounting after dropping everything: %d", lc.bytes)
	}
}
