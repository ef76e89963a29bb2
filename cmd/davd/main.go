// Command davd serves a directory over WebDAV (RFC 4918 classes 1, 2 and 3).
//
//	davd [-root DIR] [-listen ADDR] [-state DIR] [-config FILE] [flags]
//
// With no flags it serves ./data on http://127.0.0.1:8080/ with dead properties and locks kept
// in a per-root state directory under the user's state home.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/davd/davd/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "davd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	c := server.Defaults()
	fl := flag.NewFlagSet("davd", flag.ContinueOnError)
	fl.StringVar(&c.Root, "root", c.Root, "served directory (created if missing)")
	fl.StringVar(&c.Listen, "listen", c.Listen, "listen address")
	fl.StringVar(&c.State, "state", c.State, "state directory for dead properties and locks (default: per-root under $XDG_STATE_HOME/davd; never inside -root)")
	configFile := fl.String("config", "", "configuration file")
	fl.StringVar(&c.Prefix, "prefix", c.Prefix, "URL path prefix davd is mounted at")
	fl.BoolVar(&c.NoFsync, "no-fsync", c.NoFsync, "do not fsync uploads (benchmarks, volatile file systems)")
	fl.BoolVar(&c.PropfindInfinity, "propfind-infinity", c.PropfindInfinity, "allow PROPFIND Depth: infinity (bounded by -max-propfind-entries)")
	fl.IntVar(&c.MaxPropfindEntries, "max-propfind-entries", c.MaxPropfindEntries, "maximum responses of one PROPFIND")
	fl.Int64Var(&c.MaxPutBytes, "max-put-bytes", c.MaxPutBytes, "maximum upload size in bytes (0: no limit)")
	fl.StringVar(&c.Pprof, "pprof", c.Pprof, "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	fl.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "log one line per request")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *configFile != "" {
		return fmt.Errorf("-config: configuration files are not supported yet")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return server.Run(ctx, c, log, nil)
}
