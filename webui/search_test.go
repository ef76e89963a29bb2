package webui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// searchLines runs a search and returns its hits and its last line.
func searchLines(t *testing.T, u *UI, target string, p davpath.Path) ([]Hit, searchEnd) {
	t.Helper()
	w := serve(t, u, "GET", target, p, nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("search: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var hits []Hit
	var end searchEnd
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		line := sc.Bytes()
		if strings.Contains(string(line), `"done":true`) {
			if err := json.Unmarshal(line, &end); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var h Hit
		if err := json.Unmarshal(line, &h); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		hits = append(hits, h)
	}
	if !end.Done {
		t.Fatalf("no last line in:\n%s", w.Body)
	}
	return hits, end
}

func TestSearch(t *testing.T) {
	fsys := testFS()
	fsys.dirs["/a dir"] = []storage.Info{{Name: "sub%20dir", IsDir: true}, {Name: "secret", IsDir: true}, {Name: "loop", IsDir: true, Link: true}}
	fsys.dirs["/a dir/secret"] = []storage.Info{{Name: "x-secret.go"}}
	fsys.dirs["/a dir/loop"] = []storage.Info{{Name: "x-through-link.go"}}
	u := New(fsys, Options{Prefix: "/dav", Visible: func(_ context.Context, p davpath.Path) bool {
		return !strings.Contains(string(p), "secret")
	}})
	hits, end := searchLines(t, u, "/dav/?search=X.GO", davpath.Root)
	if end.Truncated || len(hits) != 1 {
		t.Fatalf("hits %+v, end %+v", hits, end)
	}
	if h := hits[0]; h.Path != "a dir/sub%20dir/x.go" || h.Href != "/dav/a%20dir/sub%2520dir/x.go" || h.Name != "x.go" {
		t.Errorf("hit %+v", h)
	}
	// Below a folder, paths are relative to it; an empty term lists everything visible.
	hits, _ = searchLines(t, u, "/dav/a%20dir/?search=", "/a dir")
	var paths []string
	for _, h := range hits {
		paths = append(paths, h.Path)
	}
	if got := strings.Join(paths, ","); got != "sub%20dir,loop,sub%20dir/x.go" {
		t.Errorf("paths %s (the hidden folder and what lies through the link must not appear)", got)
	}
	// The engine hands a search to the browser view whatever the Accept header.
	if !Wants(httptest.NewRequest("GET", "/?search=x", nil)) {
		t.Error("Wants(?search=)")
	}
}

func TestSearchBounded(t *testing.T) {
	fsys := &fakeFS{dirs: map[davpath.Path][]storage.Info{}}
	var root []storage.Info
	for i := range 700 {
		root = append(root, storage.Info{Name: fmt.Sprintf("match-%03d", i)})
	}
	fsys.dirs["/"] = root
	u := New(fsys, Options{})
	hits, end := searchLines(t, u, "/?search=match", davpath.Root)
	if len(hits) != searchMaxResults || !end.Truncated {
		t.Errorf("%d hits, end %+v", len(hits), end)
	}
	// A tree larger than the walk's bound stops there, matching or not.
	var many []storage.Info
	for i := range searchMaxVisited + 10 {
		many = append(many, storage.Info{Name: fmt.Sprintf("f%d", i)})
	}
	fsys.dirs["/"] = many
	hits, end = searchLines(t, u, "/?search=zzz", davpath.Root)
	if len(hits) != 0 || !end.Truncated || end.Visited != searchMaxVisited+1 {
		t.Errorf("%d hits, end %+v", len(hits), end)
	}
}
