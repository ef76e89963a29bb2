package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dist/davd.service passes systemd-analyze verify with no complaint at all (an unknown or
// misspelt key is only a warning there, so any output fails the test), with ExecStart pointed
// at an executable that exists here. It is Type=notify, which server.Run answers (sd_notify).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is not installed (Debian package systemd; ./scripts/test.sh installs it): %v", err)
	}
	unit, err := os.ReadFile("../../dist/davd.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nType=notify\n") || !strings.Contains(string(unit), "ExecStart=/usr/local/bin/davd ") {
		t.Fatal("dist/davd.service: want Type=notify and ExecStart=/usr/local/bin/davd")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "davd.service")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/davd", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", p).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
