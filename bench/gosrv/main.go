// Command gosrv holds the Go servers bench/run.sh measures davd against. It is its own module so
// that golang.org/x/net is never a dependency of davd.
//
//	-mode xnet    the golang.org/x/net/webdav anchor: webdav.Handler over webdav.Dir and NewMemLS
//	-mode static  the bare net/http reference: GET/HEAD through http.FileServer (sendfile), PUT
//	              writes the body to DIR/PATH (create or truncate, no fsync), MKCOL is mkdir,
//	              DELETE removes the file or tree;
//	              what any Go file server costs, with no WebDAV on top
//	-mode tcp     raw loopback TCP: every connection is sent -file (sendfile) and closed
//
// Only loopback addresses are accepted.
package main

import (
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"time"

	"golang.org/x/net/webdav"
)

func main() {
	mode := flag.String("mode", "xnet", "xnet | static | tcp")
	addr := flag.String("addr", "127.0.0.1:18190", "listen address (loopback)")
	dir := flag.String("dir", ".", "served directory")
	file := flag.String("file", "", "file sent to every connection (-mode tcp)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("refusing non-loopback address %q", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	var h http.Handler
	switch *mode {
	case "xnet":
		h = &webdav.Handler{FileSystem: webdav.Dir(*dir), LockSystem: webdav.NewMemLS()}
	case "static":
		h = staticHandler(*dir)
	case "tcp":
		serveTCP(ln, *file)
		return
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 20 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// staticHandler is the smallest reasonable Go file server: what davd's GET and PUT are compared
// with ("GET 4 KiB >= 0.95x a bare Go net/http file server").
func staticHandler(dir string) http.Handler {
	fs := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+r.URL.Path)))
		switch r.Method {
		case http.MethodPut:
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			_, err = io.Copy(f, r.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case "MKCOL":
			if err := os.Mkdir(name, 0o755); err != nil {
				http.Error(w, err.Error(), http.StatusMethodNotAllowed)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case http.MethodDelete:
			if err := os.RemoveAll(name); err != nil && !errors.Is(err, os.ErrNotExist) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case http.MethodOptions:
			w.WriteHeader(http.StatusOK)
		default:
			fs.ServeHTTP(w, r)
		}
	})
}

func serveTCP(ln net.Listener, file string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			f, err := os.Open(file)
			if err != nil {
				log.Print(err)
				return
			}
			defer f.Close()
			io.Copy(c, f) // *net.TCPConn.ReadFrom(*os.File): sendfile(2)
		}()
	}
}
