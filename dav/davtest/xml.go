package davtest

// This file holds helpers for checking the XML bodies the server emits. They
// are written independently of dav/internal/davxml, so that a bug there is
// not mirrored here.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

const (
	xmlNS   = "http://www.w3.org/XML/1998/namespace"
	xmlnsNS = "http://www.w3.org/2000/xmlns/"
)

// CheckNamespaces reports whether body is a well-formed XML document in which
// every element and attribute prefix resolves to a declared namespace. It
// also rejects what XML Namespaces 1.0 forbids and encoding/xml lets through:
// xmlns:p="" undeclarations, rebinding the xml or xmlns prefixes, names with
// more than one colon, duplicate attributes by expanded name, and a DOCTYPE
// (the server never emits one). The error names the offending line.
func CheckNamespaces(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	type frame struct {
		raw      xml.Name
		declared []string
	}
	var (
		stack []frame
		scope = map[string][]string{"xml": {xmlNS}}
		roots int
	)
	line := func() int { l, _ := d.InputPos(); return l }
	fail := func(format string, args ...any) error {
		return fmt.Errorf("line %d: %s", line(), fmt.Sprintf(format, args...))
	}
	resolve := func(prefix string) (string, bool) {
		uris := scope[prefix]
		if len(uris) == 0 {
			return "", prefix == ""
		}
		return uris[len(uris)-1], true
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
				if roots > 1 {
					return fail("second root element <%s>", qname(t.Name))
				}
			}
			f := frame{raw: t.Name}
			for _, a := range t.Attr {
				prefix, isDecl := "", false
				switch {
				case a.Name.Space == "xmlns":
					prefix, isDecl = a.Name.Local, true
					switch {
					case a.Value == "":
						return fail("xmlns:%s=\"\" is forbidden by XML Namespaces 1.0", prefix)
					case prefix == "xmlns":
						return fail("the xmlns prefix is declared")
					case (prefix == "xml") != (a.Value == xmlNS):
						return fail("xmlns:%s=%q misuses the xml namespace", prefix, a.Value)
					}
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					isDecl = true
					if a.Value == xmlNS {
						return fail("the default namespace is the xml namespace")
					}
				}
				if !isDecl {
					continue
				}
				if a.Value == xmlnsNS {
					return fail("the xmlns namespace is declared")
				}
				scope[prefix] = append(scope[prefix], a.Value)
				f.declared = append(f.declared, prefix)
			}
			stack = append(stack, f)
			if err := checkName(t.Name, true); err != nil {
				return fail("%v", err)
			}
			if _, ok := resolve(t.Name.Space); !ok {
				return fail("element <%s> uses undeclared prefix %q", qname(t.Name), t.Name.Space)
			}
			seen := make(map[xml.Name]bool, len(t.Attr))
			for _, a := range t.Attr {
				if err := checkName(a.Name, false); err != nil {
					return fail("%v", err)
				}
				if seen[a.Name] {
					return fail("duplicate attribute %s", qname(a.Name))
				}
				seen[a.Name] = true
				if a.Name.Space == "xmlns" || a.Name.Space == "" {
					continue
				}
				uri, ok := resolve(a.Name.Space)
				if !ok {
					return fail("attribute %s on <%s> uses undeclared prefix %q", qname(a.Name), qname(t.Name), a.Name.Space)
				}
				exp := xml.Name{Space: "\x00" + uri, Local: a.Name.Local}
				if seen[exp] {
					return fail("duplicate attribute {%s}%s on <%s>", uri, a.Name.Local, qname(t.Name))
				}
				seen[exp] = true
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return fail("end tag </%s> without a start tag", qname(t.Name))
			}
			f := stack[len(stack)-1]
			if f.raw != t.Name {
				return fail("<%s> closed by </%s>", qname(f.raw), qname(t.Name))
			}
			for _, p := range f.declared {
				scope[p] = scope[p][:len(scope[p])-1]
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimLeft(t, " \t\r\n")) > 0 {
				return fail("text outside the root element")
			}
		case xml.Directive:
			return fail("declaration <!%s> in a server body", firstWord(t))
		}
	}
	if len(stack) > 0 {
		return fail("unexpected end of document inside <%s>", qname(stack[len(stack)-1].raw))
	}
	if roots == 0 {
		return errors.New("no root element")
	}
	return nil
}

func checkName(n xml.Name, element bool) error {
	if strings.Contains(n.Local, ":") {
		return fmt.Errorf("name %q has more than one colon or an empty part", qname(n))
	}
	if element && n.Space == "xmlns" {
		return fmt.Errorf("element name %q uses the xmlns prefix", qname(n))
	}
	return nil
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func firstWord(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, " \t\r\n["); i >= 0 {
		s = s[:i]
	}
	return s
}

// Canonical returns the normal form that EqualXML compares, one node per
// line, indented two spaces per level:
//
//	{DAV:}multistatus
//	  {DAV:}response
//	    {DAV:}href
//	      "/a%20b"
//	    {urn:x}p xml:lang="en" {urn:y}a="1" b="2"
//
// Names are shown with their namespace URI, never their prefix; namespace
// declarations are dropped; attributes are sorted; text is quoted, adjacent
// text and CDATA sections are merged, and white-space-only text is dropped
// from elements that have child elements (the indentation between elements).
// Comments, processing instructions and the XML declaration are dropped.
// Canonical fails on any document CheckNamespaces rejects.
func Canonical(b []byte) (string, error) {
	if err := CheckNamespaces(b); err != nil {
		return "", err
	}
	type node struct {
		start xml.StartElement
		text  string
		elem  bool
		kids  []*node
	}
	root := &node{elem: true}
	stack := []*node{root}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not well-formed: %w", err)
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{start: t.Copy(), elem: true}
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(t) == 0 {
				continue
			}
			if k := len(top.kids); k > 0 && !top.kids[k-1].elem {
				top.kids[k-1].text += string(t)
			} else {
				top.kids = append(top.kids, &node{text: string(t)})
			}
		}
	}
	var sb strings.Builder
	var write func(n *node, depth int)
	write = func(n *node, depth int) {
		hasElem := slices.ContainsFunc(n.kids, func(k *node) bool { return k.elem })
		for _, k := range n.kids {
			if !k.elem {
				if hasElem && strings.Trim(k.text, " \t\r\n") == "" {
					continue
				}
				sb.WriteString(strings.Repeat("  ", depth))
				sb.WriteString(strconv.Quote(k.text))
				sb.WriteByte('\n')
				continue
			}
			sb.WriteString(strings.Repeat("  ", depth))
			sb.WriteString(clark(k.start.Name))
			var attrs []string
			for _, a := range k.start.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				attrs = append(attrs, clark(a.Name)+"="+strconv.Quote(a.Value))
			}
			slices.Sort(attrs)
			for _, a := range attrs {
				sb.WriteByte(' ')
				sb.WriteString(a)
			}
			sb.WriteByte('\n')
			write(k, depth+1)
		}
	}
	write(root, 0)
	return sb.String(), nil
}

// clark writes a name in Clark notation, {uri}local, with xml:lang kept
// short.
func clark(n xml.Name) string {
	switch n.Space {
	case "":
		return n.Local
	case xmlNS:
		return "xml:" + n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

// EqualXML reports whether a and b mean the same XML, comparing their
// Canonical forms: namespace URIs rather than prefixes, attribute order
// ignored, white space between elements ignored, xml:lang kept. When they
// differ, or either is not namespace-well-formed, the string explains how,
// as a line diff of the canonical forms ("-" lines from a, "+" from b).
func EqualXML(a, b []byte) (bool, string) {
	ca, err := Canonical(a)
	if err != nil {
		return false, "first document: " + err.Error()
	}
	cb, err := Canonical(b)
	if err != nil {
		return false, "second document: " + err.Error()
	}
	if ca == cb {
		return true, ""
	}
	return false, lineDiff(ca, cb)
}

// lineDiff returns a unified-style diff of two texts with two lines of
// context, computed by longest common subsequence over the lines that
// differ.
func lineDiff(a, b string) string {
	x := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	y := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	// Trim the common prefix and suffix; diff the middle.
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	type op struct {
		kind byte // ' ', '-', '+'
		line string
	}
	var ops []op
	for _, l := range x[:pre] {
		ops = append(ops, op{' ', l})
	}
	if len(mx)*len(my) <= 4<<20 {
		// lcs[i][j] is the LCS length of mx[i:] and my[j:].
		lcs := make([][]int, len(mx)+1)
		for i := range lcs {
			lcs[i] = make([]int, len(my)+1)
		}
		for i := len(mx) - 1; i >= 0; i-- {
			for j := len(my) - 1; j >= 0; j-- {
				if mx[i] == my[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(mx) || j < len(my) {
			switch {
			case i < len(mx) && j < len(my) && mx[i] == my[j]:
				ops = append(ops, op{' ', mx[i]})
				i++
				j++
			case i < len(mx) && (j == len(my) || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, op{'-', mx[i]})
				i++
			default:
				ops = append(ops, op{'+', my[j]})
				j++
			}
		}
	} else {
		for _, l := range mx {
			ops = append(ops, op{'-', l})
		}
		for _, l := range my {
			ops = append(ops, op{'+', l})
		}
	}
	for _, l := range x[len(x)-suf:] {
		ops = append(ops, op{' ', l})
	}
	// Print changed lines with two lines of context, "..." for gaps.
	const ctx = 2
	keep := make([]bool, len(ops))
	for i, o := range ops {
		if o.kind != ' ' {
			for k := max(0, i-ctx); k <= min(len(ops)-1, i+ctx); k++ {
				keep[k] = true
			}
		}
	}
	var sb strings.Builder
	sb.WriteString("canonical XML differs (- first, + second):\n")
	gap := false
	for i, o := range ops {
		if !keep[i] {
			gap = true
			continue
		}
		if gap {
			sb.WriteString("  ...\n")
			gap = false
		}
		sb.WriteByte(o.kind)
		sb.WriteByte(' ')
		sb.WriteString(o.line)
		sb.WriteByte('\n')
	}
	if gap {
		sb.WriteString("  ...\n")
	}
	return sb.String()
}
