package davxml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// node is an independent, encoding/xml-based model of what a document means
// to a namespace-aware reader: resolved names, attributes without namespace
// declarations in a fixed order, merged text, xml:lang in scope. Tests use
// it as an oracle for the parser's captured values.
type node struct {
	name  xml.Name // zero for a text node
	attrs []xml.Attr
	lang  string
	text  string
	kids  []*node
}

// parseTree parses b with encoding/xml's namespace-aware Token and returns a
// document node whose kids are the top-level nodes. The optional lang is in
// scope at the top.
func parseTree(b []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = charsetReader
	doc := &node{}
	stack := []*node{doc}
	for {
		t, err := d.Token()
		if err == io.EOF {
			return doc, nil
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := t.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, lang: top.lang}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				if a.Name == (xml.Name{Space: nsXML, Local: "lang"}) {
					n.lang = a.Value
				}
				n.attrs = append(n.attrs, a)
			}
			slices.SortFunc(n.attrs, func(a, b xml.Attr) int {
				return strings.Compare(a.Name.Space+" "+a.Name.Local, b.Name.Space+" "+b.Name.Local)
			})
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(t) == 0 {
				continue
			}
			if k := len(top.kids); k > 0 && top.kids[k-1].name.Local == "" {
				top.kids[k-1].text += string(t)
			} else {
				top.kids = append(top.kids, &node{text: string(t)})
			}
		}
	}
}

// content renders the children of n canonically.
func (n *node) content() string {
	var b strings.Builder
	for _, k := range n.kids {
		k.render(&b)
	}
	return b.String()
}

func (n *node) render(b *strings.Builder) {
	if n.name.Local == "" {
		b.WriteString(strconv.Quote(n.text))
		return
	}
	fmt.Fprintf(b, "<{%s}%s", n.name.Space, n.name.Local)
	for _, a := range n.attrs {
		fmt.Fprintf(b, " {%s}%s=%q", a.Name.Space, a.Name.Local, a.Value)
	}
	b.WriteString(">")
	for _, k := range n.kids {
		k.render(b)
	}
	b.WriteString("</>")
}

// elems returns the element children of n.
func (n *node) elems() []*node {
	var out []*node
	for _, k := range n.kids {
		if k.name.Local != "" {
			out = append(out, k)
		}
	}
	return out
}

// trapPrefix wraps a captured value in an element whose scope binds the
// default namespace and many common prefixes to unrelated URIs, so that a
// value that is not self-contained changes meaning.
func wrapValue(v []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`<ns9:wrap xmlns:ns9="urn:wrapper" xmlns="urn:trap:default"`)
	for _, p := range []string{"D", "d", "Z", "z", "R", "a", "b", "x", "y", "ns", "ns0", "ns1", "lp1", "A", "B", "C", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "S", "T", "U", "V", "W", "X", "Y"} {
		fmt.Fprintf(&b, ` xmlns:%s="urn:trap:%s"`, p, p)
	}
	b.WriteString(">")
	b.Write(v)
	b.WriteString("</ns9:wrap>")
	return b.Bytes()
}
