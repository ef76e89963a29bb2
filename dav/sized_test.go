package dav

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestSizedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	data := []byte("0123456789")
	os.WriteFile(path, data, 0o644)
	f, _ := os.Open(path)
	defer f.Close()
	rs := withSize(f, int64(len(data)))
	if _, ok := rs.(syscall.Conn); !ok {
		t.Fatal("the sendfile path needs syscall.Conn")
	}
	if n, _ := rs.Seek(0, io.SeekEnd); n != 10 {
		t.Fatalf("size %d", n)
	}
	if n, _ := rs.Seek(0, io.SeekStart); n != 0 {
		t.Fatal(n)
	}
	b, _ := io.ReadAll(io.LimitReader(rs, 4))
	if string(b) != "0123" {
		t.Fatalf("%q", b)
	}
	rs.Seek(6, io.SeekStart)
	b, _ = io.ReadAll(rs)
	if string(b) != "6789" {
		t.Fatalf("after a real seek %q", b)
	}
	rs.Seek(0, io.SeekStart)
	rs.Seek(0, io.SeekEnd)
	if n, _ := rs.Read(make([]byte, 1)); n != 0 {
		t.Fatal("read after a seek to the end returned data")
	}
	rs.Seek(0, io.SeekStart)
	b, _ = io.ReadAll(rs)
	if !bytes.Equal(b, data) {
		t.Fatalf("%q", b)
	}
}
