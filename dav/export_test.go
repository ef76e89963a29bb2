package dav

import "github.com/davd/davd/dav/internal/listcache"

// CacheMaxAge is how long a listing rendering is reused before it is verified anew.
const CacheMaxAge = listcache.MaxAge
