package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/davd/davd/davpath"
)

// Bounds of one search, so that a search of a huge tree costs a bounded amount of work and
// memory whatever it matches.
const (
	searchMaxResults = 500
	searchMaxVisited = 50000
	searchMaxTerm    = 200
)

// Hit is one search result: an Entry, with its path relative to the searched folder.
type Hit struct {
	Entry
	// Path is the member's path below the searched folder, unescaped ("2026/cat.jpg").
	Path string `json:"path"`
}

// searchEnd is the last line of a search's answer.
type searchEnd struct {
	// Done marks the last line; Truncated reports that the search stopped at a bound (or the
	// client left) before seeing the whole tree.
	Done      bool `json:"done"`
	Truncated bool `json:"truncated"`
	Visited   int  `json:"visited"`
}

// serveSearch answers GET DIR/?search=TERM: the members of p and below whose names contain TERM
// (case-insensitively), as newline-delimited JSON (one Hit per line, then a searchEnd line),
// written while the tree is walked breadth-first. Members the principal may not read are
// neither listed nor entered, symbolic links to folders are not entered, and the walk stops at
// the bounds above or when the client goes away.
func (u *UI) serveSearch(w http.ResponseWriter, r *http.Request, p davpath.Path, term string) {
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	if len(term) > searchMaxTerm {
		term = term[:searchMaxTerm]
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	ctx := r.Context()
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	end := u.search(ctx, p, strings.ToLower(term), func(hit Hit) {
		enc.Encode(hit)
		rc.Flush()
	})
	end.Done = true
	enc.Encode(end)
}

func (u *UI) search(ctx context.Context, base davpath.Path, term string, emit func(Hit)) searchEnd {
	var end searchEnd
	found := 0
	queue := []davpath.Path{base}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		for info, err := range u.b.List(ctx, dir) {
			if err != nil || ctx.Err() != nil {
				break
			}
			if !davpath.ValidName(info.Name) {
				continue
			}
			end.Visited++
			if end.Visited > searchMaxVisited {
				end.Truncated = true
				return end
			}
			child := dir.Join(info.Name)
			if u.opt.Visible != nil && !u.opt.Visible(ctx, child) {
				continue
			}
			if info.IsDir && !info.Link {
				queue = append(queue, child)
			}
			if term != "" && !strings.Contains(strings.ToLower(info.Name), term) {
				continue
			}
			emit(Hit{Entry: u.entryOf(ctx, child, info), Path: child.Rebase(base, davpath.Root).String()[1:]})
			if found++; found >= searchMaxResults {
				end.Truncated = true
				return end
			}
		}
		if ctx.Err() != nil {
			end.Truncated = true
			return end
		}
	}
	return end
}
