package dav

import "github.com/davd/davd/dav/internal/listcache"

// CacheMaxAge is how long a listing rendering is reused before it is verified anew.
const CacheMaxAge = listcache.MaxAge

// ParseContentRange exposes the partial PUT's Content-Range parser to the fuzz target.
func ParseContentRange(v string) (first, last, complete int64, ok bool) {
	cr, err := parseContentRange(v)
	return cr.first, cr.last, cr.complete, err == nil
}
