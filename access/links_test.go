package access

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/davd/davd/davpath"
)

// fakeLinks resolves paths through a table of links (link path → target path), counting calls.
type fakeLinks struct {
	links map[davpath.Path]davpath.Path
	calls int
}

func (f *fakeLinks) Resolve(_ context.Context, p davpath.Path) (davpath.Path, error) {
	f.calls++
	if strings.Contains(string(p), "/loop") {
		return "", errors.New("loop")
	}
	for link, target := range f.links {
		if link.Contains(p) {
			return p.Rebase(link, target), nil
		}
	}
	return p, nil
}

// TestThroughLinks: with links, a path is allowed only when both it and the location it leads
// to are, for every op (issue 12, finding 6); principals whose rules cannot be crossed are not
// resolved at all.
func TestThroughLinks(t *testing.T) {
	rules, err := NewRules(map[string]UserRules{
		"a":     {Default: PermWrite, Rules: []Rule{{Prefix: "/secret", Perm: PermNone}, {Prefix: "/ro", Perm: PermRead}}},
		"bob":   {Default: PermWrite, Rules: []Rule{{Prefix: "/alice", Perm: PermNone}}},
		"plain": {Default: PermWrite},
		"root":  {Default: PermNone, Rules: []Rule{{Prefix: "/", Perm: PermRead}}},
		"same":  {Default: PermRead, Rules: []Rule{{Prefix: "/x", Perm: PermRead}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	res := &fakeLinks{links: map[davpath.Path]davpath.Path{
		"/pub/link":       "/secret",
		"/slink":          "/secret",
		"/bobdir/toalice": "/alice",
		"/pub/rolink":     "/ro",
		"/secret/out":     "/pub", // a link inside a denied tree to an allowed one
	}}
	pol := rules.ThroughLinks(res)
	ctx := context.Background()
	for _, tt := range []struct {
		principal string
		op        Op
		p         davpath.Path
		want      bool
	}{
		{"a", Read, "/pub/link/s.txt", false},
		{"a", Read, "/pub/link", false},
		{"a", Write, "/slink/new.txt", false},
		{"a", Write, "/slink/s.txt", false},
		{"a", Write, "/slink", false}, // the link itself is worth its target
		{"a", Read, "/pub/rolink/f", true},
		{"a", Write, "/pub/rolink/f", false},
		{"a", Read, "/secret/out/x", false}, // the request path is denied
		{"a", Read, "/pub/other", true},
		{"a", Write, "/pub/other", true},
		{"a", Read, "/pub/loop", false}, // unresolvable: refused
		{"bob", Read, "/bobdir/toalice/f", false},
		{"bob", Write, "/bobdir/toalice/f", false},
		{"bob", Read, "/bobdir/f", true},
		{"plain", Write, "/slink/s.txt", true}, // nothing to cross
		{"mallory", Read, "/pub", false},
	} {
		if got := pol.Allow(ctx, tt.principal, tt.op, tt.p); got != tt.want {
			t.Errorf("Allow(%s, %v, %s) = %v, want %v", tt.principal, tt.op, tt.p, got, tt.want)
		}
	}
	res.calls = 0
	for _, name := range []string{"plain", "root", "same"} {
		pol.Allow(ctx, name, Read, "/slink/s.txt")
	}
	if res.calls != 0 {
		t.Errorf("principals whose rules cannot be crossed were resolved %d times", res.calls)
	}
	uniform, err := NewRules(map[string]UserRules{"plain": {Default: PermWrite}, "same": {Default: PermRead, Rules: []Rule{{Prefix: "/x", Perm: PermRead}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := uniform.ThroughLinks(res); got != Policy(uniform) {
		t.Errorf("ThroughLinks without crossable rules = %T, want the rules themselves", got)
	}
}
