package dav

import (
	"archive/zip"
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/davd/davd/access"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
)

// wantsZip reports a GET of a collection that asks for the whole folder as one archive
// (GET /DIR/?download=zip, the browser view's "Download folder"). Any other query is the
// collection's ordinary listing.
func wantsZip(r *http.Request) bool {
	return r.URL.RawQuery != "" && r.URL.Query().Get("download") == "zip"
}

// serveZip answers GET /DIR/?download=zip: the collection p and everything below it (or, with
// select=NAME parameters, the named members of p and everything below them), as a zip
// archive streamed while the tree is walked. Nothing is staged: no temp file, and memory holds
// only the listings of the collections on the way down (one per level), whatever the size of the
// files. Members are stored, not deflated: most of what people keep (photos, video, archives,
// office documents) is compressed already, and the copy then costs no CPU.
//
// What goes in is what a PROPFIND Depth: infinity of the same principal would show: a member the
// access policy refuses for Read is left out with everything below it, and a collection reached
// through a symbolic link is listed but not entered (storage.Info.Link: it may lead back to an
// ancestor). The storage never resolves a path outside its root, so no member can come from
// outside it. Once the 200 has started, a member that vanishes before it is opened is left out;
// a read failure inside a member stops the archive before its central directory, so the client
// holds an invalid zip rather than a valid-looking one with a wrong member. A client that goes
// away fails the next write or cancels ctx, and the walk stops there.
//
// A backslash in a name (legal on Unix) becomes "_" in the archive: Windows' extractors take it
// for a separator, and a name like `..\x` would then climb out of the extraction folder.
func (h *Handler) serveZip(w http.ResponseWriter, r *http.Request, p davpath.Path, info storage.Info) error {
	hd := w.Header()
	hd.Set("Content-Type", "application/zip")
	hd.Set("Content-Disposition", zipDisposition(zipName(p, info)))
	hd.Set("X-Content-Type-Options", "nosniff")
	// An archive is made anew for each request: it has no ETag or Last-Modified, so no cache
	// may answer a later request with an older tree.
	hd.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	zw := zip.NewWriter(w)
	z := &zipWalk{h: h, ctx: r.Context(), zw: zw, buf: make([]byte, 64<<10)}
	// ?select=NAME (repeated) keeps only those members of p, each with everything below it:
	// the browser view's download of a selection. A name that is not there selects nothing.
	if sel := r.URL.Query()["select"]; len(sel) > 0 {
		z.only = make(map[string]bool, len(sel))
		for _, name := range sel {
			z.only[name] = true
		}
	}
	z.walk(p, "")
	if z.err != nil {
		// The response has started: the status cannot change. The archive is left without its
		// central directory, so a client sees a truncated (invalid) zip, never a short but
		// valid-looking one.
		if !errors.Is(z.err, context.Canceled) {
			h.log.Info("zip download cut short", "path", p.String(), "err", z.err)
		}
		return nil
	}
	if err := zw.Close(); err != nil {
		h.log.Info("zip download cut short", "path", p.String(), "err", err)
	}
	return nil
}

// zipWalk is one archive being written.
type zipWalk struct {
	h   *Handler
	ctx context.Context
	zw  *zip.Writer
	buf []byte
	err error // the first write failure or cancellation: the walk stops
	// only, when not nil, names the members of the top collection to archive.
	only map[string]bool
}

// walk adds the members of collection d under the archive directory prefix rel ("" or
// ending in "/"), depth first, in byte order of names so that an archive of the same tree is
// the same archive.
func (z *zipWalk) walk(d davpath.Path, rel string) {
	h, ctx := z.h, z.ctx
	var members []storage.Info
	for info, err := range h.fs.List(ctx, d) {
		if err != nil {
			// The collection could not be listed whole (it vanished, or the storage failed):
			// what was listed is still archived; the rest is missing.
			h.log.Info("zip download: listing failed", "path", d.String(), "err", err)
			break
		}
		members = append(members, info)
	}
	slices.SortFunc(members, func(a, b storage.Info) int { return cmp.Compare(a.Name, b.Name) })
	for _, m := range members {
		if z.err = ctx.Err(); z.err != nil {
			return
		}
		if rel == "" && z.only != nil && !z.only[m.Name] {
			continue
		}
		q := d.Join(m.Name)
		if h.allow(ctx, access.Read, q) != nil {
			continue
		}
		name := rel + strings.ReplaceAll(m.Name, `\`, "_")
		if m.IsDir {
			if z.err = z.dir(name+"/", m); z.err != nil {
				return
			}
			if !m.Link {
				z.walk(q, name+"/")
				if z.err != nil {
					return
				}
			}
			continue
		}
		if z.err = z.file(q, name, m); z.err != nil {
			return
		}
	}
}

// dir adds a directory entry, so that empty collections survive the round trip.
func (z *zipWalk) dir(name string, m storage.Info) error {
	_, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: m.ModTime})
	return err
}

// file adds the content of q. A member that can no longer be opened is left out; only a failure
// to write (the client) stops the walk.
func (z *zipWalk) file(q davpath.Path, name string, m storage.Info) error {
	f, info, err := z.h.fs.Open(z.ctx, q)
	if err != nil {
		if z.ctx.Err() != nil {
			return z.ctx.Err()
		}
		return nil
	}
	defer f.Close()
	fw, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: info.ModTime})
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(zipOut{fw, z.ctx}, struct{ io.Reader }{f}, z.buf)
	var we writeErr
	if errors.As(err, &we) {
		return we.err
	}
	if z.ctx.Err() != nil {
		return z.ctx.Err()
	}
	// A read error (the file changed under us on some storage) ends this member short; the
	// next one starts at a clean entry boundary. Stop rather than go on: the archive could
	// not be trusted, and an entry cut short cannot be marked as such in a streamed zip.
	return err
}

// zipOut is the archive writer of one member, checked for cancellation between chunks. Its
// failures are wrapped, so that file can tell a write failure (the client) from a read one.
type zipOut struct {
	w   io.Writer
	ctx context.Context
}

func (o zipOut) Write(b []byte) (int, error) {
	if err := o.ctx.Err(); err != nil {
		return 0, writeErr{err}
	}
	n, err := o.w.Write(b)
	if err != nil {
		err = writeErr{err}
	}
	return n, err
}

type writeErr struct{ err error }

func (e writeErr) Error() string { return e.err.Error() }

// zipName is the archive's file name: the collection's name, or "files" for the root.
func zipName(p davpath.Path, info storage.Info) string {
	n := info.Name
	if p.IsRoot() || n == "" {
		n = "files"
	}
	return n + ".zip"
}

// zipDisposition is the Content-Disposition of an archive named name (RFC 6266): an ASCII
// fallback in filename and the exact name in filename* (RFC 8187), so that no byte of a
// member's name can end the header value or add a parameter.
func zipDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	var b strings.Builder
	b.WriteString(`attachment; filename="`)
	b.WriteString(ascii)
	b.WriteString(`"; filename*=UTF-8''`)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if attrChar(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		}
	}
	return b.String()
}

// attrChar reports the bytes RFC 8187 §3.2.1 lets stand for themselves in an ext-value.
func attrChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
