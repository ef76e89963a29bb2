// Command report turns bench/run.sh's raw figures into the markdown table of bench/RESULTS.md:
// one row per workload figure, one column per server, each cell the median over rounds with the
// server's ratio to the best server of the row, then davd's targets, met or missed.
//
//	report -servers "davd apache ..." -rounds N [-title T] < raw.txt
//
// raw lines: ROUND LABEL WORKLOAD METRIC VALUE UNIT
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

type key struct{ server, workload, metric string }

type data struct {
	vals    map[key][]float64
	unit    map[key]string
	status  map[[2]string]string // server, workload -> last HTTP status
	partial map[[2]string]string // server, workload -> "got/want"
	errs    map[[2]string]float64
}

func read(r io.Reader) (*data, error) {
	d := &data{
		vals: map[key][]float64{}, unit: map[key]string{},
		status: map[[2]string]string{}, partial: map[[2]string]string{}, errs: map[[2]string]float64{},
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 6 {
			continue
		}
		sw := [2]string{f[1], f[2]}
		switch f[3] {
		case "status":
			d.status[sw] = f[4]
			continue
		case "incomplete":
			d.partial[sw] = f[4]
			continue
		}
		v, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			continue
		}
		if f[3] == "err_status" || f[3] == "err_sock" {
			d.errs[sw] += v
		}
		k := key{f[1], f[2], f[3]}
		d.vals[k] = append(d.vals[k], v)
		d.unit[k] = f[5]
	}
	return d, sc.Err()
}

// median returns the median, min and max of the values of k.
func (d *data) median(k key) (med, lo, hi float64, ok bool) {
	v := slices.Clone(d.vals[k])
	if len(v) == 0 {
		return 0, 0, 0, false
	}
	slices.Sort(v)
	n := len(v)
	med = v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return med, v[0], v[n-1], true
}

type row struct {
	workload, metric string
	higher           bool // higher is better; false: lower is better
	ranked           bool // ratio to the best shown
	what             string
}

var rows = []row{
	{"pf_allprop_1k", "rps", true, true, "PROPFIND D1 allprop, 1,000 files"},
	{"pf_props_1k", "rps", true, true, "PROPFIND D1 4 props, 1,000 files"},
	{"pf_dead_1k", "rps", true, true, "PROPFIND D1 allprop, 1,000 files with 3 dead props each"},
	{"pf_allprop_10k", "rps", true, true, "PROPFIND D1 allprop, 10,000 files"},
	{"pf_props_10k", "rps", true, true, "PROPFIND D1 4 props, 10,000 files"},
	{"pf_allprop_1k", "rss_peak", false, true, "peak RSS, PROPFIND allprop 1,000"},
	{"pf_allprop_10k", "rss_peak", false, true, "peak RSS, PROPFIND allprop 10,000"},
	{"pf_allprop_1k", "bytes", false, false, "response size, allprop 1,000"},
	{"pf_dead_1k", "bytes", false, false, "response size, allprop 1,000 + dead"},
	{"pf_dinf", "time", false, true, "PROPFIND Depth infinity, 20,221 resources"},
	{"pf_dinf", "rss_peak", false, true, "peak RSS, Depth infinity"},
	{"get_4k", "rps", true, true, "GET 4 KiB"},
	{"get_4k", "lat_p99_ms", false, true, "GET 4 KiB p99"},
	{"get_4k", "cpu_us", false, true, "GET 4 KiB, server CPU per request"},
	{"get_1g", "mbps", true, true, "GET 1 GiB"},
	{"put_4k", "rps", true, true, "PUT 4 KiB, new names"},
	{"put_4k", "lat_p99_ms", false, true, "PUT 4 KiB p99"},
	{"put_4k", "cpu_us", false, true, "PUT 4 KiB, server CPU per request"},
	{"put_1g", "mbps", true, true, "PUT 1 GiB"},
	{"put_1g", "rss_peak", false, true, "peak RSS, PUT 1 GiB"},
	{"mixed", "rps", true, true, "mixed PUT/GET/PROPFIND/DELETE"},
	{"mixed", "lat_p99_ms", false, true, "mixed p99"},
	{"mixed", "cpu_us", false, true, "mixed, server CPU per request"},
	{"copy_1k", "time", false, true, "COPY 1,000 files"},
	{"move_1k", "time", false, true, "MOVE 1,000 files"},
	{"delete_1k", "time", false, true, "DELETE 1,000 files"},
}

func num(x float64) string {
	switch a := math.Abs(x); {
	case a >= 100 || x == math.Trunc(x):
		s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
		if a >= 10000 { // thousands separators
			var b strings.Builder
			for i, c := range s {
				if i > 0 && (len(s)-i)%3 == 0 {
					b.WriteByte(',')
				}
				b.WriteRune(c)
			}
			s = b.String()
		}
		return s
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}

// display converts KiB to MiB and bytes to KB.
func display(unit string) (string, float64) {
	switch unit {
	case "KiB":
		return "MiB", 1.0 / 1024
	case "B":
		return "KB", 1.0 / 1000
	}
	return unit, 1
}

func main() {
	servers := flag.String("servers", "", "column order (space separated labels)")
	rounds := flag.Int("rounds", 1, "rounds in the raw figures")
	title := flag.String("title", "", "heading line")
	flag.Parse()
	d, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	srv := strings.Fields(*servers)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	if *title != "" {
		fmt.Fprintln(w, *title)
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Cell: median of %d round(s)", *rounds)
	if *rounds > 1 {
		fmt.Fprint(w, " [min..max]")
	}
	fmt.Fprintln(w, ", then (fraction of the best server on the row: 1.00 is the best, 0.50 half as good).")
	fmt.Fprintln(w, "`-`: not run for that server; `fail:CODE`: refused; `partial`: a 207 lacking resources (never counted as best).")
	fmt.Fprintln(w)
	fmt.Fprint(w, "| workload | metric |")
	for _, s := range srv {
		fmt.Fprintf(w, " %s |", s)
	}
	fmt.Fprint(w, "\n|---|---|")
	for range srv {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		best, bestOK := 0.0, false
		med := make([]float64, len(srv))
		has := make([]bool, len(srv))
		unit := ""
		for i, s := range srv {
			k := key{s, r.workload, r.metric}
			m, _, _, ok := d.median(k)
			if !ok {
				continue
			}
			med[i], has[i], unit = m, true, d.unit[k]
			if _, part := d.partial[[2]string{s, r.workload}]; part || (r.higher && m <= 0) {
				continue
			}
			if !bestOK || (r.higher && m > best) || (!r.higher && m < best) {
				best, bestOK = m, true
			}
		}
		if !slices.Contains(has, true) {
			continue
		}
		u, sc := display(unit)
		fmt.Fprintf(w, "| %s | %s (%s) |", r.what, r.metric, u)
		for i, s := range srv {
			sw := [2]string{s, r.workload}
			if !has[i] {
				if st, ok := d.status[sw]; ok && !strings.HasPrefix(st, "20") {
					fmt.Fprintf(w, " fail:%s |", st)
				} else {
					fmt.Fprint(w, " - |")
				}
				continue
			}
			cell := num(med[i] * sc)
			if p, part := d.partial[sw]; part {
				fmt.Fprintf(w, " %s partial %s |", cell, p)
				continue
			}
			if r.ranked && bestOK {
				cell += fmt.Sprintf(" (%.2f)", ratio(med[i], best, r.higher))
			}
			if *rounds > 1 {
				_, lo, hi, _ := d.median(key{s, r.workload, r.metric})
				cell += fmt.Sprintf(" [%s..%s]", num(lo*sc), num(hi*sc))
			}
			if e := d.errs[sw]; e > 0 && r.metric == "rps" {
				cell += fmt.Sprintf(" !%.0f err", e)
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}
	targets(w, d, srv)
}

// ratio is the fraction of the best: 1 for the best, smaller for worse.
func ratio(v, best float64, higher bool) float64 {
	if higher {
		if best == 0 {
			return 0
		}
		return v / best
	}
	if v == 0 {
		return 1
	}
	return best / v
}

var anchors = []string{"apache", "lighttpd", "nginx", "xnet", "rclone"}

// targets prints davd's targets from the performance issue, met or missed.
func targets(w io.Writer, d *data, srv []string) {
	get := func(s, wl, m string) (float64, bool) {
		if _, part := d.partial[[2]string{s, wl}]; part {
			return 0, false
		}
		v, _, _, ok := d.median(key{s, wl, m})
		return v, ok
	}
	bestAnchor := func(wl, m string, higher bool) (float64, string) {
		best, who := 0.0, ""
		for _, s := range anchors {
			if !slices.Contains(srv, s) {
				continue
			}
			if v, ok := get(s, wl, m); ok && (v > 0 || !higher) && (who == "" || (higher && v > best) || (!higher && v < best)) {
				best, who = v, s
			}
		}
		return best, who
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### davd against its targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | davd | reference | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|")
	line := func(name, have, ref string, ok, known bool) {
		v := "**missed**"
		switch {
		case !known:
			v = "not measured"
		case ok:
			v = "met"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, have, ref, v)
	}
	abs := func(name, wl, m, unit string, limit float64, higher bool) {
		v, ok := get("davd", wl, m)
		_, sc := display(unitOf(d, wl, m))
		line(name, num(v*sc)+" "+unit, "", ok && (higher && v*sc >= limit || !higher && v*sc <= limit), ok)
	}
	rel := func(name, wl, m string, factor float64, higher bool, refServer string) {
		v, ok := get("davd", wl, m)
		var ref float64
		var who string
		if refServer == "" {
			ref, who = bestAnchor(wl, m, higher)
		} else {
			ref, who = 0, refServer
			var rok bool
			if ref, rok = get(refServer, wl, m); !rok {
				who = ""
			}
		}
		if !ok || who == "" {
			line(name, "-", "not measured in this run", false, false)
			return
		}
		r := v / ref
		if !higher {
			r = ref / v
		}
		met := ok && (higher && v >= factor*ref || !higher && v <= ref/factor)
		line(name, fmt.Sprintf("%s (%.2f× %s)", num(v), r, who), fmt.Sprintf("%s %s", who, num(ref)), met, ok)
	}
	abs("PROPFIND D1 allprop 1,000 ≥ 2,000 req/s", "pf_allprop_1k", "rps", "req/s", 2000, true)
	abs("… same, files with 3 dead props each ≥ 2,000 req/s", "pf_dead_1k", "rps", "req/s", 2000, true)
	abs("PROPFIND D1 4 props 1,000 ≥ 3,000 req/s", "pf_props_1k", "rps", "req/s", 3000, true)
	abs("PROPFIND D1 allprop 10,000 ≥ 170 req/s", "pf_allprop_10k", "rps", "req/s", 170, true)
	abs("peak RSS PROPFIND 10,000 ≤ 32 MiB", "pf_allprop_10k", "rss_peak", "MiB", 32, false)
	r1, ok1 := get("davd", "pf_allprop_1k", "rss_peak")
	r10, ok10 := get("davd", "pf_allprop_10k", "rss_peak")
	if ok1 && ok10 && r1 > 0 {
		line("RSS flat in entry count (10k/1k ≤ 1.25)", fmt.Sprintf("%.2f", r10/r1), fmt.Sprintf("%s → %s MiB", num(r1/1024), num(r10/1024)), r10/r1 <= 1.25, true)
	}
	abs("PROPFIND Depth infinity 20,221 ≤ 150 ms", "pf_dinf", "time", "ms", 150, false)
	rel("GET 4 KiB ≥ 0.95× bare net/http", "get_4k", "rps", 0.95, true, "gohttp")
	rel("GET 1 GiB ≥ 0.95× best anchor", "get_1g", "mbps", 0.95, true, "")
	rel("PUT 4 KiB new names ≥ 1.0× nginx (fsync off)", "put_4k", "rps", 1.0, true, "nginx")
	if v, ok := get("davd_fsync", "put_4k", "rps"); ok {
		n, nok := get("nginx", "put_4k", "rps")
		ref := ""
		if nok {
			ref = fmt.Sprintf("%.2f× nginx (nginx never fsyncs)", v/n)
		}
		fmt.Fprintf(w, "| PUT 4 KiB, davd with fsync on (report only) | %s | %s | - |\n", num(v), ref)
	}
	rel("PUT 1 GiB ≥ 0.95× best anchor", "put_1g", "mbps", 0.95, true, "")
	rel("mixed ≥ 1.0× nginx", "mixed", "rps", 1.0, true, "nginx")
	for _, wl := range []struct{ id, what string }{{"put_4k", "PUT 4 KiB"}, {"mixed", "mixed"}} {
		// Report only: the server's CPU time per request, steadier than req/s on a machine
		// whose two cores wrk shares.
		v, ok := get("davd", wl.id, "cpu_us")
		n, nok := get("nginx", wl.id, "cpu_us")
		if ok && nok && v > 0 {
			fmt.Fprintf(w, "| %s, server CPU per request (report only) | %s µs | nginx %s µs (%.2f× nginx's) | - |\n", wl.what, num(v), num(n), v/n)
		}
	}
	rel("COPY 1,000 files ≤ best anchor", "copy_1k", "time", 1.0, false, "")
}

func unitOf(d *data, wl, m string) string {
	for k, u := range d.unit {
		if k.workload == wl && k.metric == m {
			return u
		}
	}
	return ""
}
