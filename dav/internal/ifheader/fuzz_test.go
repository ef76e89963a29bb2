package ifheader

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error is ErrSyntax,
// and that a successful parse survives a round trip through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> ["I am an ETag"]) (["I am another ETag"])`,
		`(Not <urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> <urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092>)`,
		`(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>) (Not <DAV:no-lock>)`,
		`</resource1> (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> [W/"A weak ETag"]) (["strong ETag"])`,
		`<http://www.example.com/specs/> (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>)`,
		`</specs/rfc2518.doc> (["4217"])`,
		`(<urn:uuid:x> ["etag"]) (Not <DAV:no-lock> ["etag"])`,
		`<http://host/a> (<opaquelocktoken:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>)`,
		`(NOT<urn:a>not["e\"]"])`,
		`()`,
		`(<urn:a>) <http://h/> (<urn:b>)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): error %v is not ErrSyntax", s, err)
			}
			return
		}
		if len(h.Lists) == 0 {
			t.Fatalf("Parse(%q): no lists and no error", s)
		}
		r := h.String()
		if len(r) > MaxLen {
			return // Rendering adds spaces; the limit may then apply.
		}
		again, err := Parse(r)
		if err != nil {
			t.Fatalf("Parse(%q) -> String %q -> %v", s, r, err)
		}
		if !reflect.DeepEqual(h, again) {
			t.Fatalf("round trip of %q via %q:\n got %#v\nwant %#v", s, r, again, h)
		}
	})
}
