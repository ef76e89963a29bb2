package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestConfigureFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "davd.toml")
	doc := `root = "/from/file"
listen = "127.0.0.1:9000"
state = "/state/from/file"
[limits]
max_put_bytes = 100
`
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	// Flags given before and after -config both win over the file.
	c, err := configure([]string{"-listen", "127.0.0.1:9001", "-config", cfg, "-max-put-bytes", "7"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != "/from/file" || c.State != "/state/from/file" || c.Listen != "127.0.0.1:9001" || c.Limits.MaxPutBytes != 7 {
		t.Errorf("got root %q state %q listen %q max_put_bytes %d", c.Root, c.State, c.Listen, c.Limits.MaxPutBytes)
	}
	// The CLI contract without a file is unchanged.
	c, err = configure([]string{"-root", "r", "-listen", "127.0.0.1:1", "-state", "s"})
	if err != nil || c.Root != "r" || c.Listen != "127.0.0.1:1" || c.State != "s" {
		t.Errorf("got %+v, %v", c, err)
	}
	if _, err := configure([]string{"-config", filepath.Join(dir, "missing.toml")}); err == nil {
		t.Error("missing config file accepted")
	}
	if err := os.WriteFile(cfg, []byte("roots = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := configure([]string{"-config", cfg}); err == nil || !strings.Contains(err.Error(), "roots") {
		t.Errorf("unknown key: err = %v", err)
	}
}

func TestHashPassword(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"hash-password", "-cost", "4"}, strings.NewReader("correct horse\n"), &out); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse")); err != nil {
		t.Errorf("hash %q does not match the password: %v", h, err)
	}
	if err := run([]string{"hash-password"}, strings.NewReader(""), &out); err == nil {
		t.Error("empty password accepted")
	}
	if err := run([]string{"hash-password"}, strings.NewReader(strings.Repeat("x", 73)), &out); err == nil {
		t.Error("password over 72 bytes accepted")
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}, {"-root", "x", "--version"}} {
		var out bytes.Buffer
		if err := run(args, strings.NewReader(""), &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if s := out.String(); !strings.HasPrefix(s, "davd ") || !strings.Contains(s, runtime.Version()) || strings.Count(s, "\n") != 1 {
			t.Errorf("%v printed %q", args, s)
		}
	}
}

func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-root", "x", "-h"}} {
		var out bytes.Buffer
		if err := run(args, strings.NewReader(""), &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		s := out.String()
		for _, want := range []string{"hash-password", "davd version", "-listen", "-max-put-bytes", "davd.example.toml"} {
			if !strings.Contains(s, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, s)
			}
		}
	}
	var out bytes.Buffer
	if err := run([]string{"hash-password", "-h"}, strings.NewReader(""), &out); err != nil || !strings.Contains(out.String(), "-cost") {
		t.Errorf("hash-password -h: %v\n%s", err, out.String())
	}
}

func TestWrongFlagIsOneLine(t *testing.T) {
	for _, args := range [][]string{{"-lsten", "x"}, {"-max-put-bytes", "lots"}, {"extra"}, {"hash-password", "-cst", "5"}} {
		var out bytes.Buffer
		err := run(args, strings.NewReader(""), &out)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "-h") || out.Len() != 0 {
			t.Errorf("%v: err %q, stdout %q", args, err, out.String())
		}
	}
}

func TestMaxPutBytesSuffix(t *testing.T) {
	c, err := configure([]string{"-max-put-bytes", "10G"})
	if err != nil || c.Limits.MaxPutBytes != 10<<30 {
		t.Errorf("max_put_bytes %d, %v", c.Limits.MaxPutBytes, err)
	}
	c, err = configure([]string{"-max-put-bytes", "512MiB"})
	if err != nil || c.Limits.MaxPutBytes != 512<<20 {
		t.Errorf("max_put_bytes %d, %v", c.Limits.MaxPutBytes, err)
	}
}

// TestHashPasswordCostRange: the range -cost names is the range it takes, and nothing outside
// it is silently replaced by the default.
func TestHashPasswordCostRange(t *testing.T) {
	for _, cost := range []string{"3", "17", "31", "-1"} {
		var out bytes.Buffer
		err := run([]string{"hash-password", "-cost", cost}, strings.NewReader("pw\n"), &out)
		if err == nil || !strings.Contains(err.Error(), "4 to 16") {
			t.Errorf("-cost %s: err %v, printed %q", cost, err, out.String())
		}
	}
	var out bytes.Buffer
	if err := run([]string{"hash-password", "-cost", "5"}, strings.NewReader("pw\n"), &out); err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost([]byte(strings.TrimSpace(out.String()))); err != nil || c != 5 {
		t.Errorf("cost %d, %v", c, err)
	}
}

func TestLogFormatJSON(t *testing.T) {
	var buf bytes.Buffer
	newLogger("json", &buf).Info("davd serving", "addr", "127.0.0.1:1")
	if !strings.HasPrefix(buf.String(), "{") || !strings.Contains(buf.String(), `"addr":"127.0.0.1:1"`) {
		t.Errorf("json log line %q", buf.String())
	}
	c, err := configure([]string{"-log-format", "json", "-access-log-format", "combined"})
	if err != nil || c.LogFormat != "json" || c.AccessLogFormat != "combined" {
		t.Errorf("%+v, %v", c, err)
	}
}
