//go:build e2e

package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// litmusSuites is what litmus (Debian's 0.13) runs with -k: every suite must pass every test.
var litmusSuites = map[string]int{"basic": 16, "copymove": 13, "props": 30, "locks": 41, "http": 4}

var (
	litmusSummary = regexp.MustCompile("<- summary for `([^']+)': of (\\d+) tests run: (\\d+) passed, (\\d+) failed")
	// "-> 2 warnings were issued." after a suite, "(with 1 warning)" inside a summary line.
	litmusWarnings = regexp.MustCompile(`(\d+) warnings? (?:was |were )?issued|\(with (\d+) warnings?\)`)
)

// TestLitmus runs the litmus WebDAV conformance suite (basic, copymove, props, locks, http)
// against davd at the root, mounted under -prefix /dav, and at the root served by Go's
// net/http instead of davd's own HTTP/1.1 server (-http1 net/http). litmus exits 0 even when
// tests fail, so its summary lines are parsed: 104 of 104 must pass, with no warnings.
func TestLitmus(t *testing.T) {
	litmus := tool(t, "litmus", "litmus")
	for _, tc := range []struct{ name, prefix, http1 string }{
		{"root", "", "davd"}, {"prefix", "/dav", "davd"}, {"net-http", "", "net/http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, serverOpts{Prefix: tc.prefix, Flags: []string{"-no-fsync", "-access-log=false", "-http1", tc.http1}})
			// litmus writes debug.log into its working directory.
			out, err := runCmd(t, 5*time.Minute, t.TempDir(), nil, nil, litmus, "-k", s.URL)
			if err != nil {
				t.Fatalf("litmus -k %s: %v\n%s", s.URL, err, out)
			}
			checkLitmus(t, out)
		})
	}
}

func checkLitmus(t *testing.T, out string) {
	t.Helper()
	checkLitmusOf(t, out, litmusSuites, 104, "")
}

// litmusTLSSkip is the one test litmus itself leaves out on an https:// URL: its expect100
// test writes a raw request to a plain socket.
const litmusTLSSkip = "SKIPPED (skipping for SSL server)"

// checkLitmusTLS checks a run over https: every suite whole, but for http's expect100, which
// litmus skips there, and nothing else skipped.
func checkLitmusTLS(t *testing.T, out string) {
	t.Helper()
	if n := strings.Count(out, "expect100"); n == 0 || !strings.Contains(out, litmusTLSSkip) {
		t.Errorf("litmus over TLS did not report its known skip of expect100:\n%s", out)
	}
	suites := map[string]int{}
	for k, v := range litmusSuites {
		suites[k] = v
	}
	suites["http"]--
	checkLitmusOf(t, out, suites, 103, litmusTLSSkip)
}

// checkLitmusOf checks litmus's output against the tests each suite must run and pass, total in
// all; a line containing allowed (when not "") is not a problem.
func checkLitmusOf(t *testing.T, out string, litmusSuites map[string]int, total int, allowed string) {
	t.Helper()
	passed, failed, issued, warnLines := 0, 0, 0, 0
	seen := map[string]bool{}
	var problems []string
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\r\n")
		if m := litmusWarnings.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1] + m[2])
			issued += n
			problems = append(problems, line)
		} else if strings.Contains(line, "WARNING") {
			warnLines++
			problems = append(problems, line)
		}
		if m := litmusSummary.FindStringSubmatch(line); m != nil {
			t.Log(line)
			run, _ := strconv.Atoi(m[2])
			p, _ := strconv.Atoi(m[3])
			f, _ := strconv.Atoi(m[4])
			passed += p
			failed += f
			seen[m[1]] = true
			if want, ok := litmusSuites[m[1]]; !ok || run != want || p != want || f != 0 {
				t.Errorf("suite %s: %d run, %d passed, %d failed; want %d of %d passed", m[1], run, p, f, want, want)
			}
		} else if allowed != "" && strings.Contains(line, allowed) {
			continue
		} else if allowed != "" && strings.TrimSpace(line) == "-> 1 test was skipped." {
			continue
		} else if strings.Contains(line, "FAIL") || strings.Contains(line, "SKIPPED") || strings.Contains(line, "skipped") {
			problems = append(problems, line)
		}
	}
	for suite := range litmusSuites {
		if !seen[suite] {
			t.Errorf("no summary for suite %s", suite)
		}
	}
	warnings := max(issued, warnLines) // a WARNING line is usually also counted as issued
	t.Logf("litmus total: %d passed, %d failed, %d warnings", passed, failed, warnings)
	if passed != total || failed != 0 || warnings != 0 || len(problems) > 0 {
		t.Errorf("litmus: %d passed, %d failed, %d warnings; want %d passed, 0 failed, 0 warnings; reported:\n%s\n--- full output ---\n%s",
			passed, failed, warnings, total, strings.Join(problems, "\n"), out)
	}
}
