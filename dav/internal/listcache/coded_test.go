package listcache

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestCodedRoundTrip: whatever the bytes (markup of the dictionary, markup that only starts like
// it, the code byte itself, text), coding then expanding gives them back exactly, through
// expansion buffers of any size; and fixed markup is kept much smaller.
func TestCodedRoundTrip(t *testing.T) {
	entry := "<D:response><D:href>/d/a%20b.txt</D:href><D:propstat><D:prop><D:creationdate>2026-11-22T04:00:00Z</D:creationdate>" +
		"<D:displayname>a b.txt</D:displayname><D:getcontentlength>12</D:getcontentlength><D:resourcetype/>" +
		"<D:supportedlock>" + supportedLock + "</D:supportedlock><D:lockdiscovery/><P:x xmlns:P=\"urn:x\">&lt;D:href&gt;</P:x>" +
		"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
	cases := []string{
		"", entry, strings.Repeat(entry, 50),
		"<D:response", "<D:response>", "<D:href", "</D:prop><D:status>HTTP/1.1 500 x</D:status>",
		"\x01", "a\x01\x01b\x01", "<D:href>\x01</D:href>\x01<", "<<<>>>", "<D:supportedlock><D:lockentry>",
	}
	var c coder
	var enc []byte
	var all string
	for _, s := range cases {
		enc = c.encode(enc, []byte(s))
		all += s
	}
	for i := 0; i < 300; i++ { // more distinct runs than the dictionary holds
		s := fmt.Sprintf("<x%d>t%d<y>", i, i)
		enc = c.encode(enc, []byte(s))
		all += s
	}
	for _, size := range []int{600, 1024, 64 << 10} {
		var out bytes.Buffer
		decodeTo(func(b []byte) { out.Write(b) }, make([]byte, 0, size), c.dict, enc)
		if out.String() != all {
			t.Fatalf("round trip with a %d-byte buffer differs", size)
		}
	}
	var d coder
	d.encode(nil, []byte(entry))
	if n := len(d.encode(nil, []byte(strings.Replace(entry, "a b.txt", "other.txt", 2)))); n*4 > len(entry) {
		t.Fatalf("a second allprop entry of %d bytes is kept in %d", len(entry), n)
	}
}

// supportedLock is the engine's supportedlock value (dav/properties.go), the longest run of
// markup in an allprop entry.
const supportedLock = `<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>` +
	`<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>`
