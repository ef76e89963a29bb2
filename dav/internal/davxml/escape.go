package davxml

import "unicode/utf8"

// EscapeText appends s to dst escaped as XML character data and returns the
// extended buffer. It escapes &, < and > (so "]]>" cannot appear) and CR
// (which a parser would otherwise normalize away). Bytes that are not valid
// UTF-8 and characters XML 1.0 does not allow become U+FFFD, so the output
// is always well formed. It allocates only when dst must grow.
func EscapeText(dst []byte, s string) []byte { return escape(dst, s, false) }

// EscapeAttr appends s to dst escaped for use inside a double-quoted
// attribute value and returns the extended buffer. In addition to what
// EscapeText escapes, it escapes the double quote, and tab and line feed,
// which attribute-value normalization would otherwise turn into spaces.
func EscapeAttr(dst []byte, s string) []byte { return escape(dst, s, true) }

// plain marks the bytes that stand for themselves in both text and attributes: printable ASCII
// but for & < > and the double quote.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	t['&'], t['<'], t['>'], t['"'] = false, false, false, false
	return t
}()

func escape(dst []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		if plain[s[i]] {
			i++
			continue
		}
		c := s[i]
		var esc string
		size := 1
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				esc = "&amp;"
			case c == '<':
				esc = "&lt;"
			case c == '>':
				esc = "&gt;"
			case c == '\r':
				esc = "&#xD;"
			case c == '"' && attr:
				esc = "&quot;"
			case c == '\t' && attr:
				esc = "&#x9;"
			case c == '\n' && attr:
				esc = "&#xA;"
			case c < ' ' && c != '\t' && c != '\n':
				esc = "\uFFFD"
			default:
				i++
				continue
			}
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
				esc = "\uFFFD"
			} else {
				i += size
				continue
			}
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		i += size
		last = i
	}
	return append(dst, s[last:]...)
}
