package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/access"
	"golang.org/x/crypto/bcrypt"
)

func testUsers(t *testing.T, cost int) *Users {
	t.Helper()
	u := NewUsers()
	for name, pw := range map[string]string{"alice": "wonderland", "bob": "builder", "zoë": "pässwörd"} {
		h, err := HashPassword([]byte(pw), cost)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.Add(name, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Seal(); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestMiddleware(t *testing.T) {
	users := testUsers(t, bcrypt.MinCost)
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("Authorization header passed on")
		}
		w.Write([]byte("principal=" + access.Principal(r.Context())))
	})
	type req struct {
		method, user, pass string
		noAuth             bool
		rawAuth            string
	}
	tests := []struct {
		name      string
		opt       Options
		req       req
		status    int
		principal string
	}{
		{"valid", Options{}, req{method: "GET", user: "alice", pass: "wonderland"}, 200, "alice"},
		{"UTF-8 user and password", Options{}, req{method: "GET", user: "zoë", pass: "pässwörd"}, 200, "zoë"},
		{"wrong password", Options{}, req{method: "GET", user: "alice", pass: "x"}, 401, ""},
		{"other user's password", Options{}, req{method: "GET", user: "bob", pass: "wonderland"}, 401, ""},
		{"unknown user", Options{}, req{method: "GET", user: "mallory", pass: "wonderland"}, 401, ""},
		{"empty user", Options{}, req{method: "GET", user: "", pass: ""}, 401, ""},
		{"no credentials", Options{}, req{method: "GET", noAuth: true}, 401, ""},
		{"bearer token", Options{}, req{method: "GET", noAuth: true, rawAuth: "Bearer abc"}, 401, ""},
		{"garbage basic", Options{}, req{method: "GET", noAuth: true, rawAuth: "Basic !!!"}, 401, ""},
		{"Windows DOMAIN\\user", Options{}, req{method: "PROPFIND", user: `CORP\alice`, pass: "wonderland"}, 200, "alice"},
		{"Windows DOMAIN\\user wrong password", Options{}, req{method: "PROPFIND", user: `CORP\alice`, pass: "nope"}, 401, ""},
		{"OPTIONS needs auth by default", Options{}, req{method: "OPTIONS", noAuth: true}, 401, ""},
		{"OPTIONS unauthenticated allowed", Options{OptionsUnauthenticated: true}, req{method: "OPTIONS", noAuth: true}, 200, ""},
		{"OPTIONS allowance is only for OPTIONS", Options{OptionsUnauthenticated: true}, req{method: "PROPFIND", noAuth: true}, 401, ""},
		{"OPTIONS with credentials authenticates", Options{OptionsUnauthenticated: true}, req{method: "OPTIONS", user: "bob", pass: "builder"}, 200, "bob"},
		{"OPTIONS with wrong credentials", Options{OptionsUnauthenticated: true}, req{method: "OPTIONS", user: "bob", pass: "x"}, 401, ""},
		{"anonymous", Options{Anonymous: true}, req{method: "GET", noAuth: true}, 200, ""},
		{"anonymous still rejects wrong credentials", Options{Anonymous: true}, req{method: "GET", user: "alice", pass: "x"}, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Users = users
			h := Middleware(tt.opt, echo)
			r := httptest.NewRequest(tt.req.method, "/", nil)
			if !tt.req.noAuth {
				r.SetBasicAuth(tt.req.user, tt.req.pass)
			}
			if tt.req.rawAuth != "" {
				r.Header.Set("Authorization", tt.req.rawAuth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if tt.status == 401 {
				if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="davd", charset="UTF-8"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				return
			}
			if got := w.Body.String(); got != "principal="+tt.principal {
				t.Errorf("body %q, want principal=%s", got, tt.principal)
			}
		})
	}
}

// TestUnauthorizedPage: a browser that is refused (issue 18 item 7) gets a page with a way to
// sign in again, not the bare word, under a CSP that lets it load and run nothing; other clients
// keep the plain text, and both keep the challenge.
func TestUnauthorizedPage(t *testing.T) {
	h := Middleware(Options{Users: testUsers(t, bcrypt.MinCost)}, http.NotFoundHandler())
	for _, tc := range []struct {
		method, accept, ctype, body string
	}{
		{"GET", "text/html,application/xhtml+xml", "text/html; charset=utf-8", `<a href="">Sign in</a>`},
		{"GET", "", "text/plain; charset=utf-8", "Unauthorized\n"},
		{"PROPFIND", "text/html", "text/plain; charset=utf-8", "Unauthorized\n"},
	} {
		r := httptest.NewRequest(tc.method, "/x/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("%s %q: %d, challenge %q", tc.method, tc.accept, w.Code, w.Header().Get("WWW-Authenticate"))
		}
		if ct := w.Header().Get("Content-Type"); ct != tc.ctype {
			t.Errorf("%s %q: Content-Type %q, want %q", tc.method, tc.accept, ct, tc.ctype)
		}
		if !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s %q: body %q lacks %q", tc.method, tc.accept, w.Body.String(), tc.body)
		}
		if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
			t.Errorf("Content-Length %s for %d bytes", cl, w.Body.Len())
		}
		if tc.ctype[:9] == "text/html" {
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") || strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q", csp)
			}
		}
	}
}

func TestAddRejects(t *testing.T) {
	u := NewUsers()
	h, _ := HashPassword([]byte("pw"), bcrypt.MinCost)
	for _, c := range []struct{ name, hash string }{
		{"plain", "secret"},
		{"apr1", "$apr1$abc$def"},
		{"sha", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="},
		{"a:b", h},
		{`a\b`, h},
		{"", h},
	} {
		if err := u.Add(c.name, c.hash); err == nil {
			t.Errorf("Add(%q, %q): no error", c.name, c.hash)
		}
	}
	if err := u.Add("x", h); err != nil {
		t.Fatal(err)
	}
	if err := u.Add("x", h); err == nil {
		t.Error("duplicate user accepted")
	}
}

func TestHtpasswd(t *testing.T) {
	h, _ := HashPassword([]byte("pw"), bcrypt.MinCost)
	// htpasswd -B writes $2y$; x/crypto/bcrypt reads it.
	y := "$2y$" + h[4:]
	u := NewUsers()
	err := u.readHtpasswd(strings.NewReader("# comment\n\ncarol:"+y+"\ndave:"+h+"\n"), "htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Seal(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if !u.Verify(ctx, "carol", "pw") || !u.Verify(ctx, "dave", "pw") || u.Verify(ctx, "carol", "px") {
		t.Error("htpasswd users do not verify as expected")
	}
	err = NewUsers().readHtpasswd(strings.NewReader("ok:"+h+"\nerin:$apr1$xyz$abc\n"), "htpasswd")
	if err == nil || !strings.Contains(err.Error(), "htpasswd:2") {
		t.Errorf("non-bcrypt entry: err = %v, want one naming htpasswd:2", err)
	}
}

func TestVerifyCache(t *testing.T) {
	u := testUsers(t, bcrypt.MinCost)
	ctx := context.Background()
	for range 2 { // the second check is answered from the cache
		if !u.Verify(ctx, "alice", "wonderland") {
			t.Fatal("valid password refused")
		}
	}
	// A cached success must not let another password through.
	if u.Verify(ctx, "alice", "wonderlanD") || u.Verify(ctx, "alice", "") {
		t.Fatal("wrong password accepted after a cached success")
	}
	if !u.Verify(ctx, "alice", "wonderland") {
		t.Fatal("valid password refused after a failure")
	}
}

// TestTiming checks loosely that an unknown user costs as much as a known one with a wrong
// password: both go through one bcrypt comparison of the same cost.
func TestTiming(t *testing.T) {
	u := testUsers(t, 8)
	ctx := context.Background()
	measure := func(name string) time.Duration {
		var best time.Duration
		for i := range 5 {
			start := time.Now()
			u.Verify(ctx, name, "wrong")
			if d := time.Since(start); i == 0 || d < best {
				best = d
			}
		}
		return best
	}
	known, unknown := measure("alice"), measure("nobody")
	ratio := float64(known) / float64(unknown)
	if ratio < 1.0/3 || ratio > 3 {
		t.Errorf("known user %v vs unknown user %v: ratio %.2f outside [1/3, 3]", known, unknown, ratio)
	}
}

func TestStripDomain(t *testing.T) {
	for in, want := range map[string]string{`CORP\alice`: "alice", "alice": "alice", `a\b\c`: "c", `\x`: "x"} {
		if got := StripDomain(in); got != want {
			t.Errorf("StripDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// The browser view's sign-out (GET ?davd-signout) is a 401 whatever the credentials, with a
// challenge of a scheme no browser knows (RFC 9110 §11.6.1 wants one; a Basic one would make
// the browser ask at once), and it is never counted as a failed login.
func TestSignOut(t *testing.T) {
	users := testUsers(t, bcrypt.MinCost)
	th := NewThrottle(ThrottleOptions{MaxFailures: 2}, time.Now)
	reached := false
	h := Middleware(Options{Users: users, Throttle: th}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	for _, pw := range []string{"wonderland", "wrong", "wrong", "wrong", ""} {
		r := httptest.NewRequest(http.MethodGet, "/dir/?davd-signout", nil)
		if pw != "" {
			r.SetBasicAuth("alice", pw)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "DavdSignedOut ") {
			t.Fatalf("sign-out with %q: %d %q", pw, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if reached {
		t.Fatal("the sign-out request reached the handler")
	}
	if th.Banned("192.0.2.1:1234") > 0 {
		t.Fatal("sign-outs counted as failed logins")
	}
	// Another method or query is an ordinary request.
	r := httptest.NewRequest(http.MethodPut, "/dir/?davd-signout", nil)
	r.SetBasicAuth("alice", "wonderland")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !reached {
		t.Fatal("PUT ?davd-signout did not reach the handler")
	}
}
