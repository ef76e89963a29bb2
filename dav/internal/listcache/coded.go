package listcache

import (
	"bytes"
	"encoding/binary"
)

// Coded renderings. A big listing is kept with its markup replaced by references into a
// dictionary built while it is rendered: the runs of back-to-back tags between two texts (the
// response skeleton, the tags of the properties, the supportedlock value) repeat from entry to
// entry, so an allprop entry of about 730 bytes is kept in about 150 and the memory a cached
// listing holds grows slowly with its size. A cache hit expands it again while writing, with
// no scanning: the coding is a sequence of operations
//
//	uvarint(n) text[n] k
//
// where text is copied as is and k is a dictionary index, or codeNone.
const (
	codeNone    = 0xff
	codeMaxDict = codeNone // indexes 0..254
)

// coder codes the entries of one rendering. It is deterministic: the same entries give the same
// coding and the same dictionary.
type coder struct {
	index map[string]byte
	dict  []string
	mem   int // bytes the dictionary holds
}

// encode appends the coding of entry b to dst.
func (c *coder) encode(dst, b []byte) []byte {
	if c.index == nil {
		c.index = map[string]byte{}
	}
	text := 0 // start of the pending text
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			break
		}
		start := i + j
		end := start
		for end < len(b) && b[end] == '<' { // a run of back-to-back tags
			k := bytes.IndexByte(b[end:], '>')
			if k < 0 {
				break
			}
			end += k + 1
		}
		if end == start {
			break // a '<' without '>': cannot happen in a rendering; kept as text
		}
		k, ok := c.index[string(b[start:end])]
		if !ok && len(c.dict) < codeMaxDict {
			k, ok = byte(len(c.dict)), true
			s := string(b[start:end])
			c.index[s] = k
			c.dict = append(c.dict, s)
			c.mem += len(s) + 32
		}
		if ok {
			dst = binary.AppendUvarint(dst, uint64(start-text))
			dst = append(dst, b[text:start]...)
			dst = append(dst, k)
			text = end
		}
		i = end
	}
	dst = binary.AppendUvarint(dst, uint64(len(b)-text))
	dst = append(dst, b[text:]...)
	return append(dst, codeNone)
}

// sameDict reports whether c built exactly the dictionary dict.
func (c *coder) sameDict(dict []string) bool {
	if len(c.dict) != len(dict) {
		return false
	}
	for i := range dict {
		if c.dict[i] != dict[i] {
			return false
		}
	}
	return true
}

// decodeTo expands the coded src with dictionary dict, writing it to write in pieces of about
// cap(buf) (buf is scratch space, returned for reuse).
func decodeTo(write func([]byte), buf []byte, dict []string, src []byte) []byte {
	buf = buf[:0]
	for len(src) > 0 {
		n, w := binary.Uvarint(src)
		if w <= 0 || n >= uint64(len(src)-w) {
			break // not a coding: cannot happen
		}
		text, k := src[w:w+int(n)], src[w+int(n)]
		src = src[w+int(n)+1:]
		var d string
		if k != codeNone && int(k) < len(dict) {
			d = dict[k]
		}
		if len(buf)+len(text)+len(d) > cap(buf) && len(buf) > 0 {
			write(buf)
			buf = buf[:0]
		}
		if len(text) > cap(buf)/2 {
			write(text)
			text = nil
		}
		buf = append(buf, text...)
		buf = append(buf, d...)
	}
	if len(buf) > 0 {
		write(buf)
	}
	return buf
}
