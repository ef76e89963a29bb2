package server

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs url's /metrics and parses it with the Prometheus client library's parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mf
}

// value returns the value of the sample of family name whose labels include want.
func value(t *testing.T, mf map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := mf[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no sample of %s with labels %v", name, want)
	return 0
}

func send(t *testing.T, method, url, body string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsScrape(t *testing.T) {
	c := Defaults()
	c.Metrics = "127.0.0.1:0"
	c.NoFsync = false // so that fsync time is observed
	r := startRun(t, c)
	base := "http://" + r.Addr
	for i := range 3 {
		if st := send(t, "PUT", base+"/f"+string(rune('a'+i)), "hello", nil); st != 201 {
			t.Fatalf("PUT: %d", st)
		}
	}
	send(t, "GET", base+"/fa", "", nil)
	send(t, "GET", base+"/missing", "", nil)
	send(t, "BREW", base+"/", "", nil)
	for range 4 {
		send(t, "PROPFIND", base+"/", "", map[string]string{"Depth": "1"})
	}
	if st := send(t, "LOCK", base+"/fa", `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`, nil); st != 200 {
		t.Fatalf("LOCK: %d", st)
	}
	mf := scrape(t, r.Metrics)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"davd_http_requests_total", map[string]string{"method": "PUT", "code": "2xx"}, 3},
		{"davd_http_requests_total", map[string]string{"method": "GET", "code": "2xx"}, 1},
		{"davd_http_requests_total", map[string]string{"method": "GET", "code": "4xx"}, 1},
		{"davd_http_requests_total", map[string]string{"method": "other", "code": "5xx"}, 1},
		{"davd_http_requests_total", map[string]string{"method": "PROPFIND", "code": "2xx"}, 4},
		{"davd_http_request_duration_seconds", map[string]string{"method": "PUT"}, 3},
		{"davd_put_bytes_total", nil, 15},
		{"davd_fsync_duration_seconds", nil, 3},
		{"davd_locks_held", nil, 1},
		{"davd_build_info", nil, 1},
	} {
		if got := value(t, mf, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if n := value(t, mf, "davd_listing_cache_hits_total", nil) + value(t, mf, "davd_listing_cache_misses_total", nil); n != 4 {
		t.Errorf("listing cache hits + misses = %v, want 4 (the Depth 1 PROPFINDs)", n)
	}
	if got := value(t, mf, "davd_http_received_bytes_total", nil); got < 15 {
		t.Errorf("received %v bytes, want at least the 15 of the PUTs", got)
	}
	if got := value(t, mf, "davd_http_sent_bytes_total", nil); got < 5 {
		t.Errorf("sent %v bytes, want at least the 5 of the GET", got)
	}
	if got := value(t, mf, "davd_http_connections_total", nil); got < 1 {
		t.Errorf("connections_total = %v", got)
	}
	if value(t, mf, "davd_state_store_bytes", nil) <= 0 {
		t.Error("state store size is 0")
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "davd_http_open_connections", "davd_auth_failures_total"} {
		if mf[name] == nil {
			t.Errorf("no metric %s", name)
		}
	}
	// Bounded cardinality: no label carries a path or a user.
	for name, f := range mf {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if strings.Contains(l.GetValue(), "/f") || strings.Contains(l.GetValue(), "missing") {
					t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	// The metrics are not on the WebDAV port.
	if st := send(t, "GET", base+"/metrics", "", nil); st != 404 {
		t.Errorf("GET /metrics on the WebDAV port: %d, want 404 (a missing file)", st)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	dir := t.TempDir()
	c := Defaults()
	c.Root, c.State, c.Metrics, c.NoFsync = filepath.Join(dir, "data"), filepath.Join(dir, "state"), "127.0.0.1:0", true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	in, err := Build(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h := in.OpsHandler()
	get := func(path string) (int, string) {
		rec := &recorder{header: http.Header{}}
		req, _ := http.NewRequest("GET", path, nil)
		h.ServeHTTP(rec, req)
		return rec.status, rec.body.String()
	}
	if st, body := get("/healthz"); st != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", st, body)
	}
	if st, body := get("/readyz"); st != 200 {
		t.Errorf("/readyz: %d %q", st, body)
	}
	// The served root disappears: not ready, and the reason says so.
	if err := os.Rename(c.Root, c.Root+".gone"); err != nil {
		t.Fatal(err)
	}
	if st, body := get("/readyz"); st != 503 || !strings.Contains(body, "root "+c.Root) {
		t.Errorf("/readyz without the root: %d %q", st, body)
	}
	if err := os.Rename(c.Root+".gone", c.Root); err != nil {
		t.Fatal(err)
	}
	// The state store is closed: not ready.
	in.Close()
	if st, body := get("/readyz"); st != 503 || !strings.Contains(body, "database not open") {
		t.Errorf("/readyz with the store closed: %d %q", st, body)
	}
	if st, _ := get("/healthz"); st != 200 {
		t.Errorf("/healthz: %d", st)
	}
}

func TestMetricsAddressChecked(t *testing.T) {
	dir := t.TempDir()
	c := Defaults()
	c.Root, c.State, c.Metrics = filepath.Join(dir, "data"), filepath.Join(dir, "state"), c.Listen
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "metrics:") {
		t.Errorf("metrics on the WebDAV address: %v", err)
	}
	c.Metrics = "9100"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "metrics:") {
		t.Errorf("metrics without a port: %v", err)
	}
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
