package dav

import (
	"net/http"

	"github.com/davd/davd/dav/internal/listcache"
)

// CacheMaxAge is how long a listing rendering is reused before it is verified anew.
const CacheMaxAge = listcache.MaxAge

// ParseContentRange exposes the partial PUT's Content-Range parser to the fuzz target.
func ParseContentRange(v string) (first, last, complete int64, ok bool) {
	cr, err := parseContentRange(v)
	return cr.first, cr.last, cr.complete, err == nil
}

// ParseDigestHeaders exposes the digest request headers' parser to the fuzz target: the
// algorithms to verify with their digests' lengths, and the one to answer with.
func ParseDigestHeaders(ocChecksum, reprDigest, wantRepr string) (lens map[string]int, want string, err error) {
	r, _ := http.NewRequest("PUT", "/", nil)
	r.Header.Set("OC-Checksum", ocChecksum)
	r.Header.Set("Repr-Digest", reprDigest)
	r.Header.Set("Want-Repr-Digest", wantRepr)
	d, err := parseDigestReq(r)
	lens = map[string]int{}
	for a, s := range d.expect {
		lens[a] = len(s)
	}
	return lens, d.want, err
}

// PlainRequest exposes the test that sends a GET past http.ServeContent.
var PlainRequest = plainRequest
