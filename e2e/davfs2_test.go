//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDavfs2 mounts davd with davfs2 (the Linux kernel file system client, through FUSE) and uses
// it as a person's programs would: cp of files, mkdir, an editor-style save (write a temp file,
// rename it over the original), read back and ls; then it unmounts (which flushes davfs2's
// cache) and checks every file over HTTP, and that no lock or temp file was left behind.
//
// It needs root, /dev/fuse and davfs2. Where they are missing the test fails loudly: it never
// skips.
func TestDavfs2(t *testing.T) {
	tool(t, "mount.davfs", "davfs2")
	if os.Geteuid() != 0 {
		t.Fatalf("davfs2 test needs root to mount (euid %d)", os.Geteuid())
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("davfs2 needs /dev/fuse: %v", err)
	}
	s := startServer(t, serverOpts{Flags: []string{"-no-fsync"}})
	mustStatus(t, 201, "PUT", s.url("existing.txt"), nil, []byte("was here before the mount\n"))

	// davfs2 runs as its own user (davfs2) and needs to reach its cache directory: an ordinary
	// 0700 test temp dir would not do.
	base, err := os.MkdirTemp("", "davd-davfs2-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(base, 0o755))
	cache, mnt := filepath.Join(base, "cache"), filepath.Join(base, "mnt")
	must(os.Mkdir(cache, 0o777))
	must(os.Chmod(cache, 0o777))
	must(os.Mkdir(mnt, 0o755))
	secrets := filepath.Join(base, "secrets")
	// Anonymous: an empty user name and password, so mount.davfs never prompts.
	must(os.WriteFile(secrets, fmt.Appendf(nil, "%s \"\" \"\"\n", s.URL), 0o600))
	conf := filepath.Join(base, "davfs2.conf")
	must(os.WriteFile(conf, fmt.Appendf(nil,
		"buf_size 64\nuse_locks 1\ndelay_upload 0\ncache_dir %s\nsecrets %s\n", cache, secrets), 0o644))

	out, err := runCmd(t, 60*time.Second, "", nil, nil, "mount", "-t", "davfs", "-o", "conf="+conf, s.URL, mnt)
	if err != nil {
		t.Fatalf("mount -t davfs %s: %v\n%s", s.URL, err, out)
	}
	mounted := true
	unmount := func() {
		t.Helper()
		if !mounted {
			return
		}
		out, err := runCmd(t, 120*time.Second, "", nil, nil, "umount", mnt)
		if err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
			runCmd(t, 30*time.Second, "", nil, nil, "umount", "-l", mnt)
		}
		mounted = false
	}
	t.Cleanup(unmount)

	// What was on the server shows up in the mount.
	if got, err := os.ReadFile(filepath.Join(mnt, "existing.txt")); err != nil || string(got) != "was here before the mount\n" {
		t.Errorf("reading existing.txt through the mount: %q, %v", got, err)
	}

	// cp of a small and a large file.
	local := t.TempDir()
	files := map[string][]byte{
		"notes.txt":       []byte("written through davfs2\n"),
		"photos/big.bin":  randomBytes(3<<20+17, 6),
		"photos/tiny.txt": []byte("x"),
	}
	must(os.Mkdir(filepath.Join(mnt, "photos"), 0o755))
	for name, data := range files {
		src := filepath.Join(local, strings.ReplaceAll(name, "/", "_"))
		must(os.WriteFile(src, data, 0o644))
		if out, err := runCmd(t, 60*time.Second, "", nil, nil, "cp", src, filepath.Join(mnt, name)); err != nil {
			t.Fatalf("cp %s: %v\n%s", name, err, out)
		}
	}

	// An editor-style save: write the new version to a temp file, then rename it over the
	// original (what vim with backupcopy=no, gedit and most IDEs do).
	doc := filepath.Join(mnt, "doc.txt")
	must(os.WriteFile(doc, []byte("first draft\n"), 0o644))
	tmp := filepath.Join(mnt, ".doc.txt.swp")
	must(os.WriteFile(tmp, []byte("second draft, saved by the editor\n"), 0o644))
	must(os.Rename(tmp, doc))
	files["doc.txt"] = []byte("second draft, saved by the editor\n")

	for name, data := range files {
		if got, err := os.ReadFile(filepath.Join(mnt, name)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("read back %s through the mount: %d bytes (%v), want %d", name, len(got), err, len(data))
		}
	}
	out, err = runCmd(t, 30*time.Second, "", nil, nil, "ls", "-la", mnt, filepath.Join(mnt, "photos"))
	if err != nil {
		t.Errorf("ls: %v\n%s", err, out)
	}
	t.Logf("ls -la of the mount:\n%s", out)
	for _, want := range []string{"notes.txt", "doc.txt", "existing.txt", "photos", "big.bin", "tiny.txt"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls does not list %s", want)
		}
	}
	if strings.Contains(out, ".doc.txt.swp") {
		t.Errorf("ls still lists the editor's temp file")
	}

	unmount()

	// Over HTTP, after the unmount flushed everything.
	for name, data := range files {
		if got := mustStatus(t, 200, "GET", s.url(name), nil, nil); !bytes.Equal(got, data) {
			t.Errorf("GET %s after the unmount: %d bytes, want %d identical bytes", name, len(got), len(data))
		}
	}
	mustStatus(t, 404, "GET", s.url(".doc.txt.swp"), nil, nil)
	var names []string
	entries, err := os.ReadDir(s.Root)
	must(err)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	// (davfs2's lost+found exists only in the mount, never on the server.)
	if want := []string{"doc.txt", "existing.txt", "notes.txt", "photos"}; !slices.Equal(names, want) {
		t.Errorf("server root after the unmount: %q, want %q", names, want)
	}
	// No lock left behind (use_locks 1): a plain PUT from another client succeeds.
	mustStatus(t, 204, "PUT", s.url("doc.txt"), nil, []byte("edited over HTTP\n"))
	mustStatus(t, 204, "PUT", s.url("photos/big.bin"), nil, []byte("replaced\n"))
}
