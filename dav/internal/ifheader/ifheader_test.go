package ifheader

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func tok(t string) Condition    { return Condition{Token: t} }
func notTok(t string) Condition { return Condition{Not: true, Token: t} }
func etag(e string) Condition   { return Condition{ETag: e} }

func TestParse(t *testing.T) {
	const (
		uuid1 = "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2"
		uuid2 = "urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092"
		uuid3 = "urn:uuid:150852e2-3847-42d5-8cbe-0f4f296f26cf"
	)
	tests := []struct {
		name string
		in   string
		want Header
	}{
		{
			name: "10.4.6 untagged list with token and etag, and a second list",
			in:   `(<` + uuid1 + `> ["I am an ETag"]) (["I am another ETag"])`,
			want: Header{Lists: []List{
				{Conditions: []Condition{tok(uuid1), etag(`"I am an ETag"`)}},
				{Conditions: []Condition{etag(`"I am another ETag"`)}},
			}},
		},
		{
			name: "10.4.7 untagged list with Not",
			in:   `(Not <` + uuid1 + `> <` + uuid2 + `>)`,
			want: Header{Lists: []List{
				{Conditions: []Condition{notTok(uuid1), tok(uuid2)}},
			}},
		},
		{
			name: "10.4.8 causing a condition to always evaluate to true",
			in:   `(<` + uuid1 + `>) (Not <DAV:no-lock>)`,
			want: Header{Lists: []List{
				{Conditions: []Condition{tok(uuid1)}},
				{Conditions: []Condition{notTok("DAV:no-lock")}},
			}},
		},
		{
			name: "10.4.9 tagged list with a token and an etag",
			in:   `</resource1> (<` + uuid1 + `> [W/"A weak ETag"]) (["strong ETag"])`,
			want: Header{Lists: []List{
				{Resource: "/resource1", Conditions: []Condition{tok(uuid1), etag(`W/"A weak ETag"`)}},
				{Resource: "/resource1", Conditions: []Condition{etag(`"strong ETag"`)}},
			}},
		},
		{
			name: "10.4.10 matching lock tokens with collection locks",
			in:   `<http://www.example.com/specs/> (<` + uuid1 + `>)`,
			want: Header{Lists: []List{
				{Resource: "http://www.example.com/specs/", Conditions: []Condition{tok(uuid1)}},
			}},
		},
		{
			name: "10.4.11 matching etags on unmapped URLs",
			in:   `</specs/rfc2518.doc> (["4217"])`,
			want: Header{Lists: []List{
				{Resource: "/specs/rfc2518.doc", Conditions: []Condition{etag(`"4217"`)}},
			}},
		},
		{
			name: "10.4.6 tagged list with Not",
			in:   `<http://example.com/a> (Not <` + uuid3 + `>) <http://example.com/b> (<` + uuid1 + `>) (Not ["x"])`,
			want: Header{Lists: []List{
				{Resource: "http://example.com/a", Conditions: []Condition{notTok(uuid3)}},
				{Resource: "http://example.com/b", Conditions: []Condition{tok(uuid1)}},
				{Resource: "http://example.com/b", Conditions: []Condition{{Not: true, ETag: `"x"`}}},
			}},
		},
		{
			name: "litmus: token and etag, then Not no-lock and etag",
			in:   `(<urn:uuid:x> ["etag"]) (Not <DAV:no-lock> ["etag"])`,
			want: Header{Lists: []List{
				{Conditions: []Condition{tok("urn:uuid:x"), etag(`"etag"`)}},
				{Conditions: []Condition{notTok("DAV:no-lock"), etag(`"etag"`)}},
			}},
		},
		{
			name: "litmus: tagged opaquelocktoken",
			in:   `<http://host/a> (<opaquelocktoken:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>)`,
			want: Header{Lists: []List{
				{Resource: "http://host/a", Conditions: []Condition{tok("opaquelocktoken:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")}},
			}},
		},
		{
			name: "5234 3.2 Not is case-insensitive and needs no space before a bracket",
			in:   `(NOT<urn:a>not["e"] nOt  <urn:b>)`,
			want: Header{Lists: []List{
				{Conditions: []Condition{notTok("urn:a"), {Not: true, ETag: `"e"`}, notTok("urn:b")}},
			}},
		},
		{
			name: "LWS optional between tokens, tabs and folding remnants",
			in:   "\t(<urn:a>)(<urn:b>)\r\n (<urn:c>)  ",
			want: Header{Lists: []List{
				{Conditions: []Condition{tok("urn:a")}},
				{Conditions: []Condition{tok("urn:b")}},
				{Conditions: []Condition{tok("urn:c")}},
			}},
		},
		{
			name: "2616 3.11 etag with quoted pair holding a quote and a bracket",
			in:   `(["a\"]b"])`,
			want: Header{Lists: []List{{Conditions: []Condition{etag(`"a\"]b"`)}}}},
		},
		{
			name: "empty etag",
			in:   `([""])`,
			want: Header{Lists: []List{{Conditions: []Condition{etag(`""`)}}}},
		},
		{
			name: "tagged list with resource repeated",
			in:   `<http://h/a> (<urn:a>) <http://h/a> (<urn:b>)`,
			want: Header{Lists: []List{
				{Resource: "http://h/a", Conditions: []Condition{tok("urn:a")}},
				{Resource: "http://h/a", Conditions: []Condition{tok("urn:b")}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
			again, err := Parse(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip of %q via %q: %#v, %v", tt.in, got.String(), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	many := strings.Repeat("<urn:a>", MaxConditions+1)
	tests := []struct{ name, in string }{
		{"10.4.2 empty header", ""},
		{"10.4.2 only white space", "  \t "},
		{"10.4.2 empty list", "()"},
		{"10.4.2 empty list after a good one", "(<urn:a>) ()"},
		{"10.4.2 mixing untagged then tagged", "(<urn:a>) <http://h/> (<urn:b>)"},
		{"10.4.2 trailing unterminated resource tag", "<http://h/> (<urn:a>) <"},
		{"10.4.2 resource tag without a list", "<http://h/a>"},
		{"10.4.2 two resource tags in a row", "<http://h/a> <http://h/b> (<urn:a>)"},
		{"10.4.2 unterminated list", "(<urn:a>"},
		{"10.4.2 stray close paren", ")"},
		{"10.4.2 bare word", "(urn:a)"},
		{"10.4.2 Not alone", "(Not)"},
		{"10.4.2 Not at end", "(Not"},
		{"10.4.2 double Not", "(Not Not <urn:a>)"},
		{"10.4.2 Not glued to a word", "(Notx <urn:a>)"},
		{"10.4.2 nested list", "((<urn:a>))"},
		{"6.5 state token not an absolute URI", "(</relative>)"},
		{"6.5 empty state token", "(<>)"},
		{"6.5 white space inside Coded-URL", "(<urn: a>)"},
		{"6.5 unterminated Coded-URL", "(<urn:a"},
		{"6.5 angle bracket inside Coded-URL", "(<urn:<a>)"},
		{"8.3 resource tag relative path", "<a/b> (<urn:a>)"},
		{"8.3 empty resource tag", "<> (<urn:a>)"},
		{"3.11 etag unquoted", "([abc])"},
		{"3.11 etag unterminated", `(["abc])`},
		{"3.11 etag unterminated bracket", `(["abc"`},
		{"10.4.2 white space inside brackets", `([ "abc" ])`},
		{"3.11 etag with control character", "([\"a\x01b\"])"},
		{"3.11 etag trailing garbage", `(["a"b])`},
		{"3.11 empty brackets", "([])"},
		{"limit: too many conditions", "(" + many + ")"},
		{"limit: too long", "(<urn:" + strings.Repeat("a", MaxLen) + ">)"},
		{"garbage after lists", "(<urn:a>) x"},
		{"field name included", "If: (<urn:a>)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Parse(tt.in)
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) = %#v, %v; want ErrSyntax", tt.in, h, err)
			}
		})
	}
}

func TestLimitsExact(t *testing.T) {
	s := "(" + strings.Repeat("<urn:a>", MaxConditions) + ")"
	if _, err := Parse(s); err != nil {
		t.Fatalf("%d conditions: %v", MaxConditions, err)
	}
	s = "(<urn:" + strings.Repeat("a", MaxLen-len("(<urn:>)")) + ">)"
	if len(s) != MaxLen {
		t.Fatalf("bad test: len %d", len(s))
	}
	if _, err := Parse(s); err != nil {
		t.Fatalf("%d bytes: %v", MaxLen, err)
	}
}

func TestTokens(t *testing.T) {
	h, err := Parse(`<http://h/a> (<urn:a> ["e"]) (Not <DAV:no-lock> <urn:b>) <http://h/b> (<urn:a>) (Not <urn:c>)`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"urn:a", "DAV:no-lock", "urn:b", "urn:c"}
	if got := h.Tokens(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Tokens() = %q, want %q", got, want)
	}
	h, err = Parse(`(["e"])`)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Tokens(); len(got) != 0 {
		t.Fatalf("Tokens() = %q, want none", got)
	}
}

func TestString(t *testing.T) {
	h := Header{Lists: []List{
		{Resource: "http://h/a", Conditions: []Condition{tok("urn:a"), {Not: true, ETag: `W/"x"`}}},
		{Resource: "http://h/a", Conditions: []Condition{notTok("DAV:no-lock")}},
		{Resource: "/b", Conditions: []Condition{etag(`"y"`)}},
	}}
	want := `<http://h/a> (<urn:a> Not [W/"x"]) (Not <DAV:no-lock>) </b> (["y"])`
	if got := h.String(); got != want {
		t.Fatalf("String() = %s\nwant          %s", got, want)
	}
}

func BenchmarkParse(b *testing.B) {
	s := `<http://localhost/litmus/lockcoll/> (<opaquelocktoken:f81d4fae-7dec-11d0-a765-00a0c91e6bf6> ["etag-1234"]) (Not <DAV:no-lock>)`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}
