package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Behind a trusted proxy the request's address is the client's, from X-Forwarded-For: the
// rightmost entry that is not a trusted proxy (what the client wrote left of it is not
// believed); from anyone else the header is dropped and the peer's address stays.
func TestForwardedClientAddress(t *testing.T) {
	var got string
	h := forwarded([]string{"10.0.0.0/8", "::1"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.RemoteAddr + " " + r.Header.Get("X-Forwarded-For")
	}))
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"10.0.0.5:4000", []string{"198.51.100.7"}, "198.51.100.7:0 198.51.100.7"},
		{"10.0.0.5:4000", []string{"203.0.113.1, 198.51.100.7, 10.0.0.9"}, "198.51.100.7:0 203.0.113.1, 198.51.100.7, 10.0.0.9"},
		{"10.0.0.5:4000", []string{"203.0.113.1", "2001:db8::7"}, "[2001:db8::7]:0 203.0.113.1"},
		{"[::1]:4000", []string{"10.1.1.1"}, "[::1]:4000 10.1.1.1"},     // only proxies: the peer stays
		{"10.0.0.5:4000", []string{"junk"}, "10.0.0.5:4000 junk"},       // unparsable: the peer stays
		{"192.0.2.9:4000", []string{"198.51.100.7"}, "192.0.2.9:4000 "}, // untrusted peer: dropped
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %q, want %q", c.peer, c.xff, got, c.want)
		}
	}
}
