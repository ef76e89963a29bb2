// Package rwcap names the optional capabilities of an http.ResponseWriter that the dav engine
// uses when they are there: everything a server front end (package server/h1) or a middleware
// may offer the engine beyond http.ResponseWriter is declared in this one file.
//
// Capabilities are found as http.ResponseController finds Flush and deadlines: on the writer
// itself, else on the writer its Unwrap method returns, and so on down the chain (Find). A
// middleware therefore forwards nothing by hand; it implements a capability itself only when it
// must see the calls (an access log counting bytes, a deadline extended per write), and then
// passes them on with Find on the writer it wraps.
package rwcap

import "net/http"

// VectorWriter is implemented by writers that send several buffers with one system call
// (writev(2)). WriteVectors writes bufs as the body, exactly as one Write of their concatenation
// would; the engine uses it to send a cached PROPFIND rendering, shared and uncopied, after the
// header.
type VectorWriter interface {
	WriteVectors(bufs [][]byte) (int64, error)
}

// Sniffless is implemented by writers whose io.ReaderFrom reads nothing ahead when the
// Content-Type header is set (net/http's reads 512 bytes to sniff one even then). The engine
// otherwise flushes the header before copying a file, so that net/http hands the whole body to
// sendfile(2); with a Sniffless writer that flush would only cost a write.
type Sniffless interface {
	ReadFromSniffless()
}

// Unwrapper is implemented by middleware writers that wrap another writer: the same method
// http.ResponseController follows.
type Unwrapper interface {
	Unwrap() http.ResponseWriter
}

// maxChain bounds the walk down an Unwrap chain, against a writer that unwraps to itself.
const maxChain = 16

// Find returns the first writer of w's Unwrap chain, w included, that implements T.
func Find[T any](w http.ResponseWriter) (T, bool) {
	for range maxChain {
		if t, ok := w.(T); ok {
			return t, true
		}
		u, ok := w.(Unwrapper)
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	var zero T
	return zero, false
}
