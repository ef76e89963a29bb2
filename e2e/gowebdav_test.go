//go:build e2e

package e2e

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/studio-b12/gowebdav"
)

// TestGoWebDAV drives davd with the Go client library github.com/studio-b12/gowebdav: MkdirAll,
// Write, WriteStream, Read, ReadStreamRange, ReadDir, Stat, Rename, Copy, Remove and RemoveAll.
func TestGoWebDAV(t *testing.T) {
	s := startServer(t, serverOpts{Flags: []string{"-no-fsync"}})
	c := gowebdav.NewClient(s.URL, "", "")
	c.SetTimeout(30 * time.Second)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("Connect", c.Connect())

	must("MkdirAll", c.MkdirAll("/docs/2024/q1", 0o755))
	small := []byte("hello from gowebdav\n")
	big := randomBytes(1<<20+5, 3)
	must("Write", c.Write("/docs/hello.txt", small, 0o644))
	must("WriteStream", c.WriteStream("/docs/2024/big.bin", bytes.NewReader(big), 0o644))

	got, err := c.Read("/docs/hello.txt")
	must("Read", err)
	if !bytes.Equal(got, small) {
		t.Errorf("Read hello.txt: %q", got)
	}
	got, err = c.Read("/docs/2024/big.bin")
	must("Read big", err)
	if !bytes.Equal(got, big) {
		t.Errorf("Read big.bin: %d bytes differ from the %d written", len(got), len(big))
	}
	rs, err := c.ReadStreamRange("/docs/2024/big.bin", 1000, 100)
	must("ReadStreamRange", err)
	part, err := io.ReadAll(io.LimitReader(rs, 200))
	rs.Close()
	must("ReadStreamRange body", err)
	if !bytes.Equal(part, big[1000:1100]) {
		t.Errorf("ReadStreamRange(1000, 100): %d bytes, not the expected range", len(part))
	}

	fi, err := c.Stat("/docs/hello.txt")
	must("Stat", err)
	if fi.IsDir() || fi.Size() != int64(len(small)) || fi.Name() != "hello.txt" || fi.ModTime().IsZero() {
		t.Errorf("Stat hello.txt: dir=%v size=%d name=%q mtime=%v", fi.IsDir(), fi.Size(), fi.Name(), fi.ModTime())
	}
	if f, ok := fi.(*gowebdav.File); !ok || f.ETag() == "" {
		t.Errorf("Stat hello.txt: no ETag (%#v)", fi)
	}
	fi, err = c.Stat("/docs/2024")
	must("Stat dir", err)
	if !fi.IsDir() {
		t.Errorf("Stat /docs/2024: not a directory")
	}
	if _, err := c.Stat("/docs/missing.txt"); !gowebdav.IsErrNotFound(err) {
		t.Errorf("Stat of a missing file: %v, want not found", err)
	}

	names := func(dir string) []string {
		t.Helper()
		infos, err := c.ReadDir(dir)
		must("ReadDir "+dir, err)
		var ns []string
		for _, fi := range infos {
			n := fi.Name()
			if fi.IsDir() {
				n += "/"
			}
			ns = append(ns, n)
		}
		slices.Sort(ns)
		return ns
	}
	if got, want := names("/docs"), []string{"2024/", "hello.txt"}; !slices.Equal(got, want) {
		t.Errorf("ReadDir /docs: %q, want %q", got, want)
	}

	must("Rename", c.Rename("/docs/hello.txt", "/docs/2024/q1/renamed.txt", false))
	if _, err := c.Stat("/docs/hello.txt"); !gowebdav.IsErrNotFound(err) {
		t.Errorf("after Rename the source still exists: %v", err)
	}
	must("Copy", c.Copy("/docs/2024", "/backup", false))
	got, err = c.Read("/backup/q1/renamed.txt")
	must("Read copy", err)
	if !bytes.Equal(got, small) {
		t.Errorf("Read of the copied tree: %q", got)
	}
	if got, want := names("/backup"), []string{"big.bin", "q1/"}; !slices.Equal(got, want) {
		t.Errorf("ReadDir /backup: %q, want %q", got, want)
	}
	// Copy without overwrite onto an existing resource must fail and change nothing.
	if err := c.Copy("/docs/2024/big.bin", "/backup/q1/renamed.txt", false); err == nil {
		t.Errorf("Copy with overwrite=false onto an existing file succeeded")
	}
	if got, _ := c.Read("/backup/q1/renamed.txt"); !bytes.Equal(got, small) {
		t.Errorf("the refused Copy changed the destination")
	}

	must("Remove", c.Remove("/backup/big.bin"))
	if _, err := c.Stat("/backup/big.bin"); !gowebdav.IsErrNotFound(err) {
		t.Errorf("after Remove the file still exists: %v", err)
	}
	must("RemoveAll", c.RemoveAll("/docs"))
	if got, want := names("/"), []string{"backup/"}; !slices.Equal(got, want) {
		t.Errorf("ReadDir / after RemoveAll: %q, want %q", got, want)
	}
}
