// Package sharetest checks a share.Store implementation.
package sharetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/share"
)

// TestStore runs the contract of share.Store on stores made by open. reopen, when not nil,
// returns a store over the same state (a restart, or another node), which must see the same
// links; the test goes on with it.
func TestStore(t *testing.T, open func(t *testing.T) share.Store, reopen func(t *testing.T, s share.Store) share.Store) {
	ctx := context.Background()
	s := open(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	a := share.Link{Token: share.NewToken(), Owner: "alice", Path: "/home/alice/docs", Dir: true, Kind: share.Read, Created: now}
	// A name that is not valid UTF-8 must survive the record's encoding byte for byte.
	b := share.Link{Token: share.NewToken(), Owner: "alice", Path: "/home/alice/caf\xe9.txt", Kind: share.Read, Created: now, Expires: now.Add(time.Hour), PasswordHash: "$2a$10$abcdefghijklmnopqrstuv"}
	c := share.Link{Token: share.NewToken(), Owner: "bob", Path: davpath.Root, Dir: true, Kind: share.Upload, Created: now}
	for _, l := range []share.Link{a, b, c} {
		if err := s.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Create(ctx, share.Link{Token: a.Token, Owner: "mallory", Path: "/", Dir: true, Kind: share.Upload, Created: now}); err == nil {
		t.Error("Create with a token in use succeeded")
	}
	check := func(s share.Store) {
		t.Helper()
		for _, want := range []share.Link{a, b, c} {
			got, err := s.Get(ctx, want.Token)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) {
				t.Errorf("Get times: %v %v, want %v %v", got.Created, got.Expires, want.Created, want.Expires)
			}
			got.Created, got.Expires = want.Created, want.Expires
			if got != want {
				t.Errorf("Get: %+v, want %+v", got, want)
			}
		}
		ls, err := s.List(ctx, "alice")
		if err != nil || len(ls) != 2 {
			t.Errorf("List alice: %d links, %v", len(ls), err)
		}
		for _, l := range ls {
			if l.Owner != "alice" {
				t.Errorf("List alice returned %+v", l)
			}
		}
	}
	check(s)
	if reopen != nil {
		s = reopen(t, s)
		check(s)
	}
	if _, err := s.Get(ctx, share.NewToken()); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("Get of an unknown token: %v", err)
	}
	if err := s.Delete(ctx, a.Token); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, a.Token); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := s.Get(ctx, a.Token); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if reopen != nil {
		s = reopen(t, s)
		if _, err := s.Get(ctx, a.Token); !errors.Is(err, share.ErrNotFound) {
			t.Errorf("Get after Delete, reopened: %v", err)
		}
	}
	if ls, _ := s.List(ctx, "alice"); len(ls) != 1 || ls[0].Token != b.Token {
		t.Errorf("List after Delete: %+v", ls)
	}
}
