package davxml

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Errors returned, wrapped with detail, by the parsers.
var (
	// ErrTooLarge means the body is longer than Limits.MaxBytes; the engine
	// answers 413 Content Too Large.
	ErrTooLarge = errors.New("davxml: body too large")
	// ErrMalformed means the body is not namespace-well-formed XML, carries a
	// DOCTYPE, or exceeds Limits.MaxDepth or Limits.MaxProps; the engine
	// answers 400 Bad Request.
	ErrMalformed = errors.New("davxml: malformed XML")
	// ErrInvalid means the body is well-formed XML but not a valid body for
	// the method (wrong root element, missing or conflicting children); the
	// engine answers 422 Unprocessable Content.
	ErrInvalid = errors.New("davxml: invalid body")
)

// Name is a namespace-qualified XML name: Space is the namespace URI, never a
// prefix, and Local the local name.
type Name = xml.Name

// Limits bounds the work one parse may do. A zero field means the
// corresponding field of DefaultLimits.
type Limits struct {
	// MaxBytes is the longest body accepted, in bytes.
	MaxBytes int64
	// MaxDepth is the deepest element nesting accepted; the root element is
	// at depth 1.
	MaxDepth int
	// MaxProps is the largest number of property elements (in DAV:prop of a
	// PROPFIND or PROPPATCH, or in DAV:include) accepted in one body.
	MaxProps int
}

// DefaultLimits are the limits used for zero fields of a Limits.
var DefaultLimits = Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxProps: 10000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxProps <= 0 {
		l.MaxProps = DefaultLimits.MaxProps
	}
	return l
}

const (
	nsDAV   = "DAV:"
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

func dav(local string) xml.Name { return xml.Name{Space: nsDAV, Local: local} }

// limitReader passes through at most n bytes and reports ErrTooLarge when
// the body has more. It remembers why reading stopped, because
// encoding/xml does not always hand the reader's error back unchanged.
type limitReader struct {
	r        io.Reader
	n        int64
	tooLarge bool
	ioErr    error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.tooLarge {
		return 0, ErrTooLarge
	}
	if l.n <= 0 {
		// The limit is reached: the body is acceptable only if it ends here.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.tooLarge = true
			return 0, ErrTooLarge
		}
		return 0, l.note(err)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, l.note(err)
}

func (l *limitReader) note(err error) error {
	if err != nil && err != io.EOF && l.ioErr == nil {
		l.ioErr = err
	}
	return err
}

// binding is one namespace declaration in scope.
type binding struct {
	uri   string
	depth int // depth of the element that declared it
}

// frame is one open element.
type frame struct {
	raw      xml.Name // as written: Space holds the prefix
	declared []string // prefixes this element declared ("" for the default)
	lang     string   // xml:lang in scope
}

// token is what next returns: a start or end element with its name resolved,
// or character data.
type token struct {
	kind  int
	name  xml.Name         // resolved, for start and end
	start xml.StartElement // raw, for start
	raw   xml.Name         // raw, for end
	text  []byte           // for text; valid until the next call
}

const (
	tokStart = iota + 1
	tokEnd
	tokText
)

// parser reads one request body.
type parser struct {
	lr    *limitReader
	d     *xml.Decoder
	lim   Limits
	br    *bufio.Reader // pooled; released by close
	stack []frame
	ns    map[string][]binding // prefix -> bindings, innermost last
	props int
	root  bool // the root element has been seen
	ntok  int  // raw tokens read so far
	inv   error
}

// newParser prepares to read r and reports whether the body is empty, that
// is, holds nothing but white space (and possibly a UTF-8 byte order mark).
func newParser(r io.Reader, lim Limits) (*parser, bool, error) {
	lim = lim.withDefaults()
	lr := &limitReader{r: r, n: lim.MaxBytes}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(lr)
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	for {
		c, err := br.ReadByte()
		if err != nil {
			putReader(br)
			if lr.tooLarge {
				return nil, false, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
			}
			if lr.ioErr != nil {
				return nil, false, fmt.Errorf("davxml: read body: %w", lr.ioErr)
			}
			return nil, true, nil
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			br.UnreadByte()
			break
		}
	}
	d := xml.NewDecoder(br)
	d.Strict = true
	d.CharsetReader = charsetReader
	return &parser{lr: lr, br: br, d: d, lim: lim, ns: make(map[string][]binding)}, false, nil
}

// readerPool recycles the buffered readers of request bodies (one per PROPFIND otherwise).
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

// close returns the parser's reader to the pool; the parser must not be used afterwards.
func (p *parser) close() {
	if p.br != nil {
		putReader(p.br)
		p.br = nil
	}
}

// charsetReader accepts the single-byte encodings that old clients declare.
// UTF-8 is handled by encoding/xml itself.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii":
		return &latin1Reader{r: bufio.NewReader(r)}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", charset)
}

// latin1Reader converts ISO-8859-1 to UTF-8.
type latin1Reader struct {
	r       *bufio.Reader
	pending byte // second byte of an encoded rune, if not 0
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if l.pending != 0 {
			p[n] = l.pending
			l.pending = 0
			n++
			continue
		}
		if n > 0 && l.r.Buffered() == 0 {
			break
		}
		c, err := l.r.ReadByte()
		if err != nil {
			return n, err
		}
		if c < 0x80 {
			p[n] = c
		} else {
			p[n] = 0xc0 | c>>6
			l.pending = 0x80 | c&0x3f
		}
		n++
	}
	return n, nil
}

func (p *parser) malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// invalid records the first reason the body is invalid for the method. The
// parse goes on, so that a malformed or oversized body is reported as such.
func (p *parser) invalid(format string, args ...any) {
	if p.inv == nil {
		p.inv = fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
}

// readErr classifies an error from the decoder.
func (p *parser) readErr(err error) error {
	switch {
	case p.lr.tooLarge:
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, p.lim.MaxBytes)
	case p.lr.ioErr != nil:
		return fmt.Errorf("davxml: read body: %w", p.lr.ioErr)
	case err == io.EOF:
		if len(p.stack) > 0 {
			return p.malformed("unexpected end of body inside <%s>", rawName(p.stack[len(p.stack)-1].raw))
		}
		return p.malformed("no root element")
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// lookup returns the binding in scope for prefix.
func (p *parser) lookup(prefix string) (binding, bool) {
	if prefix == "xml" {
		return binding{uri: nsXML}, true
	}
	bs := p.ns[prefix]
	if len(bs) == 0 {
		return binding{}, false
	}
	return bs[len(bs)-1], true
}

// next returns the next element boundary or text inside the root element,
// skipping comments and processing instructions. Before the root element it
// skips to the root; after the root has ended it checks that only white
// space, comments and processing instructions follow, and returns io.EOF.
func (p *parser) next() (token, error) {
	for {
		t, err := p.d.RawToken()
		p.ntok++
		if err != nil {
			if err == io.EOF && len(p.stack) == 0 && p.root {
				return token{}, io.EOF
			}
			return token{}, p.readErr(err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			if len(p.stack) == 0 && p.root {
				return token{}, p.malformed("element <%s> after the root element", rawName(t.Name))
			}
			p.root = true
			return p.startElement(t)
		case xml.EndElement:
			return p.endElement(t)
		case xml.CharData:
			if len(p.stack) == 0 {
				if !isSpace(t) {
					return token{}, p.malformed("text outside the root element")
				}
				continue
			}
			return token{kind: tokText, text: t}, nil
		case xml.Directive:
			return token{}, p.malformed("DOCTYPE and other declarations are not allowed")
		case xml.ProcInst:
			// encoding/xml honours an encoding declared in any <?xml?>; only
			// the first token may be the XML declaration.
			if p.ntok > 1 && strings.EqualFold(t.Target, "xml") {
				return token{}, p.malformed("XML declaration not at the start of the body")
			}
		case xml.Comment:
			// Comments carry no meaning for WebDAV.
		}
	}
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func (p *parser) startElement(t xml.StartElement) (token, error) {
	depth := len(p.stack) + 1
	if depth > p.lim.MaxDepth {
		return token{}, p.malformed("elements nested deeper than %d", p.lim.MaxDepth)
	}
	if strings.Contains(t.Name.Local, ":") || t.Name.Space == "xmlns" {
		return token{}, p.malformed("bad element name %q", rawName(t.Name))
	}
	f := frame{raw: t.Name}
	if depth > 1 {
		f.lang = p.stack[depth-2].lang
	}
	// Declarations on an element apply to its own name and attributes, so
	// they are processed first.
	for _, a := range t.Attr {
		if strings.Contains(a.Name.Local, ":") {
			return token{}, p.malformed("bad attribute name %q", rawName(a.Name))
		}
		var prefix string
		switch {
		case a.Name.Space == "xmlns":
			prefix = a.Name.Local
			switch {
			case a.Value == "":
				return token{}, p.malformed("empty namespace name for prefix %q", prefix)
			case prefix == "xmlns":
				return token{}, p.malformed("the xmlns prefix cannot be declared")
			case prefix == "xml" && a.Value != nsXML, prefix != "xml" && a.Value == nsXML:
				return token{}, p.malformed("the xml prefix and only it is bound to %s", nsXML)
			}
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			prefix = ""
			if a.Value == nsXML {
				return token{}, p.malformed("the default namespace cannot be %s", nsXML)
			}
		default:
			continue
		}
		if a.Value == nsXMLNS {
			return token{}, p.malformed("the namespace %s cannot be declared", nsXMLNS)
		}
		if prefix == "xml" {
			continue // Binding xml to its own namespace is allowed and changes nothing.
		}
		p.ns[prefix] = append(p.ns[prefix], binding{uri: a.Value, depth: depth})
		f.declared = append(f.declared, prefix)
	}
	// Push the frame before any error return below, so that the scope is
	// popped consistently; errors end the parse anyway.
	p.stack = append(p.stack, f)

	name := xml.Name{Local: t.Name.Local}
	b, ok := p.lookup(t.Name.Space)
	if !ok && t.Name.Space != "" {
		return token{}, p.malformed("undeclared namespace prefix %q on <%s>", t.Name.Space, rawName(t.Name))
	}
	name.Space = b.uri

	if err := p.checkAttrs(t.Attr); err != nil {
		return token{}, err
	}
	for _, a := range t.Attr {
		if a.Name.Space == "xml" && a.Name.Local == "lang" {
			p.stack[depth-1].lang = a.Value
		}
	}
	return token{kind: tokStart, name: name, start: t}, nil
}

// checkAttrs rejects undeclared attribute prefixes and attributes that are
// duplicates by raw or by expanded name.
func (p *parser) checkAttrs(attrs []xml.Attr) error {
	type key struct{ space, local string }
	var seen map[key]struct{}
	if len(attrs) > 8 {
		seen = make(map[key]struct{}, 2*len(attrs))
	}
	expanded := make([]key, 0, 8)
	for i, a := range attrs {
		k := key{a.Name.Space, a.Name.Local}
		switch {
		case a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns":
			k.space = "\x00" + k.space // Declarations are only checked raw.
		case a.Name.Space != "":
			b, ok := p.lookup(a.Name.Space)
			if !ok {
				return p.malformed("undeclared namespace prefix %q on attribute %q", a.Name.Space, rawName(a.Name))
			}
			k.space = b.uri
		}
		if seen != nil {
			raw := key{"\x01" + a.Name.Space, a.Name.Local}
			if _, dup := seen[raw]; dup {
				return p.malformed("duplicate attribute %q", rawName(a.Name))
			}
			seen[raw] = struct{}{}
			if _, dup := seen[k]; dup {
				return p.malformed("duplicate attribute %q", rawName(a.Name))
			}
			seen[k] = struct{}{}
			continue
		}
		for j := range i {
			if attrs[j].Name == a.Name || expanded[j] == k {
				return p.malformed("duplicate attribute %q", rawName(a.Name))
			}
		}
		expanded = append(expanded, k)
	}
	return nil
}

func (p *parser) endElement(t xml.EndElement) (token, error) {
	if len(p.stack) == 0 {
		return token{}, p.malformed("unexpected end tag </%s>", rawName(t.Name))
	}
	f := p.stack[len(p.stack)-1]
	if f.raw != t.Name {
		return token{}, p.malformed("element <%s> closed by </%s>", rawName(f.raw), rawName(t.Name))
	}
	// Resolve before popping: the end tag is in the element's own scope.
	b, _ := p.lookup(t.Name.Space)
	for _, prefix := range f.declared {
		bs := p.ns[prefix]
		p.ns[prefix] = bs[:len(bs)-1]
	}
	p.stack = p.stack[:len(p.stack)-1]
	return token{kind: tokEnd, name: xml.Name{Space: b.uri, Local: t.Name.Local}, raw: t.Name}, nil
}

// document reads the whole body. It checks the root element's name, calls
// child for each child element of the root, and drains the body to its end.
// child must consume the element it is given (with skip, children, names or
// capture). The first hard error is returned; otherwise the first invalid
// reason recorded, if any.
func (p *parser) document(root xml.Name, child func(xml.Name) error) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	// next skips everything before the root, so t is the root's start.
	if t.name != root {
		p.invalid("root element is {%s}%s, want {%s}%s", t.name.Space, t.name.Local, root.Space, root.Local)
		err = p.skip()
	} else {
		err = p.children(child)
	}
	if err != nil {
		return err
	}
	if _, err := p.next(); err != io.EOF {
		if err == nil {
			err = p.malformed("content after the root element")
		}
		return err
	}
	return p.inv
}

// children calls fn for each child element of the element just started, and
// returns after its end tag. Text between the children is ignored.
func (p *parser) children(fn func(xml.Name) error) error {
	depth := len(p.stack)
	for {
		t, err := p.next()
		if err != nil {
			return err
		}
		switch t.kind {
		case tokStart:
			if err := fn(t.name); err != nil {
				return err
			}
			if len(p.stack) != depth {
				panic("davxml: child element not consumed")
			}
		case tokEnd:
			return nil
		}
	}
}

// skip consumes the element just started, checking everything inside it.
func (p *parser) skip() error {
	depth := len(p.stack)
	for len(p.stack) >= depth {
		if _, err := p.next(); err != nil {
			return err
		}
	}
	return nil
}

// names appends the name of each child element of the element just started
// to dst, counting them against MaxProps, and ignores their content.
func (p *parser) names(dst *[]xml.Name) error {
	return p.children(func(n xml.Name) error {
		if err := p.countProp(); err != nil {
			return err
		}
		*dst = append(*dst, n)
		return p.skip()
	})
}

func (p *parser) countProp() error {
	p.props++
	if p.props > p.lim.MaxProps {
		return p.malformed("more than %d properties", p.lim.MaxProps)
	}
	return nil
}

// lang returns the xml:lang in scope on the innermost open element.
func (p *parser) lang() string { return p.stack[len(p.stack)-1].lang }
