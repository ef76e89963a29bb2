package access

import (
	"context"
	"testing"

	"github.com/davd/davd/davpath"
)

func TestRules(t *testing.T) {
	pol, err := NewRules(map[string]UserRules{
		"alice": {Default: PermWrite, Rules: []Rule{
			{Prefix: "/secret", Perm: PermNone},
			{Prefix: "/secret/shared", Perm: PermRead},
			{Prefix: "/pub", Perm: PermRead},
		}},
		"bob": {Default: PermRead},
		"":    {Default: PermNone, Rules: []Rule{{Prefix: "/pub", Perm: PermRead}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name      string
		principal string
		op        Op
		path      davpath.Path
		want      bool
	}{
		{"default write", "alice", Write, "/a/b", true},
		{"root write", "alice", Write, "/", true},
		{"denied prefix itself", "alice", Read, "/secret", false},
		{"denied below prefix", "alice", Read, "/secret/x", false},
		{"hole in denied tree", "alice", Read, "/secret/shared/x", true},
		{"hole is read-only", "alice", Write, "/secret/shared/x", false},
		{"whole segments: /secretive is not /secret", "alice", Write, "/secretive", true},
		{"whole segments: /public is not /pub", "alice", Write, "/public", true},
		{"read-only rule", "alice", Write, "/pub/f", false},
		{"read-only rule reads", "alice", Read, "/pub/f", true},
		{"read-only user reads", "bob", Read, "/x", true},
		{"read-only user cannot write", "bob", Write, "/x", false},
		{"unknown principal", "mallory", Read, "/", false},
		{"anonymous rule", "", Read, "/pub/a", true},
		{"anonymous default", "", Read, "/", false},
		{"anonymous no write", "", Write, "/pub/a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pol.Allow(ctx, tt.principal, tt.op, tt.path); got != tt.want {
				t.Errorf("Allow(%q, %v, %q) = %v, want %v", tt.principal, tt.op, tt.path, got, tt.want)
			}
		})
	}
}

func TestNewRulesRejects(t *testing.T) {
	for _, rs := range [][]Rule{
		{{Prefix: "pub", Perm: PermRead}},
		{{Prefix: "/pub/", Perm: PermRead}},
		{{Prefix: "/a/../b", Perm: PermRead}},
		{{Prefix: "/a", Perm: PermRead}, {Prefix: "/a", Perm: PermNone}},
	} {
		if _, err := NewRules(map[string]UserRules{"u": {Rules: rs}}); err == nil {
			t.Errorf("NewRules(%v): no error", rs)
		}
	}
}

func TestParsePerm(t *testing.T) {
	for in, want := range map[string]Perm{"none": PermNone, "read": PermRead, "ro": PermRead, "read-only": PermRead, "write": PermWrite, "rw": PermWrite, "read-write": PermWrite} {
		if got, err := ParsePerm(in); err != nil || got != want {
			t.Errorf("ParsePerm(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParsePerm("admin"); err == nil {
		t.Error("ParsePerm(admin): no error")
	}
}

// TestReadsAll: WholeReader is true only when no path can be refused for reading: a default and
// rules of at least read, and, through links, only for principals whose paths are not resolved.
func TestReadsAll(t *testing.T) {
	r, err := NewRules(map[string]UserRules{
		"w":      {Default: PermWrite},
		"ro":     {Default: PermRead, Rules: []Rule{{Prefix: "/up", Perm: PermWrite}}},
		"hole":   {Default: PermWrite, Rules: []Rule{{Prefix: "/secret", Perm: PermNone}}},
		"opened": {Default: PermNone, Rules: []Rule{{Prefix: "/", Perm: PermRead}}},
		"none":   {Default: PermNone},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"w": true, "ro": true, "hole": false, "opened": true, "none": false, "stranger": false}
	for name, w := range want {
		if got := r.ReadsAll(name); got != w {
			t.Errorf("Rules.ReadsAll(%q) = %v, want %v", name, got, w)
		}
	}
	// Through links, "ro" (read and write differ: crossable) may meet a link that cannot be
	// resolved, which is refused: it no longer reads all. "w" is not resolved at all.
	l := r.ThroughLinks(&fakeLinks{}).(WholeReader)
	for name, w := range map[string]bool{"w": true, "ro": false, "hole": false, "opened": true} {
		if got := l.ReadsAll(name); got != w {
			t.Errorf("ThroughLinks.ReadsAll(%q) = %v, want %v", name, got, w)
		}
	}
	if !(AllowAll{}).ReadsAll("anyone") {
		t.Error("AllowAll does not read all")
	}
}
