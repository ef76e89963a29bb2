package davxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func davn(local string) xml.Name { return xml.Name{Space: "DAV:", Local: local} }

// errClass names the error class of err, for table tests.
func errClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTooLarge):
		return "toolarge"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	}
	return "other: " + err.Error()
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x">&lol9;</x:a></D:prop></D:set></D:propertyupdate>`

func deep(n int) string {
	return `<D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<a>", n) + strings.Repeat("</a>", n) + `</D:prop></D:propfind>`
}

func manyProps(n int) string {
	return `<D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<D:getetag/>", n) + `</D:prop></D:propfind>`
}

func TestParsePropfind(t *testing.T) {
	tests := []struct {
		name string
		body string
		lim  Limits
		want Propfind
		err  string
	}{
		{name: "9.1 empty body is allprop", body: "", want: Propfind{Kind: AllProp}},
		{name: "9.1 white space body is allprop", body: " \r\n\t ", want: Propfind{Kind: AllProp}},
		{name: "9.1 BOM only is allprop", body: "\xef\xbb\xbf\n", want: Propfind{Kind: AllProp}},
		{
			name: "9.1.3 named properties",
			body: `<?xml version="1.0" encoding="utf-8" ?>
   <D:propfind xmlns:D="DAV:">
     <D:prop xmlns:R="http://ns.example.com/boxschema/">
       <R:bigbox/>
       <R:author/>
       <R:DingALing/>
       <R:Random/>
     </D:prop>
   </D:propfind>`,
			want: Propfind{Kind: Prop, Props: []xml.Name{
				{Space: "http://ns.example.com/boxschema/", Local: "bigbox"},
				{Space: "http://ns.example.com/boxschema/", Local: "author"},
				{Space: "http://ns.example.com/boxschema/", Local: "DingALing"},
				{Space: "http://ns.example.com/boxschema/", Local: "Random"},
			}},
		},
		{
			name: "9.1.4 propname with default namespace",
			body: `<?xml version="1.0" encoding="utf-8" ?><propfind xmlns="DAV:"><propname/></propfind>`,
			want: Propfind{Kind: PropName},
		},
		{
			name: "9.1.6 allprop",
			body: `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`,
			want: Propfind{Kind: AllProp},
		},
		{
			name: "9.1.7 allprop with include",
			body: `<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:supported-live-property-set/><D:supported-report-set/></D:include></D:propfind>`,
			want: Propfind{Kind: AllProp, Include: []xml.Name{davn("supported-live-property-set"), davn("supported-report-set")}},
		},
		{
			name: "17 unknown elements ignored, prop content ignored",
			body: `<D:propfind xmlns:D="DAV:" xmlns:x="urn:x"><x:foo><D:allprop/></x:foo><D:prop><D:getetag><x:junk/>text</D:getetag>text</D:prop><D:future/><!-- c --><?pi x?></D:propfind>`,
			want: Propfind{Kind: Prop, Props: []xml.Name{davn("getetag")}},
		},
		{
			name: "litmus: prop in no namespace and in a default namespace",
			body: `<propfind xmlns="DAV:"><prop><getcontentlength/><foo xmlns=""/><bar xmlns="http://example.com/neon/litmus/"/></prop></propfind>`,
			want: Propfind{Kind: Prop, Props: []xml.Name{davn("getcontentlength"), {Local: "foo"}, {Space: "http://example.com/neon/litmus/", Local: "bar"}}},
		},
		{
			name: "empty prop is an empty Prop request",
			body: `<D:propfind xmlns:D="DAV:"><D:prop/></D:propfind>`,
			want: Propfind{Kind: Prop},
		},
		{
			name: "BOM and ISO-8859-1 declaration",
			body: "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><!-- caf\xe9 --><D:propfind xmlns:D=\"DAV:\"><D:prop><D:displayname/></D:prop></D:propfind>",
			want: Propfind{Kind: Prop, Props: []xml.Name{davn("displayname")}},
		},
		{
			name: "limits: exactly MaxProps and MaxDepth and MaxBytes",
			body: manyProps(3),
			lim:  Limits{MaxProps: 3, MaxDepth: 3, MaxBytes: int64(len(manyProps(3)))},
			want: Propfind{Kind: Prop, Props: []xml.Name{davn("getetag"), davn("getetag"), davn("getetag")}},
		},

		{name: "14.20 wrong root", body: `<D:propertyupdate xmlns:D="DAV:"><D:prop/></D:propertyupdate>`, err: "invalid"},
		{name: "14.20 propfind in no namespace", body: `<propfind><allprop/></propfind>`, err: "invalid"},
		{name: "14.20 none of allprop propname prop", body: `<D:propfind xmlns:D="DAV:"/>`, err: "invalid"},
		{name: "14.20 allprop and prop", body: `<D:propfind xmlns:D="DAV:"><D:allprop/><D:prop><D:getetag/></D:prop></D:propfind>`, err: "invalid"},
		{name: "14.20 propname and prop", body: `<D:propfind xmlns:D="DAV:"><D:propname/><D:prop/></D:propfind>`, err: "invalid"},
		{name: "14.20 two props", body: `<D:propfind xmlns:D="DAV:"><D:prop/><D:prop/></D:propfind>`, err: "invalid"},
		{name: "14.8 include without allprop", body: `<D:propfind xmlns:D="DAV:"><D:prop/><D:include/></D:propfind>`, err: "invalid"},
		{name: "14.8 two includes", body: `<D:propfind xmlns:D="DAV:"><D:allprop/><D:include/><D:include/></D:propfind>`, err: "invalid"},

		{name: "malformed: not XML", body: `hello`, err: "malformed"},
		{name: "malformed: only a declaration", body: `<?xml version="1.0"?>`, err: "malformed"},
		{name: "malformed: unclosed", body: `<D:propfind xmlns:D="DAV:"><D:allprop/>`, err: "malformed"},
		{name: "malformed: mismatched end tag", body: `<D:propfind xmlns:D="DAV:"><D:allprop></D:prop></D:propfind>`, err: "malformed"},
		{name: "malformed: end tag with another prefix for the same namespace", body: `<D:propfind xmlns:D="DAV:" xmlns:E="DAV:"><D:allprop></E:allprop></D:propfind>`, err: "malformed"},
		{name: "malformed: undeclared element prefix", body: `<D:propfind><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: undeclared prefix deep in prop", body: `<D:propfind xmlns:D="DAV:"><D:prop><x:foo/></D:prop></D:propfind>`, err: "malformed"},
		{name: "malformed: undeclared attribute prefix", body: `<D:propfind xmlns:D="DAV:" y:a="1"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: prefix used outside its scope", body: `<D:propfind xmlns:D="DAV:"><D:prop xmlns:x="urn:x"/><x:foo/></D:propfind>`, err: "malformed"},
		{name: "malformed: empty prefixed namespace binding", body: `<D:propfind xmlns:D="DAV:"><D:prop xmlns:ns1=""><D:getetag/></D:prop></D:propfind>`, err: "malformed"},
		{name: "malformed: xmlns prefix declared", body: `<D:propfind xmlns:D="DAV:" xmlns:xmlns="urn:x"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: xml prefix rebound", body: `<D:propfind xmlns:D="DAV:" xmlns:xml="urn:x"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: xml namespace bound to another prefix", body: `<D:propfind xmlns:D="DAV:" xmlns:x="http://www.w3.org/XML/1998/namespace"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: element with xmlns prefix", body: `<xmlns:a xmlns:D="DAV:"/>`, err: "malformed"},
		{name: "malformed: two colons in a name", body: `<D:propfind xmlns:D="DAV:"><D:prop><D:a:b/></D:prop></D:propfind>`, err: "malformed"},
		{name: "malformed: duplicate attribute", body: `<D:propfind xmlns:D="DAV:" a="1" a="2"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: duplicate attribute by expanded name", body: `<D:propfind xmlns:D="DAV:" xmlns:x="urn:x" xmlns:y="urn:x" x:a="1" y:a="2"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: duplicate namespace declaration", body: `<D:propfind xmlns:D="DAV:" xmlns:D="DAV:"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: DOCTYPE", body: `<!DOCTYPE propfind><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: billion laughs", body: strings.Replace(billionLaughs, "propertyupdate", "propfind", 2), err: "malformed"},
		{name: "malformed: unknown entity", body: `<D:propfind xmlns:D="DAV:"><D:prop>&lol;</D:prop></D:propfind>`, err: "malformed"},
		{name: "malformed: two root elements", body: `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind><D:propfind xmlns:D="DAV:"/>`, err: "malformed"},
		{name: "malformed: text after root", body: `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>junk`, err: "malformed"},
		{name: "malformed: text before root", body: `junk<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: XML declaration inside the document", body: `<D:propfind xmlns:D="DAV:"><?xml version="1.0" encoding="ISO-8859-1"?><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: unsupported encoding", body: `<?xml version="1.0" encoding="EBCDIC"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`, err: "malformed"},
		{name: "malformed: invalid UTF-8", body: "<D:propfind xmlns:D=\"DAV:\"><D:prop>\xff</D:prop><D:allprop/></D:propfind>", err: "malformed"},
		{name: "malformed: depth over MaxDepth", body: deep(63), err: "malformed"},
		{name: "malformed: 10,000-deep nesting", body: deep(10000), err: "malformed"},
		{name: "malformed: props over MaxProps", body: manyProps(4), lim: Limits{MaxProps: 3}, err: "malformed"},
		{name: "malformed wins over invalid", body: `<D:wrong xmlns:D="DAV:"><x:y/></D:wrong>`, err: "malformed"},

		{name: "too large", body: manyProps(100), lim: Limits{MaxBytes: 100}, err: "toolarge"},
		{name: "too large white space", body: strings.Repeat(" ", 101), lim: Limits{MaxBytes: 100}, err: "toolarge"},
		{name: "too large wins over invalid", body: `<D:wrong xmlns:D="DAV:">` + strings.Repeat(" ", 200) + `</D:wrong>`, lim: Limits{MaxBytes: 100}, err: "toolarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePropfind(strings.NewReader(tt.body), tt.lim)
			if c := errClass(err); c != tt.err {
				t.Fatalf("error %v (class %q), want class %q", err, c, tt.err)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

type patchWant struct {
	remove bool
	name   xml.Name
	lang   string
	value  string
}

func TestParseProppatch(t *testing.T) {
	const z = "http://ns.example.com/standards/z39.50/"
	zn := func(l string) xml.Name { return xml.Name{Space: z, Local: l} }
	tests := []struct {
		name string
		body string
		lim  Limits
		want []patchWant
		err  string
	}{
		{
			name: "9.2.2 set and remove",
			body: `<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/standards/z39.50/">
<D:set><D:prop><Z:Authors>
<Z:Author>Jim Whitehead</Z:Author>
<Z:Author>Roy Fielding</Z:Author>
</Z:Authors></D:prop></D:set>
<D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove>
</D:propertyupdate>`,
			want: []patchWant{
				{name: zn("Authors"), value: "\n<Z:Author xmlns:Z=\"" + z + "\">Jim Whitehead</Z:Author>\n<Z:Author xmlns:Z=\"" + z + "\">Roy Fielding</Z:Author>\n"},
				{remove: true, name: zn("Copyright-Owner")},
			},
		},
		{
			name: "9.2 document order across set and remove",
			body: `<propertyupdate xmlns="DAV:"><set><prop><a xmlns="urn:x">1</a></prop></set><remove><prop><a xmlns="urn:x"/></prop></remove><set><prop><a xmlns="urn:x">2</a><b xmlns="urn:x"/></prop></set></propertyupdate>`,
			want: []patchWant{
				{name: xml.Name{Space: "urn:x", Local: "a"}, value: "1"},
				{remove: true, name: xml.Name{Space: "urn:x", Local: "a"}},
				{name: xml.Name{Space: "urn:x", Local: "a"}, value: "2"},
				{name: xml.Name{Space: "urn:x", Local: "b"}, value: ""},
			},
		},
		{
			name: "4.3 xml:lang inherited and overridden, remove has none",
			body: `<D:propertyupdate xmlns:D="DAV:" xml:lang="en"><D:set><D:prop xmlns:x="urn:x"><x:a>hi</x:a><x:b xml:lang="de">hallo</x:b></D:prop></D:set><D:remove><D:prop><x:c xmlns:x="urn:x" xml:lang="fr"/></D:prop></D:remove></D:propertyupdate>`,
			want: []patchWant{
				{name: xml.Name{Space: "urn:x", Local: "a"}, lang: "en", value: "hi"},
				{name: xml.Name{Space: "urn:x", Local: "b"}, lang: "de", value: "hallo"},
				{remove: true, name: xml.Name{Space: "urn:x", Local: "c"}},
			},
		},
		{
			name: "litmus propvalnspace: default namespace inherited by the value",
			body: `<propertyupdate xmlns="DAV:"><set><prop><valnspace xmlns="http://example.com/neon/litmus/"><foo>bar</foo></valnspace></prop></set></propertyupdate>`,
			want: []patchWant{
				{name: xml.Name{Space: "http://example.com/neon/litmus/", Local: "valnspace"}, value: `<foo xmlns="http://example.com/neon/litmus/">bar</foo>`},
			},
		},
		{
			name: "litmus propnullns: value in no namespace gets xmlns empty",
			body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><nullns xmlns=""><foo/>x</nullns></D:prop></D:set></D:propertyupdate>`,
			want: []patchWant{
				{name: xml.Name{Local: "nullns"}, value: `<foo xmlns=""/>x`},
			},
		},
		{
			name: "litmus high-unicode, entities and CDATA",
			body: "<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><x:u xmlns:x=\"urn:x\">\U0001F600 caf\u00e9 &amp; &lt;&gt; &#x41;<![CDATA[<&>]]>\r\n</x:u></D:prop></D:set></D:propertyupdate>",
			want: []patchWant{
				{name: xml.Name{Space: "urn:x", Local: "u"}, value: "\U0001F600 caf\u00e9 &amp; &lt;&gt; A&lt;&amp;&gt;\n"},
			},
		},
		{
			name: "value attributes with prefixes and quotes, comments dropped",
			body: `<D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x" xmlns:y="urn:y"><D:set><D:prop><x:p><x:e y:a='q"1' b="t&#9;n&#10;"><!-- c --><y:f/></x:e>tail</x:p></D:prop></D:set></D:propertyupdate>`,
			want: []patchWant{
				{name: xml.Name{Space: "urn:x", Local: "p"}, value: `<x:e xmlns:x="urn:x" xmlns:y="urn:y" y:a="q&quot;1" b="t&#x9;n&#xA;"><y:f/></x:e>tail`},
			},
		},
		{
			name: "17 unknown elements ignored around set and prop",
			body: `<D:propertyupdate xmlns:D="DAV:" xmlns:o="urn:o"><o:x/><D:set><o:y/><D:prop><o:p/></D:prop></D:set></D:propertyupdate>`,
			want: []patchWant{{name: xml.Name{Space: "urn:o", Local: "p"}, value: ""}},
		},

		{name: "14.19 wrong root", body: `<D:propfind xmlns:D="DAV:"><D:set><D:prop><D:x/></D:prop></D:set></D:propfind>`, err: "invalid"},
		{name: "14.19 no operation", body: `<D:propertyupdate xmlns:D="DAV:"/>`, err: "invalid"},
		{name: "14.19 empty prop only", body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop/></D:set></D:propertyupdate>`, err: "invalid"},
		{name: "14.26 set without prop", body: `<D:propertyupdate xmlns:D="DAV:"><D:set/><D:set><D:prop><D:x/></D:prop></D:set></D:propertyupdate>`, err: "invalid"},
		{name: "14.23 remove without prop", body: `<D:propertyupdate xmlns:D="DAV:"><D:remove/><D:set><D:prop><D:x/></D:prop></D:set></D:propertyupdate>`, err: "invalid"},
		{name: "malformed: empty body", body: "  ", err: "malformed"},
		{name: "malformed: undeclared prefix inside a value", body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:x><q:y/></D:x></D:prop></D:set></D:propertyupdate>`, err: "malformed"},
		{name: "malformed: empty prefixed binding inside a value", body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:x><D:y xmlns:ns1=""/></D:x></D:prop></D:set></D:propertyupdate>`, err: "malformed"},
		{name: "malformed: billion laughs", body: billionLaughs, err: "malformed"},
		{name: "malformed: props over MaxProps", body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:a/><D:b/></D:prop></D:set><D:remove><D:prop><D:c/></D:prop></D:remove></D:propertyupdate>`, lim: Limits{MaxProps: 2}, err: "malformed"},
		{name: "malformed: value deeper than MaxDepth", body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:a><b><c/></b></D:a></D:prop></D:set></D:propertyupdate>`, lim: Limits{MaxDepth: 5}, err: "malformed"},
		{name: "too large", body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:a>` + strings.Repeat("x", 200) + `</D:a></D:prop></D:set></D:propertyupdate>`, lim: Limits{MaxBytes: 200}, err: "toolarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := ParseProppatch(strings.NewReader(tt.body), tt.lim)
			if c := errClass(err); c != tt.err {
				t.Fatalf("error %v (class %q), want class %q", err, c, tt.err)
			}
			if err != nil {
				return
			}
			var got []patchWant
			for _, op := range ops {
				got = append(got, patchWant{op.Remove, op.Prop.Name, op.Prop.Lang, string(op.Prop.Value)})
				if op.Remove && op.Prop.Value != nil {
					t.Errorf("remove op %v has a value", op.Prop.Name)
				}
				if !op.Remove && op.Prop.Value == nil {
					t.Errorf("set op %v has a nil value", op.Prop.Name)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			checkProppatchOracle(t, []byte(tt.body), ops)
		})
	}
}

// checkProppatchOracle compares ops with what encoding/xml's namespace-aware
// reader sees in body, and checks that each value means the same when pasted
// into a document with hostile prefix bindings, and that capturing it again
// gives the same bytes.
func checkProppatchOracle(t *testing.T, body []byte, ops []PatchOp) {
	t.Helper()
	doc, err := parseTree(body)
	if err != nil {
		t.Fatalf("encoding/xml rejects a body davxml accepted: %v\n%q", err, body)
	}
	var want []*node
	var removes []bool
	root := doc.elems()[0]
	for _, su := range root.elems() {
		if su.name != davn("set") && su.name != davn("remove") {
			continue
		}
		for _, pr := range su.elems() {
			if pr.name != davn("prop") {
				continue
			}
			for _, p := range pr.elems() {
				want = append(want, p)
				removes = append(removes, su.name == davn("remove"))
			}
		}
	}
	if len(want) != len(ops) {
		t.Fatalf("%d ops, oracle finds %d", len(ops), len(want))
	}
	for i, op := range ops {
		w := want[i]
		if op.Remove != removes[i] || op.Prop.Name != w.name {
			t.Fatalf("op %d: %v %v, oracle %v %v", i, op.Remove, op.Prop.Name, removes[i], w.name)
		}
		if op.Remove {
			continue
		}
		if op.Prop.Lang != w.lang {
			t.Fatalf("op %d: lang %q, oracle %q", i, op.Prop.Lang, w.lang)
		}
		wrapped, err := parseTree(wrapValue(op.Prop.Value))
		if err != nil {
			t.Fatalf("op %d: value %q does not parse when wrapped: %v", i, op.Prop.Value, err)
		}
		if got, exp := wrapped.elems()[0].content(), w.content(); got != exp {
			t.Fatalf("op %d: value %q changes meaning when pasted elsewhere:\n got  %s\n want %s", i, op.Prop.Value, got, exp)
		}
		// Capturing a self-contained value again must not change it.
		again, err := ParseProppatch(bytes.NewReader(wrapProppatch(op.Prop.Value)), Limits{MaxBytes: 1 << 30, MaxDepth: 1 << 20})
		if err != nil {
			t.Fatalf("op %d: value %q does not parse again: %v", i, op.Prop.Value, err)
		}
		if !bytes.Equal(again[0].Prop.Value, op.Prop.Value) {
			t.Fatalf("op %d: captured twice:\n first  %q\n second %q", i, op.Prop.Value, again[0].Prop.Value)
		}
	}
}

func wrapProppatch(v []byte) []byte {
	return []byte(`<ns9:propertyupdate xmlns:ns9="DAV:" xmlns="urn:trap" xmlns:D="urn:trap:D" xmlns:x="urn:trap:x"><ns9:set><ns9:prop><Z:v xmlns:Z="urn:v" xmlns:y="urn:trap:y">` +
		string(v) + `</Z:v></ns9:prop></ns9:set></ns9:propertyupdate>`)
}

func TestParseLockInfo(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		lim    Limits
		shared bool
		owner  *string // nil: no owner
		empty  bool
		err    string
	}{
		{
			name: "9.10.7 exclusive write lock with owner href",
			body: `<?xml version="1.0" encoding="utf-8" ?>
     <D:lockinfo xmlns:D='DAV:'>
       <D:lockscope><D:exclusive/></D:lockscope>
       <D:locktype><D:write/></D:locktype>
       <D:owner>
            <D:href>http://example.org/~ejw/contact.html</D:href>
       </D:owner>
     </D:lockinfo>`,
			owner: ptr("\n            <D:href xmlns:D=\"DAV:\">http://example.org/~ejw/contact.html</D:href>\n       "),
		},
		{name: "9.10.2 refresh with empty body", body: "", empty: true},
		{name: "9.10.2 refresh with white space body", body: "\r\n", empty: true},
		{
			name:   "litmus shared lock with text owner",
			body:   `<?xml version="1.0" encoding="utf-8"?><lockinfo xmlns='DAV:'><lockscope><shared/></lockscope><locktype><write/></locktype><owner>litmus test suite</owner></lockinfo>`,
			shared: true, owner: ptr("litmus test suite"),
		},
		{
			name: "no owner",
			body: `<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>`,
		},
		{
			name:  "empty owner is present",
			body:  `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner/></D:lockinfo>`,
			owner: ptr(""),
		},
		{
			name:  "owner in a foreign default namespace",
			body:  `<D:lockinfo xmlns:D="DAV:" xmlns="urn:o"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/><x xmlns="urn:x"/></D:locktype><D:owner><name>me</name></D:owner></D:lockinfo>`,
			owner: ptr(`<name xmlns="urn:o">me</name>`),
		},
		{name: "14.11 wrong root", body: `<D:propfind xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:propfind>`, err: "invalid"},
		{name: "14.11 no lockscope", body: `<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype></D:lockinfo>`, err: "invalid"},
		{name: "14.11 no locktype", body: `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>`, err: "invalid"},
		{name: "14.13 empty lockscope", body: `<D:lockinfo xmlns:D="DAV:"><D:lockscope/><D:locktype><D:write/></D:locktype></D:lockinfo>`, err: "invalid"},
		{name: "14.13 exclusive and shared", body: `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`, err: "invalid"},
		{name: "14.15 locktype not write", body: `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>`, err: "invalid"},
		{name: "14.11 two owners", body: `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner/><D:owner/></D:lockinfo>`, err: "invalid"},
		{name: "14.11 two lockscopes", body: `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`, err: "invalid"},
		{name: "malformed: undeclared prefix in owner", body: `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><p:x/></D:owner></D:lockinfo>`, err: "malformed"},
		{name: "malformed: DOCTYPE", body: `<!DOCTYPE x [<!ENTITY a "b">]><D:lockinfo xmlns:D="DAV:"/>`, err: "malformed"},
		{name: "malformed: truncated", body: `<D:lockinfo xmlns:D="DAV:"><D:lockscope>`, err: "malformed"},
		{name: "too large", body: `<D:lockinfo xmlns:D="DAV:"><D:owner>` + strings.Repeat("x", 100) + `</D:owner></D:lockinfo>`, lim: Limits{MaxBytes: 64}, err: "toolarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, empty, err := ParseLockInfo(strings.NewReader(tt.body), tt.lim)
			if c := errClass(err); c != tt.err {
				t.Fatalf("error %v (class %q), want class %q", err, c, tt.err)
			}
			if err != nil {
				return
			}
			if empty != tt.empty || info.Shared != tt.shared {
				t.Fatalf("empty %v shared %v, want %v %v", empty, info.Shared, tt.empty, tt.shared)
			}
			switch {
			case tt.owner == nil && info.Owner != nil:
				t.Fatalf("owner %q, want none", info.Owner)
			case tt.owner != nil && (info.Owner == nil || string(info.Owner) != *tt.owner):
				t.Fatalf("owner %q (nil %v), want %q", info.Owner, info.Owner == nil, *tt.owner)
			}
		})
	}
}

func ptr(s string) *string { return &s }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadErrorPassedThrough(t *testing.T) {
	boom := errors.New("connection reset")
	for name, r := range map[string]io.Reader{
		"at start":  errReader{boom},
		"mid-body":  io.MultiReader(strings.NewReader(`<D:propfind xmlns:D="DAV:">`), errReader{boom}),
		"mid-value": io.MultiReader(strings.NewReader(`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:a>xx`), errReader{boom}),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			if strings.HasPrefix(name, "mid-value") {
				_, err = ParseProppatch(r, Limits{})
			} else {
				_, err = ParsePropfind(r, Limits{})
			}
			if !errors.Is(err, boom) || errClass(err) != "other: "+err.Error() {
				t.Fatalf("err = %v, want the reader's error and no parse class", err)
			}
		})
	}
}

// endless yields an endless body: a root start tag, then spaces forever.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	const head = `<D:propfind xmlns:D="DAV:">`
	for i := range p {
		if e.n < int64(len(head)) {
			p[i] = head[e.n]
		} else {
			p[i] = ' '
		}
		e.n++
	}
	return len(p), nil
}

func TestEndlessBodyStopsAtLimit(t *testing.T) {
	r := &endless{}
	_, err := ParsePropfind(r, Limits{MaxBytes: 1 << 16})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if r.n > 1<<16+1<<13 {
		t.Fatalf("read %d bytes for a limit of %d", r.n, 1<<16)
	}
}

// TestAttacksBounded checks that hostile bodies fail fast and in bounded
// memory.
func TestAttacksBounded(t *testing.T) {
	bodies := map[string]string{
		"billion laughs":         billionLaughs,
		"10,000-deep nesting":    deep(10000),
		"deep nesting to 1 MiB":  `<D:propfind xmlns:D="DAV:">` + strings.Repeat("<a>", (1<<20)/3-20),
		"many props over limit":  manyProps(10001),
		"many namespace decls":   `<D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat(`<D:a xmlns:p="urn:p" xmlns:q="urn:q"/>`, 20000) + `</D:prop></D:propfind>`,
		"huge attribute":         `<D:propfind xmlns:D="DAV:" a="` + strings.Repeat("x", 1<<20) + `"/>`,
		"many attributes":        `<D:propfind xmlns:D="DAV:" ` + manyAttrs(60000) + `/>`,
		"many duplicate attribs": `<D:propfind xmlns:D="DAV:" ` + strings.Repeat(`a="1" `, 10) + `/>`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := ParsePropfind(strings.NewReader(body), Limits{})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("accepted")
			}
			if elapsed > 2*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
		})
	}
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d=\"\" ", i)
	}
	return b.String()
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, text, attr string }{
		{"plain", "plain", "plain"},
		{"", "", ""},
		{`a&b<c>d"e'f`, `a&amp;b&lt;c&gt;d"e'f`, `a&amp;b&lt;c&gt;d&quot;e'f`},
		{"]]>", "]]&gt;", "]]&gt;"},
		{"t\tn\nr\r", "t\tn\nr&#xD;", "t&#x9;n&#xA;r&#xD;"},
		{"nul\x00bel\x07", "nul\uFFFDbel\uFFFD", "nul\uFFFDbel\uFFFD"},
		{"caf\u00e9 \U0001F600 \uFFFD", "caf\u00e9 \U0001F600 \uFFFD", "caf\u00e9 \U0001F600 \uFFFD"},
		{"bad\xffutf8\xe2\x82", "bad\uFFFDutf8\uFFFD\uFFFD", "bad\uFFFDutf8\uFFFD\uFFFD"},
		{"nonchar\uFFFE\uFFFF", "nonchar\uFFFD\uFFFD", "nonchar\uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		if got := string(EscapeText([]byte("pre:"), tt.in)); got != "pre:"+tt.text {
			t.Errorf("EscapeText(%q) = %q, want %q", tt.in, got, tt.text)
		}
		if got := string(EscapeAttr(nil, tt.in)); got != tt.attr {
			t.Errorf("EscapeAttr(%q) = %q, want %q", tt.in, got, tt.attr)
		}
		// What a parser reads back is the input, up to replaced characters.
		doc := `<a b="` + string(EscapeAttr(nil, tt.in)) + `">` + string(EscapeText(nil, tt.in)) + `</a>`
		if _, err := parseTree([]byte(doc)); err != nil {
			t.Errorf("escaped %q does not parse: %v", tt.in, err)
		}
	}
	buf := make([]byte, 0, 256)
	s := `a "quoted" <tag> & caf` + "\u00e9\r\n"
	if n := testing.AllocsPerRun(100, func() { buf = EscapeAttr(EscapeText(buf[:0], s), s) }); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

func BenchmarkEscapeText(b *testing.B) {
	s := strings.Repeat("http://example.com/some/path/file.txt & <more> caf\u00e9 ", 4)
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = EscapeText(buf[:0], s)
	}
}

func BenchmarkParseProppatch(b *testing.B) {
	body := []byte(`<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns/"><D:set><D:prop><Z:Authors><Z:Author>Jim Whitehead</Z:Author><Z:Author>Roy Fielding</Z:Author></Z:Authors><Z:x>text</Z:x></D:prop></D:set><D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove></D:propertyupdate>`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProppatch(bytes.NewReader(body), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
