package dav

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/davd/davd/access"
	"github.com/davd/davd/dav/internal/davxml"
	"github.com/davd/davd/dav/internal/listcache"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage"
)

// Checksums of content: the ownCloud/Nextcloud OC-Checksum header and oc:checksums property
// (what their clients and rclone's owncloud and nextcloud vendors speak), and RFC 9530's
// Repr-Digest and Want-Repr-Digest.
//
//   - A PUT with OC-Checksum or Repr-Digest is verified while the body streams into the
//     storage; a mismatch fails the Put (400) before it commits, so the old content stays.
//   - A PUT or GET with Want-Repr-Digest is answered with Repr-Digest (sha-256 or sha-512).
//   - PATCH with X-Recalculate-Hash (Nextcloud) answers OC-Checksum.
//   - Every digest known is kept as a dead property in davd's own namespace, hidden from
//     clients, stamped with the ETag it was computed for: it is used only while the ETag is
//     the same, so a change by any path, outside davd included, makes it stale. It moves and
//     copies with the resource, like any dead property. A GET that wants a digest nobody has
//     computed reads the file once before sending it; a PUT never reads anything twice.

// nsDavd is davd's own namespace for the dead properties it keeps for itself. Clients never see
// them and cannot set them.
const nsDavd = "urn:x-davd:"

// nsOC is the ownCloud namespace of oc:checksums.
const nsOC = "http://owncloud.org/ns"

// digestProp is the dead property that keeps the known digests of a resource.
var digestProp = props.Name{Space: nsDavd, Local: "digests"}

// Digest algorithms, by their OC-Checksum names.
const (
	algSHA1   = "SHA1"
	algMD5    = "MD5"
	algSHA256 = "SHA256"
	algSHA512 = "SHA512"
)

// newHash returns a hash of the algorithm, or nil for one davd does not compute.
func newHash(alg string) hash.Hash {
	switch alg {
	case algSHA1:
		return sha1.New()
	case algMD5:
		return md5.New()
	case algSHA256:
		return sha256.New()
	case algSHA512:
		return sha512.New()
	}
	return nil
}

// reprAlg maps RFC 9530 algorithm keys (the IANA registry's active ones) to OC names.
func reprAlg(key string) string {
	switch key {
	case "sha-256":
		return algSHA256
	case "sha-512":
		return algSHA512
	}
	return ""
}

// reprKey is the RFC 9530 key of an OC name.
func reprKey(alg string) string {
	if alg == algSHA512 {
		return "sha-512"
	}
	return "sha-256"
}

// digestReq is what a request asks of digests: values to verify and the algorithm to answer.
type digestReq struct {
	expect map[string][]byte // algorithm → the digest the client says the content has
	want   string            // the Repr-Digest algorithm to answer with, or ""
	// oc: the client speaks OC-Checksum, and reads oc:checksums back: SHA1 and MD5 are both
	// computed, as ownCloud and Nextcloud servers do, since rclone's owncloud vendor checks
	// MD5 and its nextcloud vendor SHA1, while both send SHA1.
	oc bool
}

// any reports whether the request asks for any digest work.
func (d *digestReq) any() bool { return len(d.expect) > 0 || d.want != "" || d.oc }

// algs lists every algorithm the request needs computed.
func (d *digestReq) algs() []string {
	var out []string
	add := func(a string) {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for a := range d.expect {
		add(a)
	}
	add(d.want)
	if d.oc {
		add(algSHA1)
		add(algMD5)
	}
	return out
}

// parseDigestReq reads OC-Checksum, Repr-Digest and Want-Repr-Digest. An OC-Checksum of a
// known type with a value that is no digest of it is a 400; unknown types (Adler32…) are not
// verified, as Nextcloud does not either. Repr-Digest and Want-Repr-Digest are structured
// fields (RFC 8941): members that cannot be parsed, or name algorithms davd does not
// compute, are ignored, as RFC 9530 §3 and §4 ask.
func parseDigestReq(r *http.Request) (digestReq, error) {
	var d digestReq
	expect := func(alg string, sum []byte) error {
		if h := newHash(alg); h == nil || len(sum) != h.Size() {
			return errStatus(http.StatusBadRequest, errors.New("checksum of the wrong length"))
		}
		if prev, ok := d.expect[alg]; ok && !bytes.Equal(prev, sum) {
			return errStatus(http.StatusBadRequest, errors.New("two different checksums of one kind"))
		}
		if d.expect == nil {
			d.expect = map[string][]byte{}
		}
		d.expect[alg] = sum
		return nil
	}
	for _, v := range r.Header.Values("OC-Checksum") {
		d.oc = true
		for _, f := range strings.Fields(v) {
			typ, val, ok := strings.Cut(f, ":")
			alg := strings.ToUpper(typ)
			if !ok || newHash(alg) == nil {
				continue
			}
			sum, err := hex.DecodeString(val)
			if err != nil {
				return d, errStatus(http.StatusBadRequest, errors.New("OC-Checksum is not hexadecimal"))
			}
			if err := expect(alg, sum); err != nil {
				return d, err
			}
		}
	}
	for _, m := range dictMembers(r.Header.Values("Repr-Digest")) {
		alg := reprAlg(m.key)
		if alg == "" || len(m.val) < 2 || m.val[0] != ':' || m.val[len(m.val)-1] != ':' {
			continue
		}
		sum, err := base64.StdEncoding.DecodeString(m.val[1 : len(m.val)-1])
		if err != nil {
			continue
		}
		if err := expect(alg, sum); err != nil {
			return d, err
		}
	}
	best := 0
	for _, m := range dictMembers(r.Header.Values("Want-Repr-Digest")) {
		alg := reprAlg(m.key)
		n, err := strconv.Atoi(m.val)
		if alg == "" || err != nil || n < 1 || n > 10 { // 0: "not acceptable"
			continue
		}
		if n > best || (n == best && alg == algSHA256) {
			best, d.want = n, alg
		}
	}
	return d, nil
}

type dictMember struct{ key, val string }

// dictMembers splits structured-field dictionaries (RFC 8941 §3.2) into key=value members,
// keys lower-cased, parameters dropped. Enough for digest fields, whose values are byte
// sequences (":base64:") and integers.
func dictMembers(vs []string) []dictMember {
	var out []dictMember
	for _, v := range vs {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			val, _, _ = strings.Cut(val, ";")
			out = append(out, dictMember{strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val)})
		}
	}
	return out
}

// digester hashes what it reads and, once the expected length has passed (or at the end when
// it is unknown), compares it with what the client said: a mismatch is the read's error, so
// the storage's Put fails before it commits and the old content stays.
type digester struct {
	r      io.Reader
	names  []string
	hashes []hash.Hash
	expect map[string][]byte
	size   int64 // expected length, or -1
	n      int64
	sums   map[string][]byte // once done
}

func newDigester(r io.Reader, d *digestReq, size int64) *digester {
	g := &digester{r: r, expect: d.expect, size: size}
	for _, a := range d.algs() {
		g.names = append(g.names, a)
		g.hashes = append(g.hashes, newHash(a))
	}
	return g
}

func (g *digester) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if n > 0 {
		for _, h := range g.hashes {
			h.Write(p[:n])
		}
		g.n += int64(n)
	}
	if g.sums == nil && (err == io.EOF || (g.size >= 0 && g.n == g.size)) {
		if verr := g.finish(); verr != nil {
			return n, verr
		}
	}
	return n, err
}

// finish computes the sums and checks them against the expected ones.
func (g *digester) finish() error {
	g.sums = make(map[string][]byte, len(g.names))
	for i, a := range g.names {
		g.sums[a] = g.hashes[i].Sum(nil)
	}
	for a, want := range g.expect {
		if !bytes.Equal(g.sums[a], want) {
			return errStatus(http.StatusBadRequest, errors.New(a+" checksum mismatch"))
		}
	}
	return nil
}

// digestBody wraps the content a PUT stores when the request asks for digests (nil otherwise).
func digestBody(d *digestReq, body io.Reader, size int64) (io.Reader, *digester) {
	if !d.any() {
		return body, nil
	}
	g := newDigester(body, d, size)
	return g, g
}

// putDigests, after a successful Put, answers Repr-Digest if it was asked for and keeps the
// digests for the new ETag. Failing to keep them costs nothing but a later recomputation.
func (h *Handler) putDigests(ctx context.Context, w http.ResponseWriter, p davpath.Path, d *digestReq, g *digester, ni storage.Info) {
	if g == nil || g.sums == nil {
		return
	}
	if d.want != "" {
		w.Header().Set("Repr-Digest", reprDigest(d.want, g.sums[d.want]))
	}
	h.keepDigests(ctx, p, ni.ETag, nil, g.sums)
}

// reprDigest formats one Repr-Digest member.
func reprDigest(alg string, sum []byte) string {
	return reprKey(alg) + "=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// knownDigests returns the digests kept for p that are still valid for etag: they are stored
// as "ETAG ALG:hex ALG:hex…", the ETag escaped as XML text.
func knownDigests(dead []props.Property, etag string) map[string][]byte {
	i := findDead(dead, digestProp.Space, digestProp.Local)
	if i < 0 || etag == "" {
		return nil
	}
	f := strings.Fields(string(dead[i].Value))
	if len(f) < 2 || f[0] != string(davxml.EscapeText(nil, etag)) {
		return nil
	}
	out := make(map[string][]byte, len(f)-1)
	for _, x := range f[1:] {
		alg, val, _ := strings.Cut(x, ":")
		if sum, err := hex.DecodeString(val); err == nil && newHash(alg) != nil {
			out[alg] = sum
		}
	}
	return out
}

// keepDigests stores sums for p at etag, with those of known still valid for it.
func (h *Handler) keepDigests(ctx context.Context, p davpath.Path, etag string, known, sums map[string][]byte) {
	if h.props == nil || etag == "" {
		return
	}
	// A GET or PATCH that keeps digests changes a property too: the listings that could show
	// it (oc:checksums) are not served from the cache meanwhile.
	id := h.cache.WriteStarted([]listcache.Scope{{Path: p}})
	defer h.cache.WriteDone(id)
	v := davxml.EscapeText(nil, etag)
	seen := map[string]bool{}
	for _, m := range []map[string][]byte{sums, known} {
		for _, a := range []string{algSHA1, algMD5, algSHA256, algSHA512} {
			if s, ok := m[a]; ok && !seen[a] {
				seen[a] = true
				v = append(append(append(append(v, ' '), a...), ':'), hex.EncodeToString(s)...)
			}
		}
	}
	err := h.props.Patch(ctx, p, []props.Op{{Prop: props.Property{Name: digestProp, Value: v}}})
	if err != nil {
		h.log.Debug("keeping digests", "path", p, "err", err)
	}
}

// fileDigests returns the digests algs of p's current content: the kept ones when they are
// still valid, else computed by reading the file once (and kept).
func (h *Handler) fileDigests(ctx context.Context, p davpath.Path, algs ...string) (map[string][]byte, storage.Info, error) {
	f, info, err := h.fs.Open(ctx, p)
	if err != nil {
		return nil, info, err
	}
	defer f.Close()
	var dead []props.Property
	if h.props != nil {
		if dead, err = h.props.Get(ctx, p); err != nil {
			return nil, info, err
		}
	}
	known := knownDigests(dead, info.ETag)
	var missing []string
	for _, a := range algs {
		if _, ok := known[a]; !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return known, info, nil
	}
	g := newDigester(f, &digestReq{}, -1)
	for _, a := range missing {
		g.names = append(g.names, a)
		g.hashes = append(g.hashes, newHash(a))
	}
	if _, err := io.Copy(io.Discard, g); err != nil {
		return nil, info, err
	}
	if g.sums == nil {
		g.finish()
	}
	h.keepDigests(ctx, p, info.ETag, known, g.sums)
	for a, s := range known {
		g.sums[a] = s
	}
	return g.sums, info, nil
}

// ocChecksums formats the known digests as oc:checksums' content (RFC-less: what Nextcloud
// answers, "SHA1:hex MD5:hex" in one oc:checksum element).
func appendOCChecksums(dst []byte, sums map[string][]byte) []byte {
	dst = append(dst, "<P:checksum>"...)
	first := true
	for _, a := range []string{algSHA1, algMD5, algSHA256, algSHA512} {
		if s, ok := sums[a]; ok {
			if !first {
				dst = append(dst, ' ')
			}
			first = false
			dst = append(append(append(dst, a...), ':'), hex.EncodeToString(s)...)
		}
	}
	return append(dst, "</P:checksum>"...)
}

// servePatch answers Nextcloud's PATCH with X-Recalculate-Hash (rclone's nextcloud vendor
// sends it after uploads): 200 with OC-Checksum of the file's current content. Any other PATCH
// is a 405, as before: davd has no patch format.
func (h *Handler) servePatch(w http.ResponseWriter, r *http.Request, p davpath.Path) error {
	alg := strings.ToUpper(strings.TrimSpace(r.Header.Get("X-Recalculate-Hash")))
	if alg == "" {
		return h.notAllowed(w)
	}
	if newHash(alg) == nil {
		return errStatus(http.StatusBadRequest, errors.New("X-Recalculate-Hash: unknown algorithm"))
	}
	if err := h.allow(r.Context(), access.Read, p); err != nil {
		return err
	}
	sums, _, err := h.fileDigests(r.Context(), p, alg)
	if err != nil {
		return err
	}
	w.Header().Set("OC-Checksum", alg+":"+hex.EncodeToString(sums[alg]))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// getDigest sets Repr-Digest on a GET or HEAD that asks for one (Want-Repr-Digest), for the
// whole representation even when a Range selects part of it (RFC 9530 §3). It is left out when
// the file changed between the two opens, rather than describe other content.
func (h *Handler) getDigest(r *http.Request, hd http.Header, p davpath.Path, info storage.Info) error {
	if r.Header.Get("Want-Repr-Digest") == "" {
		return nil
	}
	d, err := parseDigestReq(r)
	if err != nil || d.want == "" {
		return nil
	}
	sums, now, err := h.fileDigests(r.Context(), p, d.want)
	if err != nil {
		return err
	}
	if now.ETag == info.ETag {
		hd.Set("Repr-Digest", reprDigest(d.want, sums[d.want]))
	}
	return nil
}
