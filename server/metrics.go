package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/internal/version"
	"github.com/davd/davd/lock"
)

// metrics are davd's Prometheus metrics. Every label has a bounded set of values: methods are
// the known ones or "other", status codes are classes ("2xx"); no paths, no user names.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	received  prometheus.Counter
	sent      prometheus.Counter
	putBytes  prometheus.Counter
	fsync     prometheus.Histogram
	conns     prometheus.Gauge
	connsAll  prometheus.Counter
	authFail  prometheus.Counter
	throttled prometheus.Counter

	mu       sync.Mutex
	handlers []*dav.Handler // whose listing-cache counters are summed
	retired  dav.Stats      // the counts of the engines a reload replaced
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "davd_http_requests_total",
		Help: "Requests answered, by method and status class."}, []string{"method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "davd_http_request_duration_seconds",
		Help:    "Time from a request's headers to the end of its response, by method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"method"})
	m.received = prometheus.NewCounter(prometheus.CounterOpts{Name: "davd_http_received_bytes_total", Help: "Request body bytes read."})
	m.sent = prometheus.NewCounter(prometheus.CounterOpts{Name: "davd_http_sent_bytes_total", Help: "Response body bytes written."})
	m.putBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "davd_put_bytes_total", Help: "Bytes of PUT bodies read."})
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "davd_fsync_duration_seconds",
		Help: "Time of each fsync(2) of uploaded content.", Buckets: prometheus.ExponentialBuckets(.0001, 4, 10)})
	m.conns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "davd_http_open_connections", Help: "Client connections open on the WebDAV listener."})
	m.connsAll = prometheus.NewCounter(prometheus.CounterOpts{Name: "davd_http_connections_total", Help: "Client connections accepted."})
	m.authFail = prometheus.NewCounter(prometheus.CounterOpts{Name: "davd_auth_failures_total", Help: "Requests answered 401 Unauthorized."})
	m.throttled = prometheus.NewCounter(prometheus.CounterOpts{Name: "davd_logins_throttled_total", Help: "Requests refused with 429 because their client address failed to log in too often."})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.received, m.sent, m.putBytes, m.fsync, m.conns, m.connsAll, m.authFail, m.throttled} {
		f(c)
	}
	v := version.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "davd_build_info", Help: "Always 1; the labels say which davd runs.",
		ConstLabels: prometheus.Labels{"version": v.Version, "revision": v.Revision, "goversion": v.Go}})
	build.Set(1)
	f(build)
	f(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "davd_listing_cache_hits_total",
		Help: "Depth 1 PROPFINDs answered from a kept rendering."}, func() float64 { return float64(m.listing().ListingHits) }))
	f(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "davd_listing_cache_misses_total",
		Help: "Cacheable Depth 1 PROPFINDs rendered anew."}, func() float64 { return float64(m.listing().ListingMisses) }))
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watch adds the listing-cache counters of h to the sums.
// replace makes hs the engines whose listing-cache counts are reported. The counts of the
// engines a reload retires are kept, so that the counters never go back.
func (m *metrics) replace(hs []*dav.Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.handlers {
		st := h.Stats()
		m.retired.ListingHits += st.ListingHits
		m.retired.ListingMisses += st.ListingMisses
	}
	m.handlers = hs
}

func (m *metrics) listing() dav.Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.retired
	for _, h := range m.handlers {
		hs := h.Stats()
		s.ListingHits += hs.ListingHits
		s.ListingMisses += hs.ListingMisses
	}
	return s
}

// gauges registers what is read from the wired instance when scraped: locks held and the
// size of the state store file.
func (m *metrics) gauges(locks lock.Manager, storePath string) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "davd_locks_held",
		Help: "WebDAV locks held (expired ones not yet removed included)."}, func() float64 {
		n, _ := lock.Len(locks)
		return float64(n)
	}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "davd_state_store_bytes",
		Help: "Size of the dead-property and lock store file (davd.db)."}, func() float64 {
		fi, err := os.Stat(storePath)
		if err != nil {
			return 0
		}
		return float64(fi.Size())
	}))
}

// knownMethods are the method label's values; anything else is "other".
var knownMethods = map[string]bool{
	"GET": true, "HEAD": true, "PUT": true, "DELETE": true, "OPTIONS": true, "PROPFIND": true, "PROPPATCH": true,
	"MKCOL": true, "COPY": true, "MOVE": true, "LOCK": true, "UNLOCK": true, "POST": true, "PATCH": true, "REPORT": true,
	"MKREDIRECTREF": true, "UPDATEREDIRECTREF": true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "other"
}

var codeClasses = [...]string{"1xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

func codeLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return codeClasses[status/100]
}

// observe records one finished request.
func (m *metrics) observe(method string, status int, received, sent int64, d time.Duration) {
	ml := methodLabel(method)
	m.requests.WithLabelValues(ml, codeLabel(status)).Inc()
	m.duration.WithLabelValues(ml).Observe(d.Seconds())
	m.received.Add(float64(received))
	m.sent.Add(float64(sent))
	if method == http.MethodPut {
		m.putBytes.Add(float64(received))
	}
	if status == http.StatusUnauthorized {
		m.authFail.Inc()
	}
}

// countingBody counts the bytes of a request body that the handler reads.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// countConns wraps ln so that m counts its connections.
func (m *metrics) countConns(ln net.Listener) net.Listener {
	return &countingListener{Listener: ln, m: m}
}

type countingListener struct {
	net.Listener
	m *metrics
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	l.m.conns.Inc()
	l.m.connsAll.Inc()
	return &countingConn{Conn: c, m: l.m}, nil
}

type countingConn struct {
	net.Conn
	m    *metrics
	once sync.Once
}

// ReadFrom keeps the sendfile(2) path of the connection underneath (server/h1 and net/http
// look for an io.ReaderFrom on the connection; without it a file body goes through a buffer).
func (c *countingConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

var _ io.ReaderFrom = (*countingConn)(nil)

func (c *countingConn) Close() error {
	c.once.Do(c.m.conns.Dec)
	return c.Conn.Close()
}

// opsHandler serves the metrics listener: /metrics, /healthz (the process answers) and
// /readyz (ready checks every condition for serving and answers 503 with the reasons when one
// fails).
func (m *metrics) opsHandler(ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// checkRoot reports whether dir is a directory davd can list and write: access(2) with
// R_OK|W_OK|X_OK (EROFS on a read-only mount) and reading one entry.
func checkRoot(dir string) error {
	if err := unix.Access(dir, unix.R_OK|unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("root %s: not readable and writable: %w", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("root %s: %w", dir, err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("root %s: cannot list: %w", dir, err)
	}
	return nil
}

// joinReasons is errors.Join on one line.
func joinReasons(errs []error) error {
	var s []string
	for _, e := range errs {
		if e != nil {
			s = append(s, e.Error())
		}
	}
	if len(s) == 0 {
		return nil
	}
	return errors.New(strings.Join(s, "; "))
}
