package auth

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/davd/davd/access"
)

// Realm is the Basic realm davd announces.
const Realm = "davd"

// challenge is the WWW-Authenticate value of a 401 (RFC 7617, with the charset parameter so
// clients send UTF-8 user names and passwords).
const challenge = `Basic realm="` + Realm + `", charset="UTF-8"`

// Options configure the middleware.
type Options struct {
	// Users is the sealed user table.
	Users *Users
	// Anonymous lets requests without credentials through as the anonymous principal "" (the
	// access policy then decides what it may do). Wrong credentials are still a 401.
	Anonymous bool
	// OptionsUnauthenticated answers OPTIONS without credentials (as the anonymous principal):
	// the Windows Mini-Redirector gives up on a server whose first OPTIONS is a 401.
	OptionsUnauthenticated bool
	// Logger receives failed attempts (user and remote address, never the password).
	Logger *slog.Logger
}

// Middleware authenticates requests with HTTP Basic and passes them on with the principal in
// the context (access.WithPrincipal). Unauthenticated requests get a 401 challenge unless opt
// lets them through as the anonymous principal.
func Middleware(opt Options, next http.Handler) http.Handler {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, password, ok := r.BasicAuth()
		if !ok {
			if r.Header.Get("Authorization") == "" &&
				(opt.Anonymous || opt.OptionsUnauthenticated && r.Method == http.MethodOptions) {
				next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), "")))
				return
			}
			unauthorized(w)
			return
		}
		name = StripDomain(name)
		if !ValidName(name) || !opt.Users.Verify(r.Context(), name, password) {
			log.Warn("authentication failed", "user", name, "remote", r.RemoteAddr)
			unauthorized(w)
			return
		}
		// The credentials are not needed past this point; do not hand them to anything else.
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), name)))
	})
}

// StripDomain removes a Windows "DOMAIN\" prefix from a user name ("CORP\alice" → "alice").
func StripDomain(name string) string {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func unauthorized(w http.ResponseWriter) {
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", "13")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte("Unauthorized\n"))
}
