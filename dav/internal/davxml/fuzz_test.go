package davxml

import (
	"bytes"
	"errors"
	"testing"
)

var fuzzSeeds = []string{
	``,
	`<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop xmlns:R="http://ns.example.com/boxschema/"><R:bigbox/><R:author/></D:prop></D:propfind>`,
	`<propfind xmlns="DAV:"><propname/></propfind>`,
	`<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:supported-report-set/></D:include></D:propfind>`,
	`<propfind xmlns="DAV:"><prop><getcontentlength/><foo xmlns=""/><bar xmlns="http://example.com/neon/litmus/"/></prop></propfind>`,
	`<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/standards/z39.50/"><D:set><D:prop><Z:Authors><Z:Author>Jim Whitehead</Z:Author></Z:Authors></D:prop></D:set><D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove></D:propertyupdate>`,
	`<propertyupdate xmlns="DAV:"><set><prop><valnspace xmlns="http://example.com/neon/litmus/"><foo>bar</foo></valnspace></prop></set></propertyupdate>`,
	`<D:propertyupdate xmlns:D="DAV:" xml:lang="en"><D:set><D:prop xmlns:x="urn:x"><x:a x:at="1" b='"'>hi &amp; <![CDATA[<>]]><!--c--><y xmlns="urn:y"><z/></y></x:a><nullns xmlns=""><foo/></nullns></D:prop></D:set></D:propertyupdate>`,
	"<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><x:u xmlns:x=\"urn:x\" xml:lang=\"de\">\U0001F600 caf\u00e9\r\n&#xD;</x:u></D:prop></D:set></D:propertyupdate>",
	`<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://example.org/~ejw/contact.html</D:href></D:owner></D:lockinfo>`,
	`<lockinfo xmlns='DAV:'><lockscope><shared/></lockscope><locktype><write/></locktype><owner>litmus test suite</owner></lockinfo>`,
	`<!DOCTYPE x [<!ENTITY a "b">]><D:lockinfo xmlns:D="DAV:"/>`,
	`<D:propfind xmlns:D="DAV:"><D:prop xmlns:ns1=""><D:getetag/></D:prop></D:propfind>`,
	`<D:propfind><D:allprop/></D:propfind>`,
}

// fuzzLimits are small, so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxBytes: 4096, MaxDepth: 8, MaxProps: 16}

func seed(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
}

// checkErr fails unless err is nil or one of the three parse errors.
func checkErr(t *testing.T, body []byte, err error) {
	t.Helper()
	if err == nil {
		if int64(len(body)) > fuzzLimits.MaxBytes {
			t.Fatalf("accepted a body of %d bytes over the limit", len(body))
		}
		return
	}
	if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalid) {
		t.Fatalf("unclassified error %v", err)
	}
	// A body within the limit is never "too large"; one over it is refused, as too large or,
	// when a syntax error comes first, as malformed (both leave nothing changed).
	if errors.Is(err, ErrTooLarge) && int64(len(body)) <= fuzzLimits.MaxBytes {
		t.Fatalf("ErrTooLarge for a body of %d bytes, within the limit", len(body))
	}
}

func FuzzPropfind(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		pf, err := ParsePropfind(bytes.NewReader(body), fuzzLimits)
		checkErr(t, body, err)
		if err != nil {
			return
		}
		if len(pf.Props)+len(pf.Include) > fuzzLimits.MaxProps {
			t.Fatalf("%d names over the limit", len(pf.Props)+len(pf.Include))
		}
		if pf.Kind != Prop && len(pf.Props) > 0 || pf.Kind != AllProp && len(pf.Include) > 0 {
			t.Fatalf("inconsistent %+v", pf)
		}
	})
}

func FuzzProppatch(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := ParseProppatch(bytes.NewReader(body), fuzzLimits)
		checkErr(t, body, err)
		if err != nil {
			return
		}
		if len(ops) == 0 || len(ops) > fuzzLimits.MaxProps {
			t.Fatalf("%d ops", len(ops))
		}
		checkProppatchOracle(t, body, ops)
	})
}

func FuzzLockInfo(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		info, empty, err := ParseLockInfo(bytes.NewReader(body), fuzzLimits)
		checkErr(t, body, err)
		if err != nil || empty || info.Owner == nil {
			return
		}
		doc, err := parseTree(body)
		if err != nil {
			t.Fatalf("encoding/xml rejects a body davxml accepted: %v", err)
		}
		var want string
		for _, n := range doc.elems()[0].elems() {
			if n.name == davn("owner") {
				want = n.content()
			}
		}
		wrapped, err := parseTree(wrapValue(info.Owner))
		if err != nil {
			t.Fatalf("owner %q does not parse when wrapped: %v", info.Owner, err)
		}
		if got := wrapped.elems()[0].content(); got != want {
			t.Fatalf("owner %q changes meaning when pasted elsewhere:\n got  %s\n want %s", info.Owner, got, want)
		}
	})
}

var syncSeeds = []string{
	`<?xml version="1.0" encoding="utf-8" ?><D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
	`<sync-collection xmlns="DAV:"><sync-token>urn:x-davd:sync:0123</sync-token><sync-level>infinite</sync-level><limit><nresults>10</nresults></limit><prop><getetag/><x xmlns="urn:x"/></prop></sync-collection>`,
	`<sync-collection xmlns="DAV:"><sync-token><b/></sync-token><sync-level>2</sync-level><prop/></sync-collection>`,
	`<D:version-tree xmlns:D="DAV:"/>`,
}

// FuzzSyncCollection checks that any body is either parsed or refused with one of the parse
// errors, and that what is parsed obeys RFC 6578 §6.1's rules.
func FuzzSyncCollection(f *testing.F) {
	seed(f)
	for _, s := range syncSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sc, err := ParseSyncCollection(bytes.NewReader(body), fuzzLimits)
		if errors.Is(err, ErrUnsupportedReport) {
			return
		}
		checkErr(t, body, err)
		if err != nil {
			return
		}
		if sc.Limit < 0 || len(sc.Props) > fuzzLimits.MaxProps {
			t.Fatalf("accepted %+v", sc)
		}
	})
}
