package dav

// CacheMaxAge is how long a listing rendering is reused before it is verified anew.
const CacheMaxAge = cacheMaxAge
