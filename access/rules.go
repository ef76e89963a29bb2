package access

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/davd/davd/davpath"
)

// Perm is a level of access: none, read-only, or read-write (which implies read).
type Perm uint8

// Levels of access, ordered: a higher level includes the lower ones.
const (
	PermNone Perm = iota
	PermRead
	PermWrite
)

// ParsePerm parses the configuration spelling of a Perm: "none", "read" (or "read-only", "ro")
// and "write" (or "read-write", "rw").
func ParsePerm(s string) (Perm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "deny":
		return PermNone, nil
	case "read", "read-only", "ro":
		return PermRead, nil
	case "write", "read-write", "rw":
		return PermWrite, nil
	}
	return 0, fmt.Errorf("access: unknown permission %q (want none, read or write)", s)
}

// String returns the configuration spelling of p.
func (p Perm) String() string {
	switch p {
	case PermNone:
		return "none"
	case PermRead:
		return "read"
	case PermWrite:
		return "write"
	}
	return fmt.Sprintf("Perm(%d)", uint8(p))
}

// allows reports whether p grants op.
func (p Perm) allows(op Op) bool {
	switch op {
	case Read:
		return p >= PermRead
	case Write:
		return p >= PermWrite
	}
	return false
}

// Rule sets the permission of everything under Prefix (the prefix itself included). Prefixes
// match whole segments only: a rule for "/pub" applies to "/pub" and "/pub/x", never to "/public".
type Rule struct {
	Prefix davpath.Path
	Perm   Perm
}

// UserRules is the access of one principal: Default applies where no rule matches; otherwise
// the rule with the longest matching prefix wins, so a rule can open a hole in a denied tree or
// close one in an allowed tree.
type UserRules struct {
	Default Perm
	Rules   []Rule
}

// Rules is the Policy of a server with configured users. Paths are those the dav engine sees,
// that is, as seen by the principal (inside its scope, if it has one). A principal that is not in
// the table (including the anonymous principal "" unless it was added) is denied everything.
// A Rules value is immutable once built and safe for concurrent use.
type Rules struct {
	users map[string]UserRules
}

// NewRules builds a Policy from per-principal rules. The key "" holds the anonymous principal's
// rules, when anonymous access is enabled. Rules are copied and sorted so that evaluation stops at
// the most specific match; two rules for the same prefix are an error.
func NewRules(users map[string]UserRules) (*Rules, error) {
	r := &Rules{users: make(map[string]UserRules, len(users))}
	for name, u := range users {
		rs := slices.Clone(u.Rules)
		for _, x := range rs {
			if x.Prefix == "" || x.Prefix[0] != '/' {
				return nil, fmt.Errorf("access: user %q: rule prefix %q is not a canonical path", name, x.Prefix)
			}
			if p, err := davpath.Parse(x.Prefix.Escape("", false), ""); err != nil || p != x.Prefix {
				return nil, fmt.Errorf("access: user %q: rule prefix %q is not a canonical path", name, x.Prefix)
			}
		}
		// Deepest prefixes first: the first match is the most specific one.
		slices.SortStableFunc(rs, func(a, b Rule) int { return b.Prefix.Depth() - a.Prefix.Depth() })
		for i := 1; i < len(rs); i++ {
			for j := range i {
				if rs[i].Prefix == rs[j].Prefix {
					return nil, fmt.Errorf("access: user %q: two rules for %s", name, rs[i].Prefix)
				}
			}
		}
		r.users[name] = UserRules{Default: u.Default, Rules: rs}
	}
	return r, nil
}

// Allow implements Policy.
func (r *Rules) Allow(_ context.Context, principal string, op Op, p davpath.Path) bool {
	u, ok := r.users[principal]
	if !ok {
		return false
	}
	return u.Perm(p).allows(op)
}

// ReadsAll implements WholeReader: true when the principal's default and every rule grant at
// least read.
func (r *Rules) ReadsAll(principal string) bool {
	u, ok := r.users[principal]
	return ok && u.readsAll()
}

// readsAll reports whether u grants read everywhere.
func (u UserRules) readsAll() bool {
	if u.Perm(davpath.Root) < PermRead { // a rule for "/" is the default of everything
		return false
	}
	for _, x := range u.Rules {
		if x.Perm < PermRead {
			return false
		}
	}
	return true
}

// Perm returns the permission u grants on p.
func (u UserRules) Perm(p davpath.Path) Perm {
	for _, x := range u.Rules {
		if x.Prefix.Contains(p) {
			return x.Perm
		}
	}
	return u.Default
}

// DenyAll is the policy of a handler that must never touch content (it answers only OPTIONS
// for unauthenticated clients).
type DenyAll struct{}

// Allow always returns false.
func (DenyAll) Allow(context.Context, string, Op, davpath.Path) bool { return false }

// Compile-time interface guards.
var (
	_ Policy      = (*Rules)(nil)
	_ Policy      = DenyAll{}
	_ Policy      = AllowAll{}
	_ WholeReader = (*Rules)(nil)
	_ WholeReader = AllowAll{}
)
