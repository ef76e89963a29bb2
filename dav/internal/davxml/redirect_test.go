package davxml

import (
	"errors"
	"strings"
	"testing"
)

// TestRFC4437_6_MkRedirectRefBody checks the MKREDIRECTREF body grammar of RFC 4437 §6.
func TestRFC4437_6_MkRedirectRefBody(t *testing.T) {
	lim := Limits{}
	rr, err := ParseMkRedirectRef(strings.NewReader(`<?xml version="1.0"?><D:mkredirectref xmlns:D="DAV:"><D:reftarget><D:href> /x/y </D:href></D:reftarget><D:redirect-lifetime><D:permanent/></D:redirect-lifetime></D:mkredirectref>`), lim)
	if err != nil || rr.Target != "/x/y" || !rr.Permanent || !rr.HasLifetime {
		t.Fatalf("got %+v, %v", rr, err)
	}
	rr, err = ParseMkRedirectRef(strings.NewReader(`<mkredirectref xmlns="DAV:"><reftarget><href>http://e.org/a</href></reftarget><x xmlns="urn:x"/></mkredirectref>`), lim)
	if err != nil || rr.Target != "http://e.org/a" || rr.Permanent || rr.HasLifetime {
		t.Fatalf("got %+v, %v", rr, err)
	}
	for _, bad := range []string{
		`<mkredirectref xmlns="DAV:"/>`,
		`<mkredirectref xmlns="DAV:"><reftarget/></mkredirectref>`,
		`<mkredirectref xmlns="DAV:"><reftarget><href></href></reftarget></mkredirectref>`,
		`<mkredirectref xmlns="DAV:"><reftarget><href>a</href></reftarget><reftarget><href>b</href></reftarget></mkredirectref>`,
		`<mkredirectref xmlns="DAV:"><reftarget><href>a</href></reftarget><redirect-lifetime/></mkredirectref>`,
		`<mkredirectref xmlns="DAV:"><reftarget><href>a</href></reftarget><redirect-lifetime><temporary/><permanent/></redirect-lifetime></mkredirectref>`,
		`<updateredirectref xmlns="DAV:"><reftarget><href>a</href></reftarget></updateredirectref>`,
	} {
		if _, err := ParseMkRedirectRef(strings.NewReader(bad), lim); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := ParseMkRedirectRef(strings.NewReader(""), lim); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty body: err %v, want ErrMalformed", err)
	}
}

// TestRFC4437_7_UpdateRedirectRefBody checks the UPDATEREDIRECTREF body grammar of RFC 4437 §7.
func TestRFC4437_7_UpdateRedirectRefBody(t *testing.T) {
	rr, err := ParseUpdateRedirectRef(strings.NewReader(`<updateredirectref xmlns="DAV:"><redirect-lifetime><temporary/></redirect-lifetime></updateredirectref>`), Limits{})
	if err != nil || rr.HasTarget || !rr.HasLifetime || rr.Permanent {
		t.Fatalf("got %+v, %v", rr, err)
	}
	if _, err := ParseUpdateRedirectRef(strings.NewReader(`<updateredirectref xmlns="DAV:"/>`), Limits{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty update: err %v, want ErrInvalid", err)
	}
}

// FuzzRedirectRef feeds arbitrary bodies to both RFC 4437 body parsers: they must return a
// result or one of the parse errors, never panic, and keep within the limits.
func FuzzRedirectRef(f *testing.F) {
	f.Add([]byte(`<D:mkredirectref xmlns:D="DAV:"><D:reftarget><D:href>/a</D:href></D:reftarget><D:redirect-lifetime><D:permanent/></D:redirect-lifetime></D:mkredirectref>`))
	f.Add([]byte(`<updateredirectref xmlns="DAV:"><reftarget><href>http://e.org/</href></reftarget></updateredirectref>`))
	seed(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rr, err := ParseMkRedirectRef(strings.NewReader(string(body)), fuzzLimits)
		checkErr(t, body, err)
		if err == nil && rr.Target == "" {
			t.Fatalf("accepted an mkredirectref without a target: %q", body)
		}
		_, err = ParseUpdateRedirectRef(strings.NewReader(string(body)), fuzzLimits)
		checkErr(t, body, err)
	})
}
