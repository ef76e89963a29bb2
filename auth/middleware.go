package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	// Throttle, when set, bans client addresses that keep failing and slows down the failures
	// of a user name under attack.
	Throttle *Throttle
	// OnThrottled is called for each request refused with 429 (a metric).
	OnThrottled func()
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
		if isSignOut(r) {
			signedOut(w)
			return
		}
		name, password, ok := r.BasicAuth()
		if !ok {
			if r.Header.Get("Authorization") == "" &&
				(opt.Anonymous || opt.OptionsUnauthenticated && r.Method == http.MethodOptions) {
				next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), "")))
				return
			}
			unauthorized(w, r)
			return
		}
		name = StripDomain(name)
		th := opt.Throttle
		if th != nil {
			// A banned address is not heard at all: 429 rather than 401, because every client
			// answers a 401 by asking for the password again (Windows, Finder and davfs2 prompt,
			// rclone and sync apps retry at once), which the user cannot fix by retyping; a 429
			// with Retry-After says to wait, and rclone honours it.
			if wait := th.Banned(r.RemoteAddr); wait > 0 {
				if opt.OnThrottled != nil {
					opt.OnThrottled()
				}
				tooMany(w, wait)
				return
			}
		}
		if !ValidName(name) || !opt.Users.Verify(r.Context(), name, password) {
			log.Warn("authentication failed", "user", name, "remote", r.RemoteAddr)
			if th != nil {
				if th.FailAndWait(r.Context(), r.RemoteAddr, name) {
					log.Warn("login throttled: client address banned", "remote", r.RemoteAddr, "for", th.Banned(r.RemoteAddr).Round(time.Second))
				}
			}
			unauthorized(w, r)
			return
		}
		// The credentials are not needed past this point; do not hand them to anything else.
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), name)))
	})
}

// SignOutQuery is the query of the browser view's sign-out request (GET ANY/?davd-signout).
const SignOutQuery = "davd-signout"

func isSignOut(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.RawQuery == SignOutQuery
}

// signOutChallenge names a scheme no browser knows. Basic has no sign-out; what browsers do
// have is this: a 401 to a request that carried remembered credentials drops them, and when
// the 401 offers no Basic challenge they do not ask for new ones either (RFC 9110 §11.6.1
// still gets its WWW-Authenticate). The next request then comes without credentials and gets
// the Basic challenge, where the user may sign in again, as the same user or another.
const signOutChallenge = `DavdSignedOut realm="` + Realm + `"`

// signedOut answers the sign-out request, with or without credentials, valid or not: it
// tells nothing, and it is not a failed login.
func signedOut(w http.ResponseWriter) {
	h := w.Header()
	h.Set("WWW-Authenticate", signOutChallenge)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	const body = "Signed out.\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte(body))
}

// StripDomain removes a Windows "DOMAIN\" prefix from a user name ("CORP\alice" → "alice").
func StripDomain(name string) string {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// tooMany answers a banned client address: 429 Too Many Requests (RFC 6585) with Retry-After.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", "35")
	w.WriteHeader(http.StatusTooManyRequests)
	w.Write([]byte("Too many failed logins; try later.\n"))
}

// unauthorized answers 401 with the Basic challenge (RFC 9110 §11.6.1). A browser (Accept with
// text/html) gets a small page instead of the bare word: it shows when the user cancels the
// browser's sign-in dialog, and its link asks again. The page loads nothing and runs nothing.
func unauthorized(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	body := "Unauthorized\n"
	if wantsHTML(r) {
		body = signInPage
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", signInCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusUnauthorized)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

// wantsHTML reports a GET or HEAD from a browser navigating (Accept names text/html).
func wantsHTML(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.Contains(r.Header.Get("Accept"), "text/html")
}

const signInStyle = "body{font:16px/1.5 system-ui,sans-serif;max-width:32em;margin:15vh auto;padding:0 1em}a{font-weight:600}"

// signInCSP allows the page's one inline style, by its hash, and nothing else.
var signInCSP = func() string {
	sum := sha256.Sum256([]byte(signInStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// signInPage is the 401 page for browsers. Its link is the page itself: following it makes the
// browser ask for the name and password again.
const signInPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Sign-in needed</title>
<style>` + signInStyle + `</style>
</head><body><h1>Sign-in needed</h1>
<p>This server needs your user name and password. Without them it shows nothing.</p>
<p><a href="">Sign in</a></p>
</body></html>
`
