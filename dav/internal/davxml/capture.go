package davxml

import (
	"encoding/xml"
	"slices"
)

// capture consumes the element just started and returns its content as
// namespace-self-contained XML (see the package documentation). The result
// is never nil.
//
// Each top-level child element is first written to a scratch buffer while
// the prefixes it borrows from outside (declared on the captured element or
// its ancestors) are collected; then its start tag is written with those
// bindings declared, followed by the rest of the scratch buffer.
func (p *parser) capture() ([]byte, error) {
	base := len(p.stack) // depth of the captured element
	out := make([]byte, 0, 64)
	var (
		child    []byte          // the top-level child being written
		nameEnd  int             // offset in child just after its element name
		tagEnd   = -1            // offset in child just after the latest start tag
		borrowed map[string]bool // prefixes the child takes from outside
	)
	// use notes a reference to prefix from inside the current top-level
	// child. startElement has already rejected undeclared prefixes.
	use := func(prefix string) {
		if prefix == "xml" {
			return
		}
		b, ok := p.lookup(prefix)
		if !ok && prefix != "" {
			return
		}
		if !ok || b.depth <= base {
			if borrowed == nil {
				borrowed = make(map[string]bool)
			}
			borrowed[prefix] = true
		}
	}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		depth := len(p.stack) // after the token: the start is pushed, the end popped
		switch t.kind {
		case tokText:
			if depth == base {
				out = EscapeText(out, string(t.text))
			} else {
				child = EscapeText(child, string(t.text))
			}
		case tokStart:
			if depth == base+1 {
				child = child[:0]
				clear(borrowed)
			}
			child = append(child, '<')
			child = appendRaw(child, t.start.Name)
			if depth == base+1 {
				nameEnd = len(child)
			}
			use(t.start.Name.Space)
			for _, a := range t.start.Attr {
				if a.Name.Space != "xmlns" && a.Name.Space != "" {
					use(a.Name.Space)
				}
				child = append(child, ' ')
				child = appendRaw(child, a.Name)
				child = append(child, '=', '"')
				child = EscapeAttr(child, a.Value)
				child = append(child, '"')
			}
			child = append(child, '>')
			tagEnd = len(child)
		case tokEnd:
			if depth < base {
				return out, nil // The captured element itself has ended.
			}
			if len(child) == tagEnd {
				child = append(child[:tagEnd-1], '/', '>')
			} else {
				child = append(child, '<', '/')
				child = appendRaw(child, t.raw)
				child = append(child, '>')
			}
			tagEnd = -1
			if depth == base {
				out = append(out, child[:nameEnd]...)
				out = p.appendBorrowed(out, borrowed)
				out = append(out, child[nameEnd:]...)
			}
		}
	}
}

// appendBorrowed declares the outside bindings a top-level child relies on,
// in a stable order. The default namespace comes first; when it is borrowed
// but nothing declares one, xmlns="" keeps the child out of whatever default
// namespace the document it is pasted into declares.
func (p *parser) appendBorrowed(dst []byte, borrowed map[string]bool) []byte {
	prefixes := make([]string, 0, len(borrowed))
	for prefix := range borrowed {
		prefixes = append(prefixes, prefix)
	}
	slices.Sort(prefixes)
	for _, prefix := range prefixes {
		b, _ := p.lookup(prefix)
		if prefix == "" {
			dst = append(dst, ` xmlns="`...)
		} else {
			dst = append(dst, ` xmlns:`...)
			dst = append(dst, prefix...)
			dst = append(dst, '=', '"')
		}
		dst = EscapeAttr(dst, b.uri)
		dst = append(dst, '"')
	}
	return dst
}

func appendRaw(dst []byte, n xml.Name) []byte {
	if n.Space != "" {
		dst = append(dst, n.Space...)
		dst = append(dst, ':')
	}
	return append(dst, n.Local...)
}
