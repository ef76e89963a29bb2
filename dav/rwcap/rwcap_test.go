package rwcap_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/davd/davd/dav/rwcap"
)

type vectored struct{ http.ResponseWriter }

func (vectored) WriteVectors([][]byte) (int64, error) { return 0, nil }

type middle struct{ http.ResponseWriter }

func (m middle) Unwrap() http.ResponseWriter { return m.ResponseWriter }

type loop struct{ http.ResponseWriter }

func (l *loop) Unwrap() http.ResponseWriter { return l }

func TestFind(t *testing.T) {
	rec := httptest.NewRecorder()
	v := vectored{rec}
	for _, tc := range []struct {
		name string
		w    http.ResponseWriter
		want bool
	}{
		{"plain writer", rec, false},
		{"the writer itself", v, true},
		{"down an Unwrap chain", middle{middle{v}}, true},
		{"chain without it", middle{rec}, false},
		{"self-loop is bounded", &loop{rec}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := rwcap.Find[rwcap.VectorWriter](tc.w)
			if ok != tc.want || ok && got == nil {
				t.Errorf("Find = %v, %v; want found %v", got, ok, tc.want)
			}
		})
	}
	// The first implementer wins: a middleware that implements the capability itself sees the
	// call, rather than being bypassed.
	outer := vectored{middle{v}}
	if got, _ := rwcap.Find[rwcap.VectorWriter](outer); got != rwcap.VectorWriter(outer) {
		t.Errorf("Find skipped the outermost implementer")
	}
}
