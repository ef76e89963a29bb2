// Package server is davd's composition root: it turns a Config into backends, the dav engine,
// middleware and an http.Server, and runs it until its context ends. It is the only package that
// chooses implementations.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/storage/osfs"
	"github.com/davd/davd/store/bolt"
	"github.com/davd/davd/webui"
)

// Config is the typed configuration of one davd instance. Defaults live in Defaults.
type Config struct {
	// Root is the served directory (created if missing).
	Root string
	// Listen is the TCP address to listen on.
	Listen string
	// State is the directory of the embedded store (dead properties, locks). It must not lie
	// inside Root: nothing in it is ever reachable over HTTP.
	State string
	// Prefix is the URL path davd is mounted at behind a reverse proxy ("" for none).
	Prefix string
	// NoFsync skips fsync of uploaded content (benchmarks, volatile file systems).
	NoFsync bool
	// PropfindInfinity enables PROPFIND Depth: infinity, bounded by MaxPropfindEntries.
	PropfindInfinity   bool
	MaxPropfindEntries int
	// MaxPutBytes caps uploads (0: no limit); MaxXMLBytes caps XML request bodies.
	MaxPutBytes int64
	MaxXMLBytes int64
	// MaxLockTimeout caps granted lock timeouts; MaxLocks caps active locks.
	MaxLockTimeout time.Duration
	MaxLocks       int
	// Pprof, when set, serves net/http/pprof on this separate (loopback) address.
	Pprof string
	// AccessLog writes one structured line per request.
	AccessLog bool
}

// Defaults returns the configuration of `davd` with no flags: ./data on 127.0.0.1:8080.
func Defaults() Config {
	return Config{
		Root:               "data",
		Listen:             "127.0.0.1:8080",
		MaxPropfindEntries: 100000,
		MaxXMLBytes:        1 << 20,
		MaxLockTimeout:     time.Hour,
		MaxLocks:           10000,
		AccessLog:          true,
	}
}

// DefaultStateDir returns the state directory used when none is configured: a directory per
// served root under the user's state home, never inside the served tree.
func DefaultStateDir(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no state directory: set -state (%w)", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "davd", filepath.Base(abs)+"-"+hex.EncodeToString(sum[:6])), nil
}

// Validate checks the configuration and fills derived defaults, naming the offending setting.
func (c *Config) Validate() error {
	if c.Root == "" {
		return errors.New("root: must be set")
	}
	if c.Listen == "" {
		return errors.New("listen: must be set")
	}
	if c.State == "" {
		s, err := DefaultStateDir(c.Root)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		c.State = s
	}
	absRoot, err := filepath.Abs(c.Root)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	absState, err := filepath.Abs(c.State)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if rel, err := filepath.Rel(absRoot, absState); err == nil && filepath.IsLocal(rel) || absRoot == absState {
		return fmt.Errorf("state: %s lies inside the served root %s; it must be outside", c.State, c.Root)
	}
	if c.Prefix != "" {
		if _, err := davpath.Parse(c.Prefix, ""); err != nil || !strings.HasPrefix(c.Prefix, "/") {
			return fmt.Errorf("prefix: %q is not a clean absolute URL path", c.Prefix)
		}
	}
	if c.MaxPutBytes < 0 || c.MaxXMLBytes < 0 || c.MaxPropfindEntries < 0 || c.MaxLocks < 0 {
		return errors.New("limits: must not be negative")
	}
	return nil
}

// Instance is a wired server: the handler and what must be closed.
type Instance struct {
	Handler http.Handler
	closers []func() error
}

// Close releases the storage and the embedded store.
func (in *Instance) Close() error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		errs = append(errs, in.closers[i]())
	}
	return errors.Join(errs...)
}

// Build wires the backends and the engine for c (which must be validated).
func Build(c Config, log *slog.Logger) (*Instance, error) {
	in := &Instance{}
	fail := func(err error) (*Instance, error) {
		in.Close()
		return nil, err
	}
	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	if err := os.MkdirAll(c.State, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	fsys, err := osfs.New(c.Root, osfs.Options{NoFsync: c.NoFsync})
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	in.closers = append(in.closers, fsys.Close)
	db, err := bolt.Open(filepath.Join(c.State, "davd.db"), bolt.Options{})
	if err != nil {
		return fail(fmt.Errorf("state: %w", err))
	}
	in.closers = append(in.closers, db.Close)
	ps := db.Props()
	if j, ok := ps.(props.Journal); ok {
		// Replay namespace changes a crash interrupted, before any request is served.
		err := j.Recover(context.Background(), func(p davpath.Path) bool {
			_, err := fsys.Stat(context.Background(), p)
			return err == nil
		})
		if err != nil {
			return fail(fmt.Errorf("state: recover: %w", err))
		}
	}
	locks, err := memlock.New(memlock.Options{MaxLocks: c.MaxLocks, MaxTimeout: c.MaxLockTimeout, Persist: db.LockPersister()})
	if err != nil {
		return fail(fmt.Errorf("state: locks: %w", err))
	}
	ui := webui.New(fsys, webui.Options{Prefix: c.Prefix, Title: "davd"})
	h, err := dav.New(dav.Config{
		Storage: fsys,
		Props:   ps,
		Locks:   locks,
		Browser: browser{ui},
		Prefix:  c.Prefix,
		Limits: dav.Limits{
			MaxXMLBytes:        c.MaxXMLBytes,
			MaxPutBytes:        c.MaxPutBytes,
			PropfindInfinity:   c.PropfindInfinity,
			MaxPropfindEntries: c.MaxPropfindEntries,
			MaxLockTimeout:     c.MaxLockTimeout,
		},
		Logger: log,
	})
	if err != nil {
		return fail(err)
	}
	var handler http.Handler = h
	if c.AccessLog {
		handler = accessLog(log, handler)
	}
	in.Handler = handler
	return in, nil
}

// browser adapts the webui package to dav.Browser.
type browser struct{ *webui.UI }

func (browser) Wants(r *http.Request) bool { return webui.Wants(r) }

// Run serves c until ctx ends, then shuts down gracefully (in-flight requests get 30 s).
func Run(ctx context.Context, c Config, log *slog.Logger, ready func(addr net.Addr)) error {
	if err := c.Validate(); err != nil {
		return err
	}
	in, err := Build(c, log)
	if err != nil {
		return err
	}
	defer in.Close()
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           in.Handler,
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if c.Pprof != "" {
		go servePprof(c.Pprof, log)
	}
	log.Info("davd serving", "addr", ln.Addr().String(), "root", c.Root, "state", c.State)
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("davd shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("pprof", "err", err)
	}
}
