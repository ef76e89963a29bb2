package server

import (
	"bytes"

	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// sizeKeys are the configuration keys that hold a number of bytes: the file may write them as
// an integer or as a string with a unit ("10G", "512MiB"), like the flags.
var sizeKeys = [][]string{{"limits", "max_put_bytes"}, {"limits", "max_xml_bytes"}}

// durationKeys are the configuration keys that hold a duration. TOML has no duration type:
// the decoder reads a string with Go's time.ParseDuration ("30s", "1h30m") and takes an integer
// as nanoseconds, so "idle = 30" would silently be 30 ns. An integer other than 0 is refused.
var durationKeys = [][]string{
	{"timeouts", "read_header"}, {"timeouts", "idle"}, {"timeouts", "transfer"}, {"timeouts", "shutdown"},
	{"limits", "max_lock_timeout"},
	{"login_throttle", "window"}, {"login_throttle", "ban"}, {"login_throttle", "max_ban"}, {"login_throttle", "user_delay"},
	{"cluster", "blob_grace"}, {"cluster", "gc_interval"}, {"cors", "max_age"},
}

// sizeUnits are the suffixes ParseSize accepts. K, M, G, T and their -iB forms are powers of
// 1024 (as nginx's and Apache's size directives are); KB, MB, GB and TB are powers of 1000.
var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "KIB": 1 << 10, "KB": 1e3,
	"M": 1 << 20, "MIB": 1 << 20, "MB": 1e6,
	"G": 1 << 30, "GIB": 1 << 30, "GB": 1e9,
	"T": 1 << 40, "TIB": 1 << 40, "TB": 1e12,
}

// ParseSize parses a byte count: a non-negative integer, optionally followed by a unit ("10G",
// "512MiB", "1.5G" is refused: sizes are whole numbers of their unit). Units are case
// insensitive; K, M, G, T are binary (1024), KB, MB, GB, TB decimal.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size: want a whole number with an optional unit, e.g. 10G or 512MiB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", s, err)
	}
	unit, ok := sizeUnits[strings.ToUpper(strings.TrimSpace(t[i:]))]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit %q (want B, K, M, G, T, KiB…TiB or KB…TB)", s, strings.TrimSpace(t[i:]))
	}
	if n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * unit, nil
}

// SizeFlag is a flag.Value of a byte count in ParseSize's syntax.
type SizeFlag struct{ P *int64 }

func (f SizeFlag) String() string {
	if f.P == nil {
		return "0"
	}
	return strconv.FormatInt(*f.P, 10)
}

// Set parses s with ParseSize.
func (f SizeFlag) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	*f.P = n
	return nil
}

// withSizes rewrites the size keys that the document writes as strings into integers, so that
// the strict decode into Config (whose fields are plain byte counts) accepts them. It returns
// b unchanged when there is nothing to rewrite.
func withSizes(b []byte) ([]byte, error) {
	var doc map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		return b, nil // the strict decode reports it, with its line
	}
	changed := false
	// size rewrites tbl[key] when it is a string; where names it in an error.
	size := func(where string, tbl map[string]any, key string) error {
		v, ok := tbl[key].(string)
		if !ok {
			return nil
		}
		n, err := ParseSize(v)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		tbl[key], changed = n, true
		return nil
	}
	// quota_bytes, at the top and in each [[users]] entry.
	if err := size("quota_bytes", doc, "quota_bytes"); err != nil {
		return nil, err
	}
	if users, ok := doc["users"].([]map[string]any); ok {
		for i, u := range users {
			if err := size(fmt.Sprintf("users[%d].quota_bytes", i), u, "quota_bytes"); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range sizeKeys {
		if tbl, ok := doc[k[0]].(map[string]any); ok {
			if err := size(strings.Join(k, "."), tbl, k[1]); err != nil {
				return nil, err
			}
		}
	}
	if !changed {
		return b, nil
	}
	var out bytes.Buffer
	if err := toml.NewEncoder(&out).Encode(doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// checkDurations refuses a duration key written as a non-zero integer.
func checkDurations(md toml.MetaData, c *Config) error {
	for _, k := range durationKeys {
		if md.Type(k...) != "Integer" {
			continue
		}
		var v int64
		switch k[1] {
		case "read_header":
			v = int64(c.Timeouts.ReadHeader)
		case "idle":
			v = int64(c.Timeouts.Idle)
		case "transfer":
			v = int64(c.Timeouts.Transfer)
		case "shutdown":
			v = int64(c.Timeouts.Shutdown)
		case "max_lock_timeout":
			v = int64(c.Limits.MaxTimeout)
		}
		if v != 0 {
			return fmt.Errorf("%s: %d has no unit (TOML would read it as %d nanoseconds); write %s = \"%ds\" for seconds, or \"%dm\", \"%dh\"",
				strings.Join(k, "."), v, v, k[1], v, v, v)
		}
	}
	return nil
}

// hintQuotes adds to a TOML syntax error the likely fix: a string value without quotes.
func hintQuotes(msg string) string {
	if strings.Contains(msg, "expected value but found") {
		return msg + ` (a text value needs quotes, e.g. root = "/srv/dav")`
	}
	return msg
}
