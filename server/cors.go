package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORS lets browser applications on other origins (note apps, password managers, web file
// managers) use davd. No origin is allowed by default.
type CORS struct {
	// Origins are the allowed origins, exactly as browsers send them ("https://app.example",
	// no path); "*" allows any origin, and then Credentials must be false.
	Origins []string `toml:"origins"`
	// Credentials lets the browser send cookies and Authorization to davd from those origins
	// (Access-Control-Allow-Credentials).
	Credentials bool `toml:"credentials"`
	// MaxAge is how long a browser may keep a preflight's answer (default 10m).
	MaxAge time.Duration `toml:"max_age"`
}

// corsMethods are what a preflight allows: every method davd answers.
const corsMethods = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK, POST, REPORT, MKREDIRECTREF, UPDATEREDIRECTREF"

// corsHeaders are the request headers WebDAV clients send; a preflight asking for others is
// answered without them, and the browser then refuses the request.
var corsHeaders = []string{
	"authorization", "content-type", "depth", "destination", "overwrite", "if", "lock-token", "timeout",
	"if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "range", "x-requested-with",
	"x-oc-mtime", "oc-checksum", "want-repr-digest", "repr-digest", "content-md5", "apply-to-redirect-ref",
}

// corsExposed are the response headers a script may read.
const corsExposed = "DAV, ETag, Lock-Token, Location, Content-Range, Content-Length, Last-Modified, Allow, Retry-After, WWW-Authenticate, Redirect-Ref"

func (c CORS) validate() error {
	for i, o := range c.Origins {
		if o == "*" {
			if c.Credentials {
				return fmt.Errorf("cors.origins[%d]: \"*\" cannot be combined with cors.credentials (browsers refuse it)", i)
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("cors.origins[%d]: %q is not an origin (scheme://host[:port])", i, o)
		}
	}
	return nil
}

// cors answers preflights and marks the responses to allowed origins. It sits outside
// authentication: a preflight carries no credentials.
func cors(c CORS, next http.Handler) http.Handler {
	if len(c.Origins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(c.Origins, "*")
	allowed := map[string]bool{}
	for _, o := range c.Origins {
		allowed[strings.TrimSuffix(o, "/")] = true
	}
	maxAge := strconv.Itoa(int(c.MaxAge.Seconds()))
	if c.MaxAge <= 0 {
		maxAge = "600"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin == "" || !(anyOrigin || allowed[origin]) {
			next.ServeHTTP(w, r)
			return
		}
		if anyOrigin && !c.Credentials {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if c.Credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			var ok []string
			for _, v := range r.Header.Values("Access-Control-Request-Headers") {
				for _, name := range strings.Split(v, ",") {
					if n := strings.ToLower(strings.TrimSpace(name)); slices.Contains(corsHeaders, n) {
						ok = append(ok, n)
					}
				}
			}
			if len(ok) > 0 {
				h.Set("Access-Control-Allow-Headers", strings.Join(ok, ", "))
			}
			h.Set("Access-Control-Max-Age", maxAge)
			h.Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposed)
		next.ServeHTTP(w, r)
	})
}
