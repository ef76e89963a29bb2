package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
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

// slogLine is the line slog's TextHandler (LogHandler's text format) writes for an access
// record: what textLine must write.
func slogLine(t time.Time, method, path string, status int, sent, received int64, dur time.Duration, remote, user, agent string) string {
	var buf bytes.Buffer
	r := slog.NewRecord(t, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("method", method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Int64("bytes", sent),
		slog.Int64("received", received),
		slog.Duration("dur", dur),
		slog.String("remote", remote),
		slog.String("user", user),
		slog.String("user_agent", agent),
	)
	LogHandler("text", &buf).Handle(context.Background(), r)
	return buf.String()
}

func TestTextLineIsSlogs(t *testing.T) {
	zone := time.FixedZone("X", -(3*3600 + 30*60))
	cases := []struct {
		t                   time.Time
		method, path        string
		status              int
		bytes, received     int64
		dur                 time.Duration
		remote, user, agent string
	}{
		{time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC), "GET", "/f4k", 200, 4096, 0, 87 * time.Microsecond, "127.0.0.1:5555", "", "wrk"},
		{time.Date(2026, 1, 2, 3, 4, 5, 999999999, zone), "PROPFIND", "/a%20b/c=d", 207, 1 << 40, 12, 3*time.Second + 7, "[::1]:80", "alice", `Microsoft-WebDAV-MiniRedir/10.0.19045`},
		{time.Date(2026, 6, 30, 23, 59, 59, 1000000, time.Local), "PUT", "/", 201, 0, 4096, 0, "192.0.2.7:1", "bob smith", `rclone/v1.60 "quoted"`},
		{time.Date(2026, 6, 30, 23, 59, 59, 1000000, time.Local), "M\x00", "/\xff\xfe", 400, -1, 0, -time.Millisecond, "", "u\u00e9\u2028", "a\\b\tc\x7f"},
		{time.Date(2026, 6, 30, 23, 59, 59, 1000000, time.Local).Add(time.Hour), "GET", "/\u00e9t\u00e9", 304, 0, 0, time.Hour, "x", "\u00a0", "\u200b=\u0301"},
	}
	for _, c := range cases {
		got := string(textLine(nil, c.t, c.method, c.path, c.status, c.bytes, c.received, c.dur, c.remote, c.user, c.agent))
		want := slogLine(c.t, c.method, c.path, c.status, c.bytes, c.received, c.dur, c.remote, c.user, c.agent)
		if got != want {
			t.Errorf("textLine\n got %q\nwant %q", got, want)
		}
	}
}

func FuzzTextLineIsSlogs(f *testing.F) {
	f.Add(int64(1796641200123456789), "GET", "/f4k", 200, int64(4096), int64(0), int64(87000), "127.0.0.1:5555", "", "wrk")
	f.Add(int64(0), "M\x00 =", "/\xff\"", -1, int64(-1), int64(1), int64(-1), "[::1]:1", "a b", "\u2028\u00a0\\")
	f.Fuzz(func(t *testing.T, ns int64, method, path string, status int, sent, received, dur int64, remote, user, agent string) {
		tm := time.Unix(0, ns)
		got := string(textLine(nil, tm, method, path, status, sent, received, time.Duration(dur), remote, user, agent))
		want := slogLine(tm, method, path, status, sent, received, time.Duration(dur), remote, user, agent)
		if got != want {
			t.Errorf("textLine\n got %q\nwant %q", got, want)
		}
	})
}

// TestAccessLogTextOut: with an AccessLogOut and the text format, the lines are textLine's,
// one per request, and they parse as slog's text lines do.
func TestAccessLogTextOut(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setLogUser(r.Context(), "alice")
		w.Write([]byte("hello"))
	})
	var buf bytes.Buffer
	o := &observer{log: slog.New(slog.DiscardHandler), lines: true, text: &buf}
	for range 3 {
		r, _ := http.NewRequest("GET", "/a%20b?x=1", nil)
		r.RemoteAddr = "192.0.2.7:5555"
		r.Header.Set("User-Agent", `rclone/v1.60 "quoted"`)
		o.wrap(inner).ServeHTTP(&recorder{header: http.Header{}}, r)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	re := regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) level=INFO msg=request method=GET path=/a%20b status=200 bytes=5 received=0 dur=\S+ remote=192\.0\.2\.7:5555 user=alice user_agent="rclone/v1\.60 \\"quoted\\""$`)
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Errorf("line %q", l)
		}
	}
}

// BenchmarkAccessLine: one access line by slog's TextHandler against textLine.
func BenchmarkAccessLine(b *testing.B) {
	now := time.Now()
	b.Run("slog", func(b *testing.B) {
		log := slog.New(LogHandler("text", io.Discard))
		b.ReportAllocs()
		for range b.N {
			log.LogAttrs(context.Background(), slog.LevelInfo, "request",
				slog.String("method", "GET"), slog.String("path", "/f4k"), slog.Int("status", 200),
				slog.Int64("bytes", 4096), slog.Int64("received", 0), slog.Duration("dur", 87*time.Microsecond),
				slog.String("remote", "127.0.0.1:5555"), slog.String("user", ""), slog.String("user_agent", "wrk"))
		}
	})
	b.Run("textLine", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			bp := lineBufs.Get().(*[]byte)
			l := textLine((*bp)[:0], now, "GET", "/f4k", 200, 4096, 0, 87*time.Microsecond, "127.0.0.1:5555", "", "wrk")
			io.Discard.Write(l)
			*bp = l
			lineBufs.Put(bp)
		}
	})
}
