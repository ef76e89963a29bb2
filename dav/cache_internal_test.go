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
