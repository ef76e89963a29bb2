package dav_test

import (
	"strings"
	"testing"
)

// A PROPFIND whose requested properties all lack a value answers each resource with the 404
// propstat alone, no empty 200 one beside it (issue 15's nit; RFC 4918 §9.1 asks for a
// propstat per status that occurs).
func TestPropfindNoEmptyPropstat(t *testing.T) {
	e := newEnv(t)
	e.do("PUT", "/f", nil, "x")
	for _, depth := range []string{"0", "1"} {
		w := e.do("PROPFIND", "/", hdr{"Depth": depth}, `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><x:nope xmlns:x="urn:x"/></D:prop></D:propfind>`)
		body := w.Body.String()
		if w.Code != 207 || strings.Contains(body, "<D:prop></D:prop>") || strings.Contains(body, "200 OK") || !strings.Contains(body, "404 Not Found") {
			t.Errorf("Depth %s: %d\n%s", depth, w.Code, body)
		}
	}
	// One found and one missing: both propstats.
	w := e.do("PROPFIND", "/f", hdr{"Depth": "0"}, `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><x:nope xmlns:x="urn:x"/></D:prop></D:propfind>`)
	if body := w.Body.String(); !strings.Contains(body, "200 OK") || !strings.Contains(body, "404 Not Found") {
		t.Errorf("mixed: %s", body)
	}
}
