// Command davd serves a directory over WebDAV (RFC 4918 classes 1, 2 and 3).
//
//	davd [-config FILE] [-root DIR] [-listen ADDR] [-state DIR] [flags]
//	davd hash-password [-cost N]   (reads the password from stdin, or prompts on a terminal)
//	davd version                   (or -version: module version, VCS revision and time, Go version)
//
// With no flags it serves ./data on http://127.0.0.1:8080/ with dead properties and locks kept
// in a per-root state directory under the user's state home. A configuration file (TOML, see
// SECURITY.md and server.Config) adds users, TLS, proxy settings and limits; flags given on the
// command line override the file's values.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/davd/davd/auth"
	"github.com/davd/davd/internal/gcfloor"
	"github.com/davd/davd/internal/logbuf"
	"github.com/davd/davd/internal/version"
	"github.com/davd/davd/server"
)

func main() {
	// Go's default GC target (GOGC=100), with a floor of gcFloor under the heap goal: the
	// live heap between big listings is about 1 MiB, and GOGC alone would then collect every
	// 4 MiB of allocation, dozens of times a second under load (see internal/gcfloor). Big
	// listings keep GOGC's goal. GOGC in the environment decides alone.
	gcfloor.Start(gcFloor)
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "davd:", err)
		os.Exit(1)
	}
}

// logDelay bounds how long an access line waits in the log's buffer.
const logDelay = 50 * time.Millisecond

// gcFloor is the smallest heap goal of the garbage collector.
const gcFloor = 12 << 20

// flags binds the command-line flags to c. It is called twice: once to find -config, once over
// the file's values so that the flags actually given override them.
func flags(c *server.Config, configFile *string) *flag.FlagSet {
	fl := flag.NewFlagSet("davd", flag.ContinueOnError)
	fl.StringVar(configFile, "config", *configFile, "configuration file (TOML); flags override its values")
	fl.StringVar(&c.Root, "root", c.Root, "served directory (created if missing)")
	fl.StringVar(&c.Listen, "listen", c.Listen, "listen address")
	fl.StringVar(&c.State, "state", c.State, "state directory for dead properties and locks (default: per-root under $XDG_STATE_HOME/davd; never inside -root)")
	fl.StringVar(&c.Prefix, "prefix", c.Prefix, "URL path prefix davd is mounted at")
	fl.BoolVar(&c.NoFsync, "no-fsync", c.NoFsync, "do not fsync uploads (benchmarks, volatile file systems)")
	fl.BoolVar(&c.InsecureOpen, "insecure-open", c.InsecureOpen, "allow a non-loopback -listen address with no users (everyone may read and write)")
	fl.BoolVar(&c.Limits.PropfindInfinity, "propfind-infinity", c.Limits.PropfindInfinity, "allow PROPFIND Depth: infinity (bounded by -max-propfind-entries)")
	fl.IntVar(&c.Limits.MaxPropfindEntries, "max-propfind-entries", c.Limits.MaxPropfindEntries, "maximum responses of one PROPFIND")
	fl.Var(server.SizeFlag{P: &c.Limits.MaxPutBytes}, "max-put-bytes", "maximum upload size: bytes, or with a unit (10G, 512MiB); 0: no limit")
	fl.Var(server.SizeFlag{P: &c.QuotaBytes}, "quota-bytes", "quota of the whole tree (RFC 4331): bytes, or with a unit (10G); 0: none")
	fl.Func("etcd", "cluster mode: etcd client URLs, comma-separated (the tree, properties and locks; contents in S3)", func(v string) error {
		c.Cluster.Etcd = strings.Split(v, ",")
		return nil
	})
	fl.StringVar(&c.Cluster.S3Endpoint, "s3-endpoint", c.Cluster.S3Endpoint, "cluster mode: S3 endpoint URL of the contents (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	fl.StringVar(&c.Cluster.S3Bucket, "s3-bucket", c.Cluster.S3Bucket, "cluster mode: S3 bucket of the contents")
	fl.BoolVar(&c.NextcloudLayout, "nextcloud-layout", c.NextcloudLayout, "also serve /remote.php/dav/files/USER/ and Nextcloud chunked uploads at /remote.php/dav/uploads/USER/ (needs users)")
	fl.StringVar(&c.Pprof, "pprof", c.Pprof, "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	fl.StringVar(&c.Metrics, "metrics", c.Metrics, "serve Prometheus /metrics, /healthz and /readyz on this separate address (e.g. 127.0.0.1:9100; off by default)")
	fl.StringVar(&c.LogFormat, "log-format", c.LogFormat, `log format: "text" (key=value) or "json"`)
	fl.StringVar(&c.AccessLogFormat, "access-log-format", c.AccessLogFormat, `"combined" for Combined Log Format access lines (default: a line of the log)`)
	fl.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "log one line per request")
	fl.StringVar(&c.HTTP1, "http1", c.HTTP1, `what serves plain HTTP: "davd" (built-in HTTP/1.1 server) or "net/http" (Go's)`)
	fl.Bool("version", false, "print the version and exit (as `davd version`)")
	quiet(fl)
	return fl
}

// quiet makes fl print nothing itself: run prints -h's help on stdout, and a parse error is one
// line on stderr (main's), not the error followed by the whole usage.
func quiet(fl *flag.FlagSet) {
	fl.SetOutput(io.Discard)
	fl.Usage = func() {}
}

// usage is davd's -h: the synopsis, the subcommands and the flags.
func usage(w io.Writer, fl *flag.FlagSet) {
	fmt.Fprint(w, `Usage:
  davd [-config FILE] [-root DIR] [-listen ADDR] [-state DIR] [flags]   serve a directory over WebDAV
  davd hash-password [-cost N]   print a bcrypt hash for a user's password (read from stdin or the terminal)
  davd version                   print the version (module, VCS revision and time, Go)

With no flags davd serves ./data on http://127.0.0.1:8080/. A configuration file (see
davd.example.toml) adds users, TLS, a reverse proxy, timeouts and limits; flags override it.

Flags:
`)
	fl.SetOutput(w)
	fl.PrintDefaults()
	fl.SetOutput(io.Discard)
}

// flagError turns a flag package error into one line with a hint.
func flagError(cmd string, err error) error {
	return fmt.Errorf("%s (%s -h lists the flags)", err, cmd)
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPassword(args[1:], stdin, stdout)
	}
	if len(args) > 0 && args[0] == "version" {
		_, err := fmt.Fprintln(stdout, version.Get())
		return err
	}
	c, err := configure(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		var c server.Config
		var f string
		usage(stdout, flags(&c, &f))
		return nil
	case errors.Is(err, errVersion):
		_, err := fmt.Fprintln(stdout, version.Get())
		return err
	case err != nil:
		return err
	}
	// Access lines are batched (internal/logbuf): under load they cost a write(2) every
	// logDelay instead of one per request; every other line goes out at once, after them.
	out := logbuf.New(os.Stderr, logDelay)
	defer out.Close()
	log := newLogger(c.LogFormat, out)
	if c.AccessLogOut == nil {
		c.AccessLogOut = out.Lazy()
	}
	// The first SIGINT or SIGTERM starts the graceful shutdown; a second one ends it at once.
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	force := make(chan struct{})
	go func() {
		select {
		case <-sigc:
		case <-ctx.Done():
			return
		}
		cancel()
		log.Info("signal received: stopping (a second signal stops at once)")
		if _, ok := <-sigc; ok {
			close(force)
		}
	}()
	// SIGHUP reads the configuration file and the flags again and puts what may change at run
	// time in force (server.Instance.Reload).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				default: // one reload is pending already; it will read the newest file
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return server.Run(ctx, c, log, server.RunOptions{
		Force:  force,
		Reload: reload,
		Reconfigure: func() (server.Config, error) {
			n, err := configure(args)
			n.AccessLogOut = c.AccessLogOut
			return n, err
		},
	})
}

// configure builds the configuration: defaults, then the -config file, then the flags given.
func configure(args []string) (server.Config, error) {
	c := server.Defaults()
	var configFile string
	fl := flags(&c, &configFile)
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, flagError("davd", err)
	}
	if fl.NArg() > 0 {
		return c, flagError("davd", fmt.Errorf("unexpected argument %q (subcommands: hash-password, version)", fl.Arg(0)))
	}
	if fl.Lookup("version").Value.String() == "true" {
		return c, errVersion
	}
	if configFile == "" {
		return c, nil
	}
	c = server.Defaults()
	if err := server.LoadFile(configFile, &c); err != nil {
		return c, err
	}
	fl = flags(&c, &configFile)
	if err := fl.Parse(args); err != nil {
		return c, flagError("davd", err)
	}
	return c, nil
}

// newLogger returns davd's logger in format (server.LogHandler).
func newLogger(format string, w io.Writer) *slog.Logger {
	return slog.New(server.LogHandler(format, w))
}

// errVersion is configure's answer to -version.
var errVersion = errors.New("version asked")

// hashPassword prints a bcrypt hash of a password for the configuration or an htpasswd file.
func hashPassword(args []string, stdin io.Reader, stdout io.Writer) error {
	fl := flag.NewFlagSet("davd hash-password", flag.ContinueOnError)
	quiet(fl)
	cost := fl.Int("cost", auth.DefaultCost, fmt.Sprintf("bcrypt cost, %d to %d: each step doubles the time of every login", auth.MinCost, auth.MaxCost))
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "Usage: davd hash-password [-cost N] < password\n\n"+
				"Prints a bcrypt hash of the password (one line from stdin, or asked twice on a terminal)\n"+
				"for a [[users]] password in the configuration file or an htpasswd line.\n\nFlags:\n")
			fl.SetOutput(stdout)
			fl.PrintDefaults()
			return nil
		}
		return flagError("davd hash-password", err)
	}
	if fl.NArg() > 0 {
		return flagError("davd hash-password", fmt.Errorf("unexpected argument %q: the password is read from stdin", fl.Arg(0)))
	}
	if *cost < auth.MinCost || *cost > auth.MaxCost {
		return fmt.Errorf("hash-password: -cost %d is outside %d to %d", *cost, auth.MinCost, auth.MaxCost)
	}
	var pw []byte
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(os.Stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return err
		}
		fmt.Fprint(os.Stderr, "Repeat: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return err
		}
		if string(a) != string(b) {
			return errors.New("hash-password: the passwords differ")
		}
		pw = a
	} else {
		// One line from a pipe: `echo -n secret | davd hash-password` or a password manager.
		line, err := bufio.NewReaderSize(stdin, 4096).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		pw = []byte(strings.TrimRight(line, "\r\n"))
	}
	if len(pw) > 72 {
		return errors.New("hash-password: bcrypt uses at most 72 bytes of a password")
	}
	h, err := auth.HashPassword(pw, *cost)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, h)
	return err
}
