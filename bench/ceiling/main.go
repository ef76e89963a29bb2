// Command ceiling serves one http.Handler either through net/http (-mode nethttp) or through a
// minimal HTTP/1.1 loop built on http.ReadRequest with a hand-written ResponseWriter (-mode loop),
// to measure what net/http's server costs per request and how close a Go server can get to nginx.
// bench.sh runs it beside nginx; see README.md.
//
//	PUT /put/NAME        writes the body to DIR/put/NAME (temporary file + rename, no fsync), 201
//	GET|HEAD /small/4k.bin  serves DIR/small/4k.bin through http.ServeContent
//
// SIGUSR1 writes a CPU profile of -profsec seconds to -cpuprofile; SIGUSR2 prints the allocation
// count to stderr ("STATS mallocs N ..."); SIGTERM/SIGINT exit.
//
// The loop is a measurement device, not a server: no timeouts, no HTTP/2, minimal validation.
// Only loopback addresses are accepted. Standard library only.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	mode        = flag.String("mode", "nethttp", "nethttp | loop | raw (raw.go)")
	addr        = flag.String("addr", "127.0.0.1:18401", "listen address (loopback only)")
	dir         = flag.String("dir", "", "data dir (required): DIR/put (PUT target), DIR/small/4k.bin (GET)")
	timeouts    = flag.Bool("timeouts", true, "nethttp: ReadHeaderTimeout 20s, IdleTimeout 120s, MaxHeaderBytes 64k (as davd)")
	cpuprofile  = flag.String("cpuprofile", "", "on SIGUSR1, write a CPU profile of -profsec seconds to this file")
	profsec     = flag.Int("profsec", 5, "CPU profile duration (s)")
	sendfileMin = flag.Int64("sendfile-min", 0, "loop: ReadFrom uses sendfile when Content-Length >= this, else a buffered copy")
)

// ---------------------------------------------------------------- the handler (both modes)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

type writerOnly struct{ io.Writer }

type handler struct {
	putDir, small string
	tmpPrefix     string
	seq           atomic.Uint64
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPut && strings.HasPrefix(p, "/put/"):
		h.put(w, r, p[len("/put/"):])
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && p == "/small/4k.bin":
		h.get(w, r)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func (h *handler) put(w http.ResponseWriter, r *http.Request, name string) {
	if name == "" || name[0] == '.' || strings.ContainsAny(name, "/\\") {
		http.Error(w, "bad name", http.StatusBadRequest)
		return
	}
	n, err := h.store(name, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd["Etag"] = []string{`"` + strconv.FormatInt(n, 16) + "-" + strconv.FormatInt(time.Now().UnixNano(), 16) + `"`}
	hd["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusCreated)
}

// store writes body to putDir/name: a temporary file, written and closed, then renamed; no fsync.
func (h *handler) store(name string, body io.Reader) (int64, error) {
	tmp := h.tmpPrefix + strconv.FormatUint(h.seq.Add(1), 36)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	bp := bufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(writerOnly{f}, body, *bp)
	bufPool.Put(bp)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(h.putDir, name))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return n, err
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	f, err := os.Open(h.small)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, "4k.bin", fi.ModTime(), f)
}

// ---------------------------------------------------------------- the minimal HTTP/1.1 loop

const (
	pendMax        = 4096      // body buffered before framing is decided (Content-Length vs chunked)
	discardMax     = 256 << 10 // unread request body discarded after the handler, else close
	maxHeaderBytes = 64 << 10
)

type conn struct {
	c   net.Conn
	tcp *net.TCPConn
	lr  io.LimitedReader // header-size limit, reset per request (like net/http)
	br  *bufio.Reader
	bw  *bufio.Writer
}

// rw is the hand-written http.ResponseWriter, reused for every request of a connection.
type rw struct {
	cn          *conn
	req         *http.Request
	hdr         http.Header
	status      int
	wroteHeader bool  // WriteHeader called
	hdrSent     bool  // status line and header are in bw
	clen        int64 // declared Content-Length, -1 unknown
	written     int64
	chunked     bool
	noBody      bool // HEAD, 1xx, 204, 304
	closeAfter  bool
	pend        []byte
	ex          expectBody
	numExpect   bool
}

type expectBody struct {
	rc   io.ReadCloser
	w    *rw
	sent bool // 100 Continue sent, or not needed any more
	read bool
}

func (e *expectBody) Read(p []byte) (int, error) {
	if !e.sent {
		e.sent = true
		if !e.w.hdrSent {
			e.w.cn.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := e.w.cn.bw.Flush(); err != nil {
				return 0, err
			}
		}
	}
	e.read = true
	return e.rc.Read(p)
}
func (e *expectBody) Close() error { return e.rc.Close() }

func (w *rw) Header() http.Header { return w.hdr }

func (w *rw) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code < 200 { // informational: send it now and keep going
		w.writeStatusLine(code)
		w.writeHeaderFields()
		w.cn.bw.WriteString("\r\n")
		w.cn.bw.Flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	w.clen = -1
	if v := w.hdr["Content-Length"]; len(v) == 1 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			w.clen = n
		} else {
			delete(w.hdr, "Content-Length")
		}
	}
	if w.clen >= 0 || w.noBody {
		w.sendHeader(false) // framing is known: into bw now, no syscall
	}
}

func (w *rw) writeStatusLine(code int) {
	bw := w.cn.bw
	if w.req.ProtoAtLeast(1, 1) {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	var b [3]byte
	bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\n")
}

func (w *rw) writeHeaderFields() {
	bw := w.cn.bw
	for k, vv := range w.hdr {
		for _, v := range vv {
			if strings.ContainsAny(v, "\r\n") {
				continue
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

// sendHeader decides the framing and puts the status line and header into bw.
func (w *rw) sendHeader(final bool) {
	if w.hdrSent {
		return
	}
	w.hdrSent = true
	if w.numExpect && !w.ex.sent && w.req.ContentLength != 0 {
		// the client waits for 100 Continue that will never come: do not read its body
		w.ex.sent = true
		w.closeAfter = true
	}
	if !w.noBody && w.clen < 0 {
		if final {
			w.clen = int64(len(w.pend))
			w.hdr["Content-Length"] = []string{strconv.Itoa(len(w.pend))}
		} else if w.req.ProtoAtLeast(1, 1) {
			w.chunked = true
			w.hdr["Transfer-Encoding"] = []string{"chunked"}
		} else {
			w.closeAfter = true // HTTP/1.0 without length: delimited by close
		}
	}
	if !w.noBody && len(w.pend) > 0 && w.hdr["Content-Type"] == nil && w.hdr["Content-Encoding"] == nil {
		w.hdr["Content-Type"] = []string{http.DetectContentType(w.pend)}
	}
	if w.closeAfter || w.req.Close {
		w.hdr["Connection"] = []string{"close"}
	} else if !w.req.ProtoAtLeast(1, 1) {
		w.hdr["Connection"] = []string{"keep-alive"}
	}
	if w.hdr["Date"] == nil {
		// Formatted per response, as net/http does: ~0.1 µs, well under the noise of a request.
		w.hdr["Date"] = []string{time.Now().UTC().Format(http.TimeFormat)}
	}
	w.writeStatusLine(w.status)
	w.writeHeaderFields()
	w.cn.bw.WriteString("\r\n")
}

func (w *rw) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if !w.hdrSent {
		if len(w.pend)+len(p) <= pendMax {
			w.pend = append(w.pend, p...)
			return len(p), nil
		}
		w.sendHeader(false)
		if _, err := w.writeBody(w.pend); err != nil {
			return 0, err
		}
		w.pend = w.pend[:0]
	}
	return w.writeBody(p)
}

func (w *rw) writeBody(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	bw := w.cn.bw
	if w.clen >= 0 {
		if w.written+int64(len(p)) > w.clen {
			return 0, http.ErrContentLength
		}
	} else if w.chunked {
		var b [16]byte
		bw.Write(strconv.AppendInt(b[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
		defer bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	w.written += int64(n)
	return n, err
}

// ReadFrom: with a known Content-Length, flush the header and let the kernel copy (sendfile).
func (w *rw) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody || w.cn.tcp == nil || w.clen < 0 || w.clen < *sendfileMin || !w.hdrSent || w.chunked {
		bp := bufPool.Get().(*[]byte)
		n, err := io.CopyBuffer(writerOnly{w}, src, *bp)
		bufPool.Put(bp)
		return n, err
	}
	if err := w.cn.bw.Flush(); err != nil {
		return 0, err
	}
	rem := w.clen - w.written
	if l, ok := src.(*io.LimitedReader); !ok || l.N > rem {
		src = io.LimitReader(src, rem)
	}
	n, err := w.cn.tcp.ReadFrom(src)
	w.written += n
	return n, err
}

func (w *rw) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.hdrSent {
		w.sendHeader(false)
		w.writeBody(w.pend)
		w.pend = w.pend[:0]
	}
	w.cn.bw.Flush()
}

// finish completes the response and reports whether the connection may serve another request.
func (w *rw) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.hdrSent {
		w.sendHeader(true)
		w.writeBody(w.pend)
	} else if w.chunked {
		w.cn.bw.WriteString("0\r\n\r\n")
	}
	if w.clen >= 0 && !w.noBody && w.written < w.clen {
		w.closeAfter = true // short body: the client can only tell by the close
	}
	if err := w.cn.bw.Flush(); err != nil {
		return false
	}
	if w.closeAfter || w.req.Close {
		return false
	}
	// discard what the handler left of the request body
	if w.req.Body != http.NoBody && w.req.Body != nil {
		if w.numExpect && !w.ex.read {
			return false
		}
		n, err := io.CopyN(io.Discard, w.req.Body, discardMax+1)
		if n > discardMax || (err != nil && err != io.EOF) {
			return false
		}
	}
	return true
}

func (w *rw) reset(req *http.Request) {
	clear(w.hdr)
	*w = rw{cn: w.cn, req: req, hdr: w.hdr, pend: w.pend[:0], clen: -1}
}

func serveConn(c net.Conn, h http.Handler) {
	defer c.Close()
	cn := &conn{c: c}
	cn.tcp, _ = c.(*net.TCPConn)
	cn.lr = io.LimitedReader{R: c, N: maxHeaderBytes}
	cn.br = bufio.NewReaderSize(&cn.lr, 4096)
	cn.bw = bufio.NewWriterSize(c, 4096)
	w := &rw{cn: cn, hdr: make(http.Header), pend: make([]byte, 0, pendMax)}
	remote := c.RemoteAddr().String()
	for {
		cn.lr.N = maxHeaderBytes + 4096 // bufio may read ahead one buffer
		req, err := http.ReadRequest(cn.br)
		if err != nil {
			if err != io.EOF && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) {
				cn.bw.WriteString("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
				cn.bw.Flush()
			}
			return
		}
		cn.lr.N = 1<<63 - 1 // body: no limit
		req.RemoteAddr = remote
		w.reset(req)
		if req.ProtoAtLeast(1, 1) && req.Body != http.NoBody && strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
			w.numExpect = true
			w.ex = expectBody{rc: req.Body, w: w}
			req.Body = &w.ex
		}
		if !serveOne(h, w, req) {
			return
		}
		if !w.finish() {
			return
		}
	}
}

func serveOne(h http.Handler, w *rw, req *http.Request) (ok bool) {
	defer func() {
		if e := recover(); e != nil {
			if e != http.ErrAbortHandler {
				log.Printf("panic serving %s: %v", req.RemoteAddr, e)
			}
			ok = false
		}
	}()
	h.ServeHTTP(w, req)
	return true
}

func serveLoop(ln net.Listener, h http.Handler) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		go serveConn(c, h)
	}
}

// ---------------------------------------------------------------- main

func main() {
	flag.Parse()
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil {
		log.Fatal(err)
	} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("-addr %s: only loopback addresses are accepted", *addr)
	}
	putDir := filepath.Join(*dir, "put")
	if err := os.MkdirAll(putDir, 0o755); err != nil {
		log.Fatal(err)
	}
	h := &handler{
		putDir:    putDir,
		small:     filepath.Join(*dir, "small", "4k.bin"),
		tmpPrefix: filepath.Join(putDir, fmt.Sprintf(".tmp-%d-", os.Getpid())),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}

	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sig {
			switch s {
			case syscall.SIGUSR1:
				if *cpuprofile == "" {
					continue
				}
				f, err := os.Create(*cpuprofile)
				if err != nil {
					log.Print(err)
					continue
				}
				pprof.StartCPUProfile(f)
				go func() {
					time.Sleep(time.Duration(*profsec) * time.Second)
					pprof.StopCPUProfile()
					f.Close()
					fmt.Fprintln(os.Stderr, "PROFILE done")
				}()
			case syscall.SIGUSR2:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				fmt.Fprintf(os.Stderr, "STATS mallocs %d totalalloc %d numgc %d\n", ms.Mallocs, ms.TotalAlloc, ms.NumGC)
			default:
				os.Exit(0)
			}
		}
	}()

	fmt.Fprintf(os.Stderr, "ceiling mode=%s addr=%s GOMAXPROCS=%d\n", *mode, *addr, runtime.GOMAXPROCS(0))
	switch *mode {
	case "nethttp":
		srv := &http.Server{Handler: h}
		if *timeouts {
			srv.ReadHeaderTimeout = 20 * time.Second
			srv.IdleTimeout = 120 * time.Second
			srv.MaxHeaderBytes = 64 << 10
		}
		err = srv.Serve(ln)
	case "loop":
		err = serveLoop(ln, h)
	case "raw":
		err = serveRaw(ln, h)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	log.Fatal(err)
}
