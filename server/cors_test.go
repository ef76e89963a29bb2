package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A preflight from an allowed origin is answered 204 with the WebDAV methods and the headers
// asked for that clients send, before authentication; an actual request gets the origin and
// the exposed headers; another origin gets no CORS header at all.
func TestCORS(t *testing.T) {
	reached := 0
	h := cors(CORS{Origins: []string{"https://app.example"}, Credentials: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(207)
	}))
	do := func(method, origin string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/dir/", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	pre := do("OPTIONS", "https://app.example", map[string]string{"Access-Control-Request-Method": "PROPFIND", "Access-Control-Request-Headers": "depth, authorization, x-evil"})
	if pre.Code != 204 || reached != 0 {
		t.Fatalf("preflight: %d, handler reached %d times", pre.Code, reached)
	}
	if got := pre.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Errorf("Allow-Origin %q", got)
	}
	if got := pre.Header().Get("Access-Control-Allow-Methods"); !strings.Contains(got, "PROPFIND") || !strings.Contains(got, "LOCK") {
		t.Errorf("Allow-Methods %q", got)
	}
	if got := pre.Header().Get("Access-Control-Allow-Headers"); got != "depth, authorization" {
		t.Errorf("Allow-Headers %q, want the known ones only", got)
	}
	if pre.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Error("no Allow-Credentials")
	}
	act := do("PROPFIND", "https://app.example", nil)
	if act.Code != 207 || act.Header().Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(act.Header().Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("actual request: %d %v", act.Code, act.Header())
	}
	other := do("OPTIONS", "https://evil.example", map[string]string{"Access-Control-Request-Method": "DELETE"})
	if other.Header().Get("Access-Control-Allow-Origin") != "" || other.Code != 207 {
		t.Errorf("another origin: %d %v, want no CORS headers and the normal answer", other.Code, other.Header())
	}
	if (CORS{Origins: []string{"*"}, Credentials: true}).validate() == nil {
		t.Error(`"*" with credentials accepted`)
	}
	if (CORS{Origins: []string{"https://app.example/path"}}).validate() == nil {
		t.Error("an origin with a path accepted")
	}
	star := cors(CORS{Origins: []string{"*"}}, http.NotFoundHandler())
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://any.example")
	w := httptest.NewRecorder()
	star.ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf(`"*": %v`, w.Header())
	}
}
