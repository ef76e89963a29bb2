// Package davxml turns WebDAV request bodies (PROPFIND, PROPPATCH, LOCK) into
// typed values, and offers the escaping appenders the engine's hand-written
// multistatus writer uses.
//
// # Safety
//
// Every parse is bounded by Limits: the body size (ErrTooLarge), the element
// nesting depth and the number of properties (ErrMalformed). A DOCTYPE is
// rejected on sight, so no DTD is read and no entity is ever expanded; only
// the five predefined entities and character references are understood. The
// billion-laughs and deep-nesting attacks therefore fail fast and in bounded
// memory.
//
// # Namespaces
//
// encoding/xml does not report undeclared prefixes, and its Token method
// forgets the prefix once it has resolved it, which makes an undeclared
// prefix indistinguishable from a namespace URI that happens to look like
// one. The parser therefore reads raw tokens (Decoder.RawToken) and resolves
// names itself, keeping one scope per open element. It rejects undeclared
// prefixes, prefixed undeclarations such as xmlns:p="" (forbidden by XML
// Namespaces 1.0), rebinding of the xml and xmlns prefixes, mismatched end
// tags, duplicate attributes, and content after the root element.
//
// # Errors
//
// ErrTooLarge means the body exceeds Limits.MaxBytes (413). ErrMalformed means
// the body is not namespace-well-formed XML or exceeds the structural limits
// (400). ErrInvalid means the XML is well formed but not what the method
// requires (422). Errors are wrapped with detail; test them with errors.Is.
// When the body cannot be read at all, the reader's error is returned wrapped
// and matches none of the three. Well-formedness and limits are checked over
// the whole body before an ErrInvalid is reported, so a client that sends a
// broken body learns that first.
//
// # Extensibility
//
// As RFC 4918 §17 requires, elements the parser does not understand are
// ignored wherever they appear, except inside property values and the lock
// owner, which are kept verbatim.
//
// # Values
//
// Property values and the lock owner are kept as raw XML that is
// namespace-self-contained: every namespace binding the content relies on
// from outside is re-declared on each top-level child element, and an
// unprefixed child that relies on having no default namespace gets
// xmlns="". Text is re-escaped, CDATA sections become escaped text, and
// comments and processing instructions are dropped. The engine can therefore
// paste a value between any start and end tag of a response and a
// namespace-aware reader sees the same elements, attributes and text.
package davxml
