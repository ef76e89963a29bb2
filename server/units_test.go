package server

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davd/davd/store/bolt"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"512", 512}, {"10G", 10 << 30}, {"10g", 10 << 30}, {"512MiB", 512 << 20},
		{"1KB", 1000}, {"2 MB", 2e6}, {"3T", 3 << 40}, {"7B", 7},
	} {
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "G", "1.5G", "-1", "10X", "9999999999999T"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestConfigUnits(t *testing.T) {
	t.Run("newcomer: idle = 30 names the key and suggests 30s", func(t *testing.T) {
		c := Defaults()
		err := Parse([]byte("[timeouts]\nidle = 30\n"), &c)
		if err == nil || !strings.Contains(err.Error(), "timeouts.idle") || !strings.Contains(err.Error(), `"30s"`) {
			t.Errorf("err = %v", err)
		}
		if c.Timeouts.Idle != Defaults().Timeouts.Idle {
			t.Errorf("a refused file changed idle to %v", c.Timeouts.Idle)
		}
	})
	t.Run("lock timeout without unit", func(t *testing.T) {
		c := Defaults()
		if err := Parse([]byte("[limits]\nmax_lock_timeout = 600\n"), &c); err == nil || !strings.Contains(err.Error(), "limits.max_lock_timeout") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("zero needs no unit", func(t *testing.T) {
		c := Defaults()
		if err := Parse([]byte("[timeouts]\ntransfer = 0\n"), &c); err != nil || c.Timeouts.Transfer != 0 {
			t.Errorf("transfer = %v, err = %v", c.Timeouts.Transfer, err)
		}
	})
	t.Run("durations with a unit", func(t *testing.T) {
		c := Defaults()
		if err := Parse([]byte("[timeouts]\nidle = \"30s\"\nshutdown = \"1m\"\n"), &c); err != nil || c.Timeouts.Idle != 30*time.Second || c.Timeouts.Shutdown != time.Minute {
			t.Errorf("%+v, %v", c.Timeouts, err)
		}
	})
	t.Run("sizes with a unit, integers unchanged", func(t *testing.T) {
		c := Defaults()
		doc := "listen = \"127.0.0.1:1\"\n[limits]\nmax_put_bytes = \"10G\"\nmax_xml_bytes = 4096\nmax_locks = 3\n[[users]]\nname = \"u\"\npassword = \"" + testHash + "\"\nrules = [{ path = \"/p\", permissions = \"read-only\" }]\n"
		if err := Parse([]byte(doc), &c); err != nil {
			t.Fatal(err)
		}
		if c.Limits.MaxPutBytes != 10<<30 || c.Limits.MaxXMLBytes != 4096 || c.Limits.MaxLocks != 3 || c.Listen != "127.0.0.1:1" ||
			len(c.Users) != 1 || c.Users[0].Rules[0].Path != "/p" {
			t.Errorf("decoded %+v", c)
		}
	})
	t.Run("bad size names the key", func(t *testing.T) {
		c := Defaults()
		if err := Parse([]byte("[limits]\nmax_put_bytes = \"lots\"\n"), &c); err == nil || !strings.Contains(err.Error(), "limits.max_put_bytes") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("newcomer: unquoted string hints at the quotes", func(t *testing.T) {
		c := Defaults()
		if err := Parse([]byte("root = /srv/dav\n"), &c); err == nil || !strings.Contains(err.Error(), "needs quotes") || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestSecondInstanceOnTheSameState: a second davd on the same state directory is told at once
// that another davd holds it, rather than waiting for bbolt's timeout.
func TestSecondInstanceOnTheSameState(t *testing.T) {
	dir := t.TempDir()
	c := Defaults()
	c.Root, c.State, c.NoFsync = filepath.Join(dir, "data"), filepath.Join(dir, "state"), true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	first, err := Build(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = Build(c, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "another davd is already using "+c.State) {
		t.Fatalf("second Build: %v", err)
	}
	if _, err := bolt.Open(filepath.Join(c.State, "davd.db"), bolt.Options{OpenTimeout: time.Millisecond}); !errors.Is(err, bolt.ErrInUse) {
		t.Errorf("bolt.Open of a held file: %v, want ErrInUse", err)
	}
}
