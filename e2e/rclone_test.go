//go:build e2e

package e2e

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rcloneRun runs rclone with no user configuration, no retries (a retry could hide a server
// error) and a deadline, and fails the test when it exits non-zero.
func rcloneRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := rcloneTry(t, args...)
	if err != nil {
		t.Fatalf("rclone %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func rcloneTry(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := tool(t, "rclone", "rclone")
	cfg := filepath.Join(t.TempDir(), "rclone.conf") // empty: never the user's config
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--config", cfg, "--retries", "1", "--low-level-retries", "1",
		"--contimeout", "10s", "--timeout", "30s"}
	return runCmd(t, 2*time.Minute, "", []string{"TZ=UTC"}, nil, bin, append(base, args...)...)
}

var lslLine = regexp.MustCompile(`^\s*(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) (.+)$`)

type remoteFile struct {
	size  int64
	mtime time.Time
}

// rcloneLsl lists a remote recursively: path → size and modification time.
func rcloneLsl(t *testing.T, remote string) map[string]remoteFile {
	t.Helper()
	files := map[string]remoteFile{}
	for line := range strings.Lines(rcloneRun(t, "lsl", remote)) {
		line = strings.TrimRight(line, "\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		m := lslLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("rclone lsl: unexpected line %q", line)
		}
		size, _ := strconv.ParseInt(m[1], 10, 64)
		mt, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", m[2], time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		files[m[3]] = remoteFile{size, mt}
	}
	return files
}

// rcloneModTimes reports whether rclone sets and reads modification times with this remote
// (its precision is finer than an hour; rclone says 100 years when it does not support them).
func rcloneModTimes(t *testing.T, remote string) bool {
	t.Helper()
	var f struct{ Precision int64 }
	out := rcloneRun(t, "backend", "features", remote)
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &f); err != nil {
		t.Fatalf("rclone backend features: %v\n%s", err, out)
	}
	return f.Precision > 0 && time.Duration(f.Precision) <= time.Hour
}

type localFile struct {
	data  []byte
	mtime time.Time
}

func writeTree(t *testing.T, dir string, files map[string]localFile) {
	t.Helper()
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRemote compares a remote listing with the expected files: names, sizes and, when rclone
// supports them for this remote, modification times to the second.
func checkRemote(t *testing.T, step string, got map[string]remoteFile, want map[string]localFile, modTimes bool) {
	t.Helper()
	var gotNames, wantNames []string
	for n := range got {
		gotNames = append(gotNames, n)
	}
	for n := range want {
		wantNames = append(wantNames, n)
	}
	slices.Sort(gotNames)
	slices.Sort(wantNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("%s: remote has %q, want %q", step, gotNames, wantNames)
	}
	for n, w := range want {
		g, ok := got[n]
		if !ok {
			continue
		}
		if g.size != int64(len(w.data)) {
			t.Errorf("%s: %s has size %d, want %d", step, n, g.size, len(w.data))
		}
		if modTimes && !g.mtime.Equal(w.mtime.Truncate(time.Second)) {
			t.Errorf("%s: %s has mtime %v, want %v (not preserved)", step, n, g.mtime, w.mtime)
		}
	}
}

// TestRclone uses rclone's webdav backend, configured on the command line only, with the default
// vendor and with vendor=owncloud (which sets modification times through X-OC-Mtime): mkdir,
// copy of a small tree, sync of changes, check (sizes, then content with --download), moveto,
// deletefile, purge and lsf. Modification times must survive every step wherever rclone
// supports them for the vendor.
func TestRclone(t *testing.T) {
	s := startServer(t, serverOpts{Flags: []string{"-no-fsync"}})
	for _, vendor := range []string{"other", "owncloud", "nextcloud"} {
		t.Run(vendor, func(t *testing.T) {
			base := ":webdav,url='" + s.URL + "',vendor=" + vendor + ":"
			remote := base + "tree-" + vendor
			modTimes := rcloneModTimes(t, base)
			t.Logf("vendor=%s: rclone preserves modification times: %v", vendor, modTimes)
			if vendor == "owncloud" && !modTimes {
				t.Fatalf("rclone reports no modification-time support for vendor=owncloud")
			}

			t0 := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
			files := map[string]localFile{
				"a.txt":              {[]byte("alpha\n"), t0},
				"empty.txt":          {[]byte{}, t0.Add(time.Hour)},
				"sub/b.bin":          {randomBytes(2<<20+3, 2), t0.Add(2 * time.Hour)},
				"sub/deep/c.txt":     {[]byte("gamma\n"), t0.Add(3 * time.Hour)},
				"über dir/ü 1 &.txt": {[]byte("unicode and space\n"), t0.Add(4 * time.Hour)},
			}
			src := t.TempDir()
			writeTree(t, src, files)

			rcloneRun(t, "mkdir", remote)
			if fi, err := os.Stat(filepath.Join(s.Root, "tree-"+vendor)); err != nil || !fi.IsDir() {
				t.Fatalf("rclone mkdir: no directory on the server (%v)", err)
			}
			rcloneRun(t, "copy", src, remote)
			checkRemote(t, "copy", rcloneLsl(t, remote), files, modTimes)
			out := rcloneRun(t, "check", src, remote)
			if vendor != "other" {
				// These vendors send OC-Checksum: SHA1 with every upload and read oc:checksums
				// back; rclone checks MD5 (owncloud) or SHA1 (nextcloud) of every file.
				if strings.Contains(out, "could not be checked") || !strings.Contains(out, "0 differences found") {
					t.Fatalf("rclone check (vendor %s) did not compare checksums:\n%s", vendor, out)
				}
				sums := rcloneRun(t, "sha1sum", remote)
				for name, f := range files {
					if want := fmt.Sprintf("%x  %s", sha1.Sum(f.data), name); !strings.Contains(sums, want) {
						t.Fatalf("rclone sha1sum lacks %q:\n%s", want, sums)
					}
				}
			}

			// Change the local tree and sync it: one file changed, one added, one removed.
			files["a.txt"] = localFile{[]byte("alpha, changed and longer\n"), t0.Add(10 * time.Hour)}
			files["new.txt"] = localFile{[]byte("new\n"), t0.Add(11 * time.Hour)}
			delete(files, "sub/deep/c.txt")
			if err := os.Remove(filepath.Join(src, "sub", "deep", "c.txt")); err != nil {
				t.Fatal(err)
			}
			writeTree(t, src, map[string]localFile{"a.txt": files["a.txt"], "new.txt": files["new.txt"]})
			rcloneRun(t, "sync", src, remote)
			checkRemote(t, "sync", rcloneLsl(t, remote), files, modTimes)
			rcloneRun(t, "check", src, remote)
			rcloneRun(t, "check", "--download", src, remote)
			if got := rcloneRun(t, "cat", remote+"/a.txt"); got != string(files["a.txt"].data) {
				t.Errorf("rclone cat a.txt after sync: %q", got)
			}

			// moveto into a directory that does not exist yet.
			rcloneRun(t, "moveto", remote+"/a.txt", remote+"/moved/a-moved.txt")
			files["moved/a-moved.txt"] = files["a.txt"]
			delete(files, "a.txt")
			checkRemote(t, "moveto", rcloneLsl(t, remote), files, modTimes)
			if got := rcloneRun(t, "cat", remote+"/moved/a-moved.txt"); got != string(files["moved/a-moved.txt"].data) {
				t.Errorf("rclone cat after moveto: %q", got)
			}

			rcloneRun(t, "deletefile", remote+"/new.txt")
			delete(files, "new.txt")
			checkRemote(t, "deletefile", rcloneLsl(t, remote), files, modTimes)

			lsf := strings.Split(strings.TrimSpace(rcloneRun(t, "lsf", "-R", remote)), "\n")
			slices.Sort(lsf)
			wantLsf := []string{"empty.txt", "moved/", "moved/a-moved.txt", "sub/", "sub/b.bin", "sub/deep/",
				"über dir/", "über dir/ü 1 &.txt"}
			if !slices.Equal(lsf, wantLsf) {
				t.Errorf("rclone lsf -R: %q, want %q", lsf, wantLsf)
			}

			rcloneRun(t, "purge", remote)
			if top := rcloneRun(t, "lsf", base); strings.Contains(top, "tree-"+vendor) {
				t.Errorf("after purge the server root still lists tree-%s:\n%s", vendor, top)
			}
			if _, err := os.Stat(filepath.Join(s.Root, "tree-"+vendor)); !os.IsNotExist(err) {
				t.Errorf("after purge the directory is still on disk (%v)", err)
			}
		})
	}
}
