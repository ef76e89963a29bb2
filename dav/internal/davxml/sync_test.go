package davxml

import (
	"encoding/xml"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseSyncCollection(t *testing.T) {
	ok := []struct {
		name, body string
		want       SyncCollection
	}{
		{"RFC 6578 §3.8 initial", `<?xml version="1.0" encoding="utf-8" ?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level>
<D:prop xmlns:R="urn:ns.example.com:boxschema"><D:getetag/><R:bigbox/></D:prop></D:sync-collection>`,
			SyncCollection{Props: []xml.Name{{Space: "DAV:", Local: "getetag"}, {Space: "urn:ns.example.com:boxschema", Local: "bigbox"}}}},
		{"RFC 6578 §3.9 with token and limit", `<sync-collection xmlns="DAV:"><sync-token>
 http://example.com/ns/sync/1232 </sync-token><sync-level>infinite</sync-level><limit><nresults>100</nresults></limit><prop><getetag/></prop></sync-collection>`,
			SyncCollection{Token: "http://example.com/ns/sync/1232", Infinite: true, Limit: 100, Props: []xml.Name{{Space: "DAV:", Local: "getetag"}}}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSyncCollection(strings.NewReader(c.body), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Token != c.want.Token || got.Infinite != c.want.Infinite || got.Limit != c.want.Limit || !slices.Equal(got.Props, c.want.Props) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
	bad := []struct {
		name, body string
		want       error
	}{
		{"empty body", ``, ErrMalformed},
		{"RFC 3253 §3.6 another report", `<D:version-tree xmlns:D="DAV:"/>`, ErrUnsupportedReport},
		{"§6.1 no sync-level", `<sync-collection xmlns="DAV:"><sync-token/><prop/></sync-collection>`, ErrInvalid},
		{"§6.1 no sync-token", `<sync-collection xmlns="DAV:"><sync-level>1</sync-level><prop/></sync-collection>`, ErrInvalid},
		{"§6.1 no prop", `<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level></sync-collection>`, ErrInvalid},
		{"§3.3 level 2", `<sync-collection xmlns="DAV:"><sync-token/><sync-level>2</sync-level><prop/></sync-collection>`, ErrInvalid},
		{"RFC 5323 nresults zero", `<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><limit><nresults>0</nresults></limit><prop/></sync-collection>`, ErrInvalid},
		{"element in token", `<sync-collection xmlns="DAV:"><sync-token><x/></sync-token><sync-level>1</sync-level><prop/></sync-collection>`, ErrInvalid},
		{"not closed", `<sync-collection xmlns="DAV:"><sync-token/>`, ErrMalformed},
		{"token too long", `<sync-collection xmlns="DAV:"><sync-token>` + strings.Repeat("a", maxTextBytes+1) + `</sync-token><sync-level>1</sync-level><prop/></sync-collection>`, ErrMalformed},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSyncCollection(strings.NewReader(c.body), Limits{})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}
