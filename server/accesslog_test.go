package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestAccessLogFormats(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setLogUser(r.Context(), "alice")
		w.Write([]byte("hello"))
	})
	req := func() *http.Request {
		r, _ := http.NewRequest("GET", "/a%20b?x=1", nil)
		r.RemoteAddr = "192.0.2.7:5555"
		r.Header.Set("User-Agent", `rclone/v1.60 "quoted"`)
		r.Header.Set("Referer", "http://example.org/")
		return r
	}
	t.Run("json line with user, user agent, bytes, duration", func(t *testing.T) {
		var buf bytes.Buffer
		o := &observer{log: slog.New(slog.NewJSONHandler(&buf, nil)), lines: true}
		o.wrap(inner).ServeHTTP(&recorder{header: http.Header{}}, req())
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("%v: %s", err, buf.String())
		}
		if rec["user"] != "alice" || rec["user_agent"] != `rclone/v1.60 "quoted"` || rec["bytes"] != float64(5) || rec["status"] != float64(200) || rec["dur"] == nil {
			t.Errorf("access line %s", buf.String())
		}
	})
	t.Run("combined log format", func(t *testing.T) {
		var buf bytes.Buffer
		o := &observer{log: slog.New(slog.DiscardHandler), lines: true, combined: &buf}
		o.wrap(inner).ServeHTTP(&recorder{header: http.Header{}}, req())
		re := regexp.MustCompile(`^192\.0\.2\.7 - alice \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /a%20b\?x=1 HTTP/1\.1" 200 5 "http://example\.org/" "rclone/v1\.60 \\"quoted\\""\n$`)
		if !re.MatchString(buf.String()) {
			t.Errorf("combined line %q", buf.String())
		}
		if strings.Count(buf.String(), "\n") != 1 {
			t.Errorf("not one line: %q", buf.String())
		}
	})
}

func TestLogFormatChecked(t *testing.T) {
	for _, doc := range []string{"log_format = \"xml\"\n", "access_log_format = \"common\"\n"} {
		c := Defaults()
		c.Root, c.State = t.TempDir(), t.TempDir()+"/s"
		if err := Parse([]byte(doc), &c); err != nil {
			t.Fatal(err)
		}
		key := strings.Fields(doc)[0]
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), key+":") {
			t.Errorf("%s: %v", doc, err)
		}
	}
}
