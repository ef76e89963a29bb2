package davtest

import (
	"strings"
	"testing"
)

func TestCheckNamespaces(t *testing.T) {
	good := []struct{ name, body string }{
		{"14.16 multistatus with prefixes", `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href><D:status>HTTP/1.1 200 OK</D:status></D:response></D:multistatus>`},
		{"default namespace", `<multistatus xmlns="DAV:"><response/></multistatus>`},
		{"default undeclared", `<D:prop xmlns:D="DAV:"><x xmlns="urn:x"><y xmlns=""/></x></D:prop>`},
		{"prefixed attribute and xml:lang", `<D:prop xmlns:D="DAV:" xmlns:a="urn:a" a:x="1" xml:lang="en"/>`},
		{"redeclared prefix in inner scope", `<D:a xmlns:D="DAV:"><D:b xmlns:D="urn:other"/><D:c/></D:a>`},
		{"xml prefix bound to its own namespace", `<a xmlns:xml="http://www.w3.org/XML/1998/namespace"/>`},
		{"comments and PIs around the root", "<!-- c --><a/><?pi x?>\n"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckNamespaces([]byte(tt.body)); err != nil {
				t.Fatalf("CheckNamespaces: %v", err)
			}
		})
	}
	bad := []struct{ name, body, want string }{
		{"undeclared element prefix", `<D:multistatus><D:response/></D:multistatus>`, "undeclared prefix"},
		{"lighttpd: undeclared prefix in error body", `<D:error xmlns:D="DAV:"><lp:foo/></D:error>`, "undeclared prefix"},
		{"undeclared attribute prefix", `<a x:y="1"/>`, "undeclared prefix"},
		{"prefix out of scope", `<r><a xmlns:p="urn:p"/><p:b/></r>`, "undeclared prefix"},
		{"empty prefixed binding", `<a xmlns:ns1=""/>`, "forbidden"},
		{"xmlns prefix declared", `<a xmlns:xmlns="urn:x"/>`, "xmlns prefix"},
		{"xml prefix rebound", `<a xmlns:xml="urn:x"/>`, "xml namespace"},
		{"duplicate attribute by expanded name", `<a xmlns:p="urn:p" xmlns:q="urn:p" p:x="1" q:x="2"/>`, "duplicate"},
		{"duplicate attribute", `<a x="1" x="2"/>`, "duplicate"},
		{"two colons", `<a:b:c xmlns:a="urn:a"/>`, "not well-formed"},
		{"mismatched tags", `<a><b></a></b>`, "closed by"},
		{"unclosed", `<a><b/>`, "end of document"},
		{"two roots", `<a/><b/>`, "second root"},
		{"text after root", `<a/>x`, "outside the root"},
		{"empty", ``, "no root"},
		{"DOCTYPE", `<!DOCTYPE a><a/>`, "DOCTYPE"},
		{"not XML", `<a>&nope;</a>`, "not well-formed"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNamespaces([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckNamespaces = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	body := `<?xml version="1.0"?>
<D:multistatus xmlns:D="DAV:" xmlns:Z="urn:z">
  <D:response>
    <D:href>/a</D:href>
    <!-- comment -->
    <D:propstat><D:prop><Z:p xml:lang="en" b="2" Z:a="1">x<![CDATA[<y>]]>z <Z:q/> </Z:p><Z:e> </Z:e></D:prop></D:propstat>
  </D:response>
</D:multistatus>`
	want := `{DAV:}multistatus
  {DAV:}response
    {DAV:}href
      "/a"
    {DAV:}propstat
      {DAV:}prop
        {urn:z}p b="2" xml:lang="en" {urn:z}a="1"
          "x<y>z "
          {urn:z}q
        {urn:z}e
          " "
`
	got, err := Canonical([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Canonical:\n%s\nwant:\n%s", got, want)
	}
	if _, err := Canonical([]byte(`<D:a/>`)); err == nil {
		t.Fatal("Canonical accepted an undeclared prefix")
	}
}

func TestEqualXML(t *testing.T) {
	same := []struct{ name, a, b string }{
		{"prefixes differ", `<D:a xmlns:D="DAV:"><D:b/></D:a>`, `<x:a xmlns:x="DAV:"><b xmlns="DAV:"/></x:a>`},
		{"attribute order and declarations", `<a xmlns:p="urn:p" p:x="1" y="2"/>`, `<a y="2" xmlns:q="urn:p" q:x="1"/>`},
		{"white space between elements", "<a>\n  <b/>\n  <c>t</c>\n</a>", `<a><b/><c>t</c></a>`},
		{"empty element forms", `<a><b></b></a>`, `<a><b/></a>`},
		{"escaping forms", `<a x="&quot;">&lt;&amp;</a>`, `<a x='"'><![CDATA[<&]]></a>`},
		{"comments and declaration", `<?xml version="1.0"?><!--c--><a/>`, `<a/>`},
	}
	for _, tt := range same {
		t.Run("same: "+tt.name, func(t *testing.T) {
			if eq, diff := EqualXML([]byte(tt.a), []byte(tt.b)); !eq {
				t.Fatalf("EqualXML = false:\n%s", diff)
			}
		})
	}
	differ := []struct{ name, a, b, want string }{
		{"namespace differs", `<D:a xmlns:D="DAV:"/>`, `<D:a xmlns:D="urn:x"/>`, "- {DAV:}a\n+ {urn:x}a"},
		{"text differs", `<a><b>1</b></a>`, `<a><b>2</b></a>`, `-     "1"` + "\n" + `+     "2"`},
		{"significant white space", `<a> </a>`, `<a/>`, `-   " "`},
		{"xml:lang kept", `<a xml:lang="en"/>`, `<a xml:lang="fr"/>`, `+ a xml:lang="fr"`},
		{"child order", `<a><b/><c/></a>`, `<a><c/><b/></a>`, "  a\n"},
		{"attribute missing", `<a x="1"/>`, `<a/>`, `- a x="1"`},
		{"first not well-formed", `<a>`, `<a/>`, "first document"},
		{"second has undeclared prefix", `<a/>`, `<p:a/>`, "second document"},
	}
	for _, tt := range differ {
		t.Run("differ: "+tt.name, func(t *testing.T) {
			eq, diff := EqualXML([]byte(tt.a), []byte(tt.b))
			if eq {
				t.Fatal("EqualXML = true")
			}
			if !strings.Contains(diff, tt.want) {
				t.Fatalf("diff does not contain %q:\n%s", tt.want, diff)
			}
		})
	}
}

func TestEqualXMLDiffContext(t *testing.T) {
	var a, b strings.Builder
	a.WriteString(`<r>`)
	b.WriteString(`<r>`)
	for i := range 50 {
		v := string(rune('a' + i%26))
		a.WriteString(`<e>` + v + `</e>`)
		if i == 25 {
			v = "changed"
		}
		b.WriteString(`<e>` + v + `</e>`)
	}
	a.WriteString(`</r>`)
	b.WriteString(`</r>`)
	eq, diff := EqualXML([]byte(a.String()), []byte(b.String()))
	if eq {
		t.Fatal("EqualXML = true")
	}
	if !strings.Contains(diff, `+     "changed"`) || !strings.Contains(diff, "...") || strings.Count(diff, "\n") > 12 {
		t.Fatalf("diff is not a short context diff:\n%s", diff)
	}
}

// FuzzCanonical checks that the helpers never panic and that a document is
// always equal to itself.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href></D:response></D:multistatus>`,
		`<a xmlns:p="urn:p" p:x="1" xml:lang="en"> t <![CDATA[<>]]><b/></a>`,
		`<a xmlns:ns1=""/>`,
		`<D:a/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Canonical(b)
		if (err == nil) != (CheckNamespaces(b) == nil) {
			t.Fatalf("Canonical and CheckNamespaces disagree: %v", err)
		}
		if err != nil {
			return
		}
		if eq, diff := EqualXML(b, b); !eq {
			t.Fatalf("document differs from itself:\n%s", diff)
		}
	})
}
