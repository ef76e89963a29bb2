package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// -mode raw: the floor of any Go HTTP/1.1 server on this machine. Per connection, one
// goroutine reads a request head off a bufio.Reader, finds the request line and the
// Content-Length by hand (no header map, no http.Request), and answers GET /small/4k.bin from
// a response kept in memory (head and body in one write, no system call but read and write)
// and PUT /put/NAME with the handler's own file work (temporary file, write, close, rename; no
// fsync). Whatever Go code a server adds, it cannot go below this cost per request with Go's
// runtime and netpoller; what nginx does beyond this figure is what Go itself costs here.

func serveRaw(ln net.Listener, h *handler) error {
	body, err := os.ReadFile(h.small)
	if err != nil {
		return err
	}
	get := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\nEtag: \"raw\"\r\nAccept-Ranges: bytes\r\n\r\n"), body...)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go rawConn(c, h, get)
	}
}

var (
	created  = []byte("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
	notFound = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	failed   = []byte("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

func rawConn(c net.Conn, h *handler, get []byte) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 8<<10)
	for {
		// The head: lines up to the empty one, each a slice of br's buffer while it is read.
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		sp1 := bytes.IndexByte(line, ' ')
		if sp1 < 0 {
			return
		}
		method := string(line[:sp1])
		rest := line[sp1+1:]
		sp2 := bytes.IndexByte(rest, ' ')
		if sp2 < 0 {
			return
		}
		path := string(rest[:sp2])
		length := int64(0)
		for {
			l, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(l) <= 2 {
				break
			}
			if len(l) > 16 && (l[0] == 'C' || l[0] == 'c') && bytes.EqualFold(l[:15], []byte("content-length:")) {
				n, err := strconv.ParseInt(string(bytes.TrimSpace(l[15:])), 10, 64)
				if err != nil || n < 0 {
					return
				}
				length = n
			}
		}
		var out []byte
		switch {
		case method == "GET" && path == "/small/4k.bin":
			out = get
		case method == "PUT" && len(path) > len("/put/"):
			out = rawPut(h, path[len("/put/"):], io.LimitReader(br, length))
			if out == nil {
				return
			}
		default:
			if _, err := io.CopyN(io.Discard, br, length); err != nil {
				return
			}
			out = notFound
		}
		if _, err := c.Write(out); err != nil || &out[0] == &failed[0] {
			return
		}
	}
}

// rawPut is handler.put without net/http: the same file system calls (handler.store).
func rawPut(h *handler, name string, body io.Reader) []byte {
	if name[0] == '.' || strings.ContainsAny(name, "/\\") {
		return failed
	}
	if _, err := h.store(name, body); err != nil {
		return failed
	}
	return created
}
