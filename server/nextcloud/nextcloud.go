// Package nextcloud serves the URL layout that Nextcloud and ownCloud clients (and rclone's
// "nextcloud" vendor) expect, in front of davd's engine:
//
//	PREFIX/remote.php/dav/files/U/…    user U's files: the same view as PREFIX/…
//	PREFIX/remote.php/dav/uploads/U/…  U's chunked uploads
//
// A chunked upload (Nextcloud's chunking, both the v1 names "START-END" and the v2 numbers) is a
// collection MKCOL'd under uploads/U/, chunks PUT into it, and a MOVE of its ".file" member
// onto the destination, with OC-Total-Length. The MOVE assembles the chunks, in the order of
// their names (numerically when all are numbers), by streaming them into one PUT of the
// destination through U's own engine, so that the upload passes the same access rules, lock
// checks, OC-Checksum verification, X-OC-Mtime, temporary file, fsync and rename as any PUT:
// nothing is held in memory, and a reader sees the old file or the whole new one. Only the
// user may use their paths: another user's name in the URL is a 403.
package nextcloud

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/quotafs"
)

// FilesPrefix is the unescaped URL path at which user's files are served under prefix.
func FilesPrefix(prefix, user string) string {
	return strings.TrimRight(prefix, "/") + "/remote.php/dav/files/" + user
}

// UploadsPrefix is the unescaped URL path of user's upload area under prefix.
func UploadsPrefix(prefix, user string) string {
	return strings.TrimRight(prefix, "/") + "/remote.php/dav/uploads/" + user
}

// Config wires a Layout.
type Config struct {
	// Prefix is the server's URL prefix (unescaped; "" for none).
	Prefix string
	// Files returns the engine that serves user's view at FilesPrefix(Prefix, user); nil when
	// the user has none.
	Files func(user string) http.Handler
	// Uploads returns the engine over user's upload area at UploadsPrefix(Prefix, user), and
	// the storage beneath it (root: the area itself).
	Uploads func(user string) (http.Handler, storage.Backend, error)
	// Logger receives assembly failures.
	Logger *slog.Logger
}

// Layout routes the Nextcloud URL space. It is safe for concurrent use.
type Layout struct {
	c Config
}

// New returns a Layout.
func New(c Config) *Layout {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Prefix = strings.TrimRight(c.Prefix, "/")
	return &Layout{c: c}
}

// split parses r's path: the area ("files" or "uploads"), the user and the path below the
// user's root; ok is false outside PREFIX/remote.php/dav/.
func (l *Layout) split(escaped string) (area, user string, rest []string, ok bool) {
	p, err := davpath.Parse(escaped, l.c.Prefix)
	if err != nil {
		return "", "", nil, false
	}
	segs := p.Segments()
	if len(segs) < 2 || segs[0] != "remote.php" || segs[1] != "dav" {
		return "", "", nil, false
	}
	if len(segs) < 4 {
		return "", "", nil, true
	}
	return segs[2], segs[3], segs[4:], true
}

// Under reports a request for the Nextcloud URL space.
func (l *Layout) Under(r *http.Request) bool {
	_, _, _, ok := l.split(r.URL.EscapedPath())
	return ok
}

// ServeHTTP answers a request for which Under is true, for the principal in its context.
func (l *Layout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	area, user, rest, _ := l.split(r.URL.EscapedPath())
	me := access.Principal(r.Context())
	switch {
	case area == "" || (area != "files" && area != "uploads"):
		plain(w, http.StatusNotFound, "Use /remote.php/dav/files/USER/ or /remote.php/dav/uploads/USER/.")
		return
	case me == "" || user != me:
		plain(w, http.StatusForbidden, "These are another user's paths.")
		return
	}
	if area == "files" {
		h := l.c.Files(me)
		if h == nil {
			plain(w, http.StatusForbidden, "No files for this user.")
			return
		}
		h.ServeHTTP(w, r)
		return
	}
	eng, fsys, err := l.c.Uploads(me)
	if err != nil {
		l.c.Logger.Error("nextcloud: upload area", "user", me, "err", err)
		plain(w, http.StatusInternalServerError, "The upload area is not available.")
		return
	}
	if r.Method == "MOVE" && len(rest) == 2 && rest[1] == ".file" {
		l.assemble(w, r, me, fsys, davpath.Root.Join(rest[0]))
		return
	}
	eng.ServeHTTP(w, r)
}

// assemble answers MOVE uploads/U/ID/.file: the chunks of dir, in order, become one PUT of the
// Destination (which must be among U's files), and dir is removed once it has landed.
func (l *Layout) assemble(w http.ResponseWriter, r *http.Request, user string, fsys storage.Backend, dir davpath.Path) {
	ctx := r.Context()
	dest, err := url.Parse(r.Header.Get("Destination"))
	if err != nil || r.Header.Get("Destination") == "" {
		plain(w, http.StatusBadRequest, "MOVE of .file needs a Destination.")
		return
	}
	area, du, rest, ok := l.split(dest.EscapedPath())
	if !ok || area != "files" || du != user || len(rest) == 0 {
		plain(w, http.StatusBadGateway, "The Destination must be one of this user's files (/remote.php/dav/files/USER/…).")
		return
	}
	files := l.c.Files(user)
	if files == nil {
		plain(w, http.StatusForbidden, "No files for this user.")
		return
	}
	chunks, total, err := listChunks(ctx, fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		plain(w, http.StatusNotFound, "No such upload.")
		return
	}
	if err != nil {
		l.c.Logger.Error("nextcloud: listing chunks", "user", user, "upload", string(dir), "err", err)
		plain(w, http.StatusInternalServerError, "The chunks could not be read.")
		return
	}
	if v := r.Header.Get("OC-Total-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n != total {
			plain(w, http.StatusBadRequest, "OC-Total-Length is "+v+" but the chunks hold "+strconv.FormatInt(total, 10)+" bytes.")
			return
		}
	}

	// The chunks are counted against the user's quota and go once the file is assembled: the
	// file needs room once, not twice.
	put := r.Clone(quotafs.WithCredit(ctx, total))
	put.Method = http.MethodPut
	put.URL = &url.URL{Path: dest.Path, RawPath: dest.RawPath}
	put.RequestURI = put.URL.RequestURI()
	put.Header = http.Header{}
	for _, k := range []string{"If", "If-Match", "If-None-Match", "If-Unmodified-Since", "X-OC-Mtime", "OC-Checksum", "Content-Type", "X-Requested-With"} {
		for _, v := range r.Header.Values(k) {
			put.Header.Add(k, v)
		}
	}
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("Overwrite")), "F") {
		put.Header.Set("If-None-Match", "*") // a MOVE that may not replace (RFC 4918 §10.6)
	}
	put.ContentLength = total
	put.Header.Set("Content-Length", strconv.FormatInt(total, 10))
	body := &chunkReader{ctx: ctx, fsys: fsys, dir: dir, names: chunks}
	put.Body = body
	rec := &recorder{h: http.Header{}}
	files.ServeHTTP(rec, put)
	body.Close()
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if rec.code == http.StatusCreated || rec.code == http.StatusNoContent || rec.code == http.StatusOK {
		if err := removeAll(ctx, fsys, dir); err != nil {
			l.c.Logger.Warn("nextcloud: removing an assembled upload", "user", user, "upload", string(dir), "err", err)
		}
	}
	for k, v := range rec.h {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	w.Write(rec.body)
}

// listChunks returns the chunk names of dir in assembly order and their total size.
func listChunks(ctx context.Context, fsys storage.Backend, dir davpath.Path) ([]string, int64, error) {
	info, err := fsys.Stat(ctx, dir)
	if err != nil {
		return nil, 0, err
	}
	if !info.IsDir {
		return nil, 0, fs.ErrNotExist
	}
	var names []string
	var total int64
	numeric := true
	for e, err := range fsys.List(ctx, dir) {
		if err != nil {
			return nil, 0, err
		}
		if e.IsDir || strings.HasPrefix(e.Name, ".") {
			continue
		}
		if _, err := strconv.ParseUint(e.Name, 10, 64); err != nil {
			numeric = false
		}
		names = append(names, e.Name)
		total += e.Size
	}
	if numeric {
		slices.SortFunc(names, func(a, b string) int {
			x, _ := strconv.ParseUint(a, 10, 64)
			y, _ := strconv.ParseUint(b, 10, 64)
			return cmpUint(x, y)
		})
	} else {
		slices.Sort(names) // v1 names: zero-padded start and end bytes
	}
	return names, total, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// chunkReader reads the chunks one after another, holding one open at a time.
type chunkReader struct {
	ctx   context.Context
	fsys  storage.Backend
	dir   davpath.Path
	names []string
	cur   io.ReadCloser
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for {
		if c.cur == nil {
			if len(c.names) == 0 {
				return 0, io.EOF
			}
			f, _, err := c.fsys.Open(c.ctx, c.dir.Join(c.names[0]))
			if err != nil {
				return 0, err
			}
			c.cur, c.names = f, c.names[1:]
		}
		n, err := c.cur.Read(p)
		if err == io.EOF {
			c.cur.Close()
			c.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *chunkReader) Close() error {
	if c.cur != nil {
		err := c.cur.Close()
		c.cur = nil
		return err
	}
	return nil
}

// removeAll removes dir and everything in it.
func removeAll(ctx context.Context, fsys storage.Backend, dir davpath.Path) error {
	var members []storage.Info
	for e, err := range fsys.List(ctx, dir) {
		if err != nil {
			return err
		}
		members = append(members, e)
	}
	for _, e := range members {
		var err error
		if e.IsDir {
			err = removeAll(ctx, fsys, dir.Join(e.Name))
		} else {
			err = fsys.Remove(ctx, dir.Join(e.Name))
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fsys.Remove(ctx, dir)
}

// recorder keeps the inner PUT's answer, which is small (a status, headers, maybe a short
// error body), to send it as the MOVE's.
type recorder struct {
	h    http.Header
	code int
	body []byte
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if len(r.body)+len(p) <= 64<<10 {
		r.body = append(r.body, p...)
	}
	return len(p), nil
}

func plain(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(msg)+1))
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// Sweep removes the uploads under dir (dir/USER/ID/) untouched for longer than maxAge: a
// client that gave up, or a node that died half way, leaves nothing behind for good.
func Sweep(dir string, maxAge time.Duration, now time.Time) (removed int, err error) {
	users, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for _, u := range users {
		if !u.IsDir() {
			continue
		}
		ups, err := os.ReadDir(filepath.Join(dir, u.Name()))
		if err != nil {
			return removed, err
		}
		for _, up := range ups {
			p := filepath.Join(dir, u.Name(), up.Name())
			if now.Sub(newest(p)) > maxAge {
				if err := os.RemoveAll(p); err != nil {
					return removed, err
				}
				removed++
			}
		}
	}
	return removed, nil
}

// newest is the latest modification time of p and its direct members.
func newest(p string) time.Time {
	fi, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	t := fi.ModTime()
	if !fi.IsDir() {
		return t
	}
	es, _ := os.ReadDir(p)
	for _, e := range es {
		if i, err := e.Info(); err == nil && i.ModTime().After(t) {
			t = i.ModTime()
		}
	}
	return t
}

// SweepBackend is Sweep over a storage backend whose root holds the users' upload areas
// (ROOT/USER/ID/): cluster mode keeps the uploads in a namespace of their own there
// (clusterfs.Tree), where any node may take any chunk, and every node may sweep. An upload
// whose newest member is older than maxAge is removed; one removed by another node meanwhile
// is not an error.
func SweepBackend(ctx context.Context, fsys storage.Backend, maxAge time.Duration, now time.Time) (removed int, err error) {
	var users []davpath.Path
	for u, err := range fsys.List(ctx, davpath.Root) {
		if err != nil {
			return 0, err
		}
		if u.IsDir {
			users = append(users, davpath.Root.Join(u.Name))
		}
	}
	for _, u := range users {
		var expired []davpath.Path
		for up, err := range fsys.List(ctx, u) {
			if err != nil {
				return removed, err
			}
			p := u.Join(up.Name)
			if t, err := newestIn(ctx, fsys, p, up); err != nil {
				return removed, err
			} else if now.Sub(t) > maxAge {
				expired = append(expired, p)
			}
		}
		for _, p := range expired {
			if err := removeTree(ctx, fsys, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return removed, err
			}
			removed++
		}
	}
	return removed, nil
}

// newestIn is the latest modification time of p (described by info) and its direct members.
func newestIn(ctx context.Context, fsys storage.Backend, p davpath.Path, info storage.Info) (time.Time, error) {
	t := info.ModTime
	if !info.IsDir {
		return t, nil
	}
	for m, err := range fsys.List(ctx, p) {
		if err != nil {
			return t, err
		}
		if m.ModTime.After(t) {
			t = m.ModTime
		}
	}
	return t, nil
}

// removeTree removes p and everything below it.
func removeTree(ctx context.Context, fsys storage.Backend, p davpath.Path) error {
	if tr, ok := fsys.(storage.TreeRemover); ok {
		return tr.RemoveAll(ctx, p)
	}
	var members []storage.Info
	for m, err := range fsys.List(ctx, p) {
		if err != nil {
			return err
		}
		members = append(members, m)
	}
	for _, m := range members {
		q := p.Join(m.Name)
		if m.IsDir {
			if err := removeTree(ctx, fsys, q); err != nil {
				return err
			}
		} else if err := fsys.Remove(ctx, q); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fsys.Remove(ctx, p)
}
