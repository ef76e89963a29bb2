package share

import (
	"strings"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewToken()
		if !ValidToken(tok) || seen[tok] {
			t.Fatalf("token %q (valid %v, repeated %v)", tok, ValidToken(tok), seen[tok])
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", "abc", strings.Repeat("a", 42), strings.Repeat("a", 44), strings.Repeat("a", 42) + ".", strings.Repeat("a", 42) + "/", strings.Repeat("a", 42) + "="} {
		if ValidToken(bad) {
			t.Errorf("ValidToken(%q)", bad)
		}
	}
}

func TestExpired(t *testing.T) {
	now := time.Now()
	if (Link{}).Expired(now) || !(Link{Expires: now}).Expired(now) || (Link{Expires: now.Add(time.Second)}).Expired(now) {
		t.Error("Expired")
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, rec := range []string{`{`, `{"owner":"a","path":"Ly4u","kind":"read"}`, `{"owner":"a","path":"L3g=","kind":"write"}`, `{"owner":"a","path":"eA==","kind":"read"}`} {
		if _, err := Decode("t", []byte(rec)); err == nil {
			t.Errorf("Decode(%s) succeeded", rec)
		}
	}
	if l, err := Decode("t", []byte(`{"owner":"a","path":"L3g=","kind":"read"}`)); err != nil || l.Path != "/x" {
		t.Errorf("Decode: %+v %v", l, err)
	}
}
