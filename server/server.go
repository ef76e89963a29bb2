// Package server is davd's composition root: it turns a Config into backends, the dav engine,
// middleware and an http.Server, and runs it until its context ends. It is the only package that
// chooses implementations.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/davd/davd/access"
	"github.com/davd/davd/auth"
	"github.com/davd/davd/cluster"
	"github.com/davd/davd/dav"
	"github.com/davd/davd/davpath"
	"github.com/davd/davd/internal/sdnotify"
	"github.com/davd/davd/internal/version"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/lock/etcdlock"
	"github.com/davd/davd/lock/memlock"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/etcdprops"
	"github.com/davd/davd/scope"
	"github.com/davd/davd/server/h1"
	"github.com/davd/davd/server/nextcloud"
	"github.com/davd/davd/server/sharelink"
	"github.com/davd/davd/share"
	"github.com/davd/davd/share/etcdshare"
	"github.com/davd/davd/storage"
	"github.com/davd/davd/storage/clusterfs"
	"github.com/davd/davd/storage/osfs"
	"github.com/davd/davd/storage/quotafs"
	"github.com/davd/davd/storage/quotafs/etcdquota"
	"github.com/davd/davd/store/bolt"
	"github.com/davd/davd/syncstore"
	"github.com/davd/davd/syncstore/clustersync"
	"github.com/davd/davd/webui"
)

// Instance is a wired server: the handler and what must be closed.
type Instance struct {
	Handler  http.Handler
	closers  []func() error
	inflight *inflight
	metrics  *metrics // nil unless c.Metrics is set
	ready    func() error

	// app is the part of the handler that Reload replaces: authentication, the per-scope
	// engines and CORS. Requests load it once, so each sees one configuration whole.
	app atomic.Pointer[appHandler]
	// cert is the TLS certificate in force (nil without TLS); Reload replaces it, new
	// handshakes load it.
	cert atomic.Pointer[tls.Certificate]
	mu   sync.Mutex // serializes Reload
	w    *wiring
	cfg  Config // the configuration in force
}

type appHandler struct{ http.Handler }

// OpsHandler is the handler of the metrics listener (/metrics, /healthz, /readyz), or nil when
// metrics are off.
func (in *Instance) OpsHandler() http.Handler {
	if in.metrics == nil {
		return nil
	}
	return in.metrics.opsHandler(in.ready)
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
//
// With authentication on, each principal gets the dav.Handler of its scope: the engine is
// unchanged and sees the scope as the whole tree, because its storage, dead-property store and
// lock manager are the shared ones wrapped by package scope. Principals with the same scope
// share a handler. The lock manager underneath is one for all, so locks conflict across users
// and stay bound to the principal that created them.
func Build(c Config, log *slog.Logger) (*Instance, error) {
	in := &Instance{inflight: newInflight(), cfg: c}
	fail := func(err error) (*Instance, error) {
		in.Close()
		return nil, err
	}
	if c.Metrics != "" {
		in.metrics = newMetrics()
	}
	w := &wiring{c: c, log: log, in: in, scopes: map[davpath.Path]scoped{}}
	in.w = w
	if c.Cluster.Enabled() {
		if err := w.cluster(); err != nil {
			return fail(err)
		}
	} else {
		if err := w.local(); err != nil {
			return fail(err)
		}
		in.ready = func() error { return joinReasons([]error{w.db.Ping(), checkRoot(c.Root)}) }
	}
	if in.metrics != nil {
		dbPath := ""
		if w.db != nil {
			dbPath = w.db.Path()
		}
		in.metrics.gauges(w.locks, dbPath)
	}
	app, err := w.app(c)
	if err != nil {
		return fail(err)
	}
	in.app.Store(&appHandler{app})
	var handler http.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		in.app.Load().ServeHTTP(rw, r)
	})
	// Every request is under the same deadlines, whoever answers it (issue 12): "OPTIONS *"
	// is answered here, not by the servers, and a body the client cannot deliver is its error.
	handler = clientBodyErrors(handler)
	handler = globalOptions(handler)
	handler = transferDeadlines(c.Timeouts.Transfer, handler)
	handler = rejectFaulty10(handler)
	if c.AccessLog || in.metrics != nil {
		o := observer{log: log, lines: c.AccessLog, m: in.metrics}
		switch {
		case c.AccessLogFormat == "combined":
			o.combined = c.AccessLogOut
			if o.combined == nil {
				o.combined = os.Stderr
			}
		case c.AccessLogOut != nil:
			// Structured lines in the log's format, on their own writer (davd's batches them).
			if c.LogFormat == "json" {
				o.log = slog.New(LogHandler(c.LogFormat, c.AccessLogOut))
			} else {
				o.text = c.AccessLogOut // LogHandler's text format, by textLine
			}
		}
		handler = o.wrap(handler)
	}
	// Outermost, so that the access log, the auth log and the login throttle all see the
	// client's own address when a trusted proxy forwards the request.
	if len(c.Proxy.Trusted) > 0 {
		handler = forwarded(c.Proxy.Trusted, handler)
	} else {
		handler = stripForwarded(handler)
	}
	in.Handler = in.inflight.wrap(handler)
	return in, nil
}

// wiring holds the shared backends while per-scope handlers are built.
type wiring struct {
	c   Config
	log *slog.Logger
	in  *Instance
	// root is the content backend of the whole tree; fs is the same when it is the local disk
	// (nil in cluster mode), whose scopes get osfs instances of their own.
	root  storage.Backend
	fs    *osfs.FS
	sub   func(base davpath.Path) storage.Backend // a scope's view in cluster mode
	props props.Store
	locks lock.Manager
	db    *bolt.DB
	// shares are the share links (the state store's, or etcd's in cluster mode).
	shares share.Store
	// sync keeps the RFC 6578 sync-token snapshots: in the bbolt file on a single node; in
	// cluster mode in S3 with their index in etcd, shared by every node.
	sync syncstore.Store
	// scopes are the scopes' storages, opened once and kept across reloads.
	scopes map[davpath.Path]scoped
	// built are the engines of the handler being built (for the listing-cache metrics).
	built []*dav.Handler
	// throttle is the login throttle, kept across reloads while its options stay the same.
	throttle    *auth.Throttle
	throttleOpt auth.ThrottleOptions
	// uploads are the users' Nextcloud upload areas, opened once and kept across reloads;
	// sweeping is set once their sweeper runs.
	uploads  map[string]storage.Backend
	sweeping bool
	// uploadTree is, in cluster mode, the cluster's namespace of the upload areas (a
	// clusterfs.Tree apart from the served tree): any node takes any chunk.
	uploadTree *clusterfs.FS
	// quotaBook, in cluster mode, keeps the quota figures in etcd for every node.
	quotaBook quotafs.Book
	// quota is the RFC 4331 accounting, made at the first build and kept across reloads;
	// limits are the trees the configuration being built bounds.
	quota  *quotafs.Ledger
	limits map[davpath.Path]int64
}

// scoped is a scope's storage and, on the local disk, its link resolver.
type scoped struct {
	fs  storage.Backend
	res access.Resolver
}

// app builds the part of the handler that depends on the users and what a reload may change:
// authentication and the per-scope engines (or the one engine when authentication is off),
// with CORS in front. It leaves w.c at c on success and as it was on failure.
func (w *wiring) app(c Config) (http.Handler, error) {
	old := w.c
	w.c, w.built = c, nil
	h, err := w.buildApp()
	if err != nil {
		w.c = old
		return nil, err
	}
	if m := w.in.metrics; m != nil {
		m.replace(w.built)
	}
	w.built = nil
	return cors(c.CORS, h), nil
}

func (w *wiring) buildApp() (http.Handler, error) {
	pr, users, err := w.c.principals()
	if err != nil {
		return nil, err
	}
	w.setQuotas(pr)
	if !w.c.AuthEnabled() {
		return w.handler(davpath.Root, nil)
	}
	return w.authenticated(pr, users)
}

// local opens the single-node backends: the served directory through osfs, dead properties and
// locks in the embedded bbolt store under the state directory.
func (w *wiring) local() error {
	if err := os.MkdirAll(w.c.Root, 0o755); err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if err := os.MkdirAll(w.c.State, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	fsys, err := osfs.New(w.c.Root, w.osfsOptions())
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	w.in.closers = append(w.in.closers, fsys.Close)
	// A short wait for the file lock: a davd that is starting or stopping releases it within
	// moments, and one that is serving never does, which the user should hear at once.
	db, err := bolt.Open(filepath.Join(w.c.State, "davd.db"), bolt.Options{OpenTimeout: stateLockWait})
	if errors.Is(err, bolt.ErrInUse) {
		return fmt.Errorf("state: another davd is already using %s (its davd.db is locked); stop it, or give this one another -state", w.c.State)
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	w.in.closers = append(w.in.closers, db.Close)
	ps := db.Props()
	if j, ok := ps.(props.Journal); ok {
		// Replay namespace changes a crash interrupted, before any request is served.
		err := j.Recover(context.Background(), func(p davpath.Path) bool {
			_, err := fsys.Stat(context.Background(), p)
			return err == nil
		})
		if err != nil {
			return fmt.Errorf("state: recover: %w", err)
		}
	}
	locks, err := memlock.New(memlock.Options{Limits: w.c.Limits.LockLimits, Persist: db.LockPersister()})
	if err != nil {
		return fmt.Errorf("state: locks: %w", err)
	}
	w.fs, w.root, w.props, w.locks, w.db = fsys, fsys, ps, locks, db
	w.shares = db.Shares()
	w.sync = db.Sync(0, 0)
	return nil
}

// cluster opens the cluster backends: the tree in etcd and S3 (storage/clusterfs), dead
// properties (props/etcdprops) and locks (lock/etcdlock) in etcd, and starts this node's
// collector of unreferenced contents.
func (w *wiring) cluster() error {
	cc := w.c.Cluster
	create := cc.CreateBucket == nil || *cc.CreateBucket
	etcdTLS, err := etcdTLS(cc)
	if err != nil {
		return err
	}
	password, err := etcdPassword(cc)
	if err != nil {
		return err
	}
	conn, err := cluster.Open(context.Background(), cluster.Config{
		Endpoints:    cc.Etcd,
		Prefix:       cc.EtcdPrefix,
		EtcdTLS:      etcdTLS,
		Username:     cc.EtcdUser,
		Password:     password,
		S3Endpoint:   cc.S3Endpoint,
		Bucket:       cc.S3Bucket,
		Region:       cmp.Or(cc.S3Region, os.Getenv("AWS_REGION")),
		AccessKey:    os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey:    os.Getenv("AWS_SECRET_ACCESS_KEY"),
		CreateBucket: create,
	})
	if err != nil {
		return err
	}
	w.in.closers = append(w.in.closers, conn.Close)
	fsys, err := clusterfs.New(context.Background(), conn, clusterfs.Options{Grace: cc.BlobGrace})
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	w.in.closers = append(w.in.closers, func() error { stop(); return nil })
	go fsys.Run(ctx, cmp.Or(cc.GCInterval, time.Minute), func(err error) {
		w.log.Warn("cluster: collecting contents", "err", err)
	})
	w.root = fsys
	w.sub = func(base davpath.Path) storage.Backend { return fsys.Sub(base) }
	book, err := etcdquota.New(context.Background(), conn.Etcd, conn.Prefix, etcdquota.Options{Timeout: conn.Timeout, Logger: w.log})
	if err != nil {
		return err
	}
	w.in.closers = append(w.in.closers, book.Close)
	w.quotaBook = book
	if w.c.NextcloudLayout {
		if w.uploadTree, err = fsys.Tree(context.Background(), "uploads"); err != nil {
			return err
		}
	}
	w.props = etcdprops.New(conn.Etcd, conn.Prefix, props.Limits{})
	syncs := clustersync.New(conn, 0, 0)
	go syncs.Run(ctx, time.Hour, time.Hour, func(err error) {
		w.log.Warn("cluster: sweeping sync snapshots", "err", err)
	})
	w.sync = syncs
	w.locks = etcdlock.New(conn.Etcd, conn.Prefix, w.c.Limits.LockLimits)
	w.shares = etcdshare.New(conn.Etcd, conn.Prefix)
	w.in.ready = func() error {
		if _, err := fsys.Stat(context.Background(), davpath.Root); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), conn.Timeout)
		defer cancel()
		if _, err := conn.S3.BucketExists(ctx, conn.Bucket); err != nil {
			return fmt.Errorf("S3: %w", err)
		}
		return nil
	}
	return nil
}

// etcdTLS is the TLS configuration of the etcd client from [cluster]'s PEM files: nil when
// none is given (the system's roots then verify https endpoints).
func etcdTLS(cc Cluster) (*tls.Config, error) {
	if cc.EtcdCA == "" && cc.EtcdCert == "" && cc.EtcdKey == "" {
		return nil, nil
	}
	if (cc.EtcdCert == "") != (cc.EtcdKey == "") {
		return nil, errors.New("cluster: etcd_cert and etcd_key must be set together")
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cc.EtcdCA != "" {
		pem, err := os.ReadFile(cc.EtcdCA)
		if err != nil {
			return nil, fmt.Errorf("cluster: etcd_ca: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cluster: etcd_ca %s: no PEM certificate in it", cc.EtcdCA)
		}
	}
	if cc.EtcdCert != "" {
		cert, err := tls.LoadX509KeyPair(cc.EtcdCert, cc.EtcdKey)
		if err != nil {
			return nil, fmt.Errorf("cluster: etcd_cert/etcd_key: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// etcdPassword is the password of etcd_user, from etcd_password_file or DAVD_ETCD_PASSWORD.
func etcdPassword(cc Cluster) (string, error) {
	if cc.EtcdUser == "" {
		if cc.EtcdPasswordFile != "" {
			return "", errors.New("cluster: etcd_password_file without etcd_user")
		}
		return "", nil
	}
	if cc.EtcdPasswordFile != "" {
		b, err := os.ReadFile(cc.EtcdPasswordFile)
		if err != nil {
			return "", fmt.Errorf("cluster: etcd_password_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if pw := os.Getenv("DAVD_ETCD_PASSWORD"); pw != "" {
		return pw, nil
	}
	return "", errors.New("cluster: etcd_user needs a password: etcd_password_file or DAVD_ETCD_PASSWORD")
}

// osfsOptions are the options of every osfs instance: the scopes' as the root's.
func (w *wiring) osfsOptions() osfs.Options {
	o := osfs.Options{NoFsync: w.c.NoFsync}
	if m := w.in.metrics; m != nil {
		o.FsyncObserved = func(d time.Duration) { m.fsync.Observe(d.Seconds()) }
	}
	return o
}

// stateLockWait is how long Build waits for the state store's file lock.
const stateLockWait = 500 * time.Millisecond

// quotaWalk is how often the quota accounting walks its trees again, to count changes made
// outside davd.
const quotaWalk = 10 * time.Minute

// setQuotas puts the quotas of the configuration being built in force: the whole tree's and each
// user's on the user's scope (the smallest when users share a scope). The ledger is made at the
// first build and kept, with its figures, across reloads; with no quota it has no account and
// no backend is wrapped.
func (w *wiring) setQuotas(pr map[string]principal) {
	limits := map[davpath.Path]int64{}
	if w.c.QuotaBytes > 0 {
		limits[davpath.Root] = w.c.QuotaBytes
	}
	for _, p := range pr {
		if p.quota > 0 {
			if old, ok := limits[p.scope]; !ok || p.quota < old {
				limits[p.scope] = p.quota
			}
		}
	}
	w.limits = limits
	if w.quota == nil {
		// Made once, before anything reads it from another goroutine (the sweeper's Dirty).
		if w.quotaBook != nil {
			w.quota = quotafs.NewShared(w.root, w.quotaBook)
		} else {
			w.quota = quotafs.New(w.root)
		}
		ctx, stop := context.WithCancel(context.Background())
		w.in.closers = append(w.in.closers, func() error { stop(); return nil })
		go w.quota.Run(ctx, quotaWalk)
	}
	w.quota.SetLimits(limits)
}

// limited wraps a scope's content backend in the quota accounting when any quota is set.
func (w *wiring) limited(fsys storage.Backend, base davpath.Path) storage.Backend {
	if len(w.limits) == 0 {
		return fsys
	}
	return w.quota.Wrap(fsys, base)
}

// storage returns the content backend of a scope. A scope gets its own osfs rooted at its
// directory rather than a path-prefixing wrapper over the whole tree: os.Root then refuses
// symbolic links that leave the scope, so a link planted in alice's directory pointing to
// ../bob is not followed (osfs follows links that stay inside its root).
//
// In cluster mode there are no symbolic links, and a scope is a sub-tree view of the shared
// namespace; it returns a nil Resolver then.
func (w *wiring) storage(base davpath.Path) (storage.Backend, access.Resolver, error) {
	if w.fs == nil {
		if base.IsRoot() {
			return w.root, nil, nil
		}
		return w.sub(base), nil, nil
	}
	if base.IsRoot() {
		return w.fs, w.fs, nil
	}
	if sc, ok := w.scopes[base]; ok {
		return sc.fs, sc.res, nil
	}
	dir := w.c.Root
	for _, seg := range base.Segments() {
		dir = filepath.Join(dir, seg)
		fi, err := os.Lstat(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("scope %s: %w", base, err)
		}
		if !fi.IsDir() {
			return nil, nil, fmt.Errorf("scope %s: %s is not a directory (symbolic links are not allowed on a scope's path)", base, dir)
		}
	}
	fsys, err := osfs.New(dir, w.osfsOptions())
	if err != nil {
		return nil, nil, fmt.Errorf("scope %s: %w", base, err)
	}
	w.in.closers = append(w.in.closers, fsys.Close)
	w.scopes[base] = scoped{fsys, fsys}
	return fsys, fsys, nil
}

// handler returns the engine for one scope under rules (nil: allow everything). The rules are
// in the principals' view, which is the scope's storage's own: they are checked on the paths
// the engine asks about and on where the scope's symbolic links lead them, so that a link
// inside the scope cannot carry a principal across a rule (access.Rules.ThroughLinks).
func (w *wiring) handler(base davpath.Path, rules *access.Rules) (*dav.Handler, error) {
	return w.handlerAt(base, rules, w.c.Prefix)
}

// handlerAt is handler with the engine mounted at the unescaped URL path prefix.
func (w *wiring) handlerAt(base davpath.Path, rules *access.Rules, prefix string) (*dav.Handler, error) {
	fsys, res, err := w.storage(base)
	if err != nil {
		return nil, err
	}
	fsys = w.limited(fsys, base)
	var pol access.Policy
	switch {
	case rules != nil && res != nil:
		pol = rules.ThroughLinks(res)
	case rules != nil:
		pol = rules
	}
	opt := webui.Options{Prefix: prefix, Title: "davd", Logger: w.log, Shares: w.c.AuthEnabled()}
	if pol != nil {
		opt.Visible = func(ctx context.Context, p davpath.Path) bool {
			return pol.Allow(ctx, access.Principal(ctx), access.Read, p)
		}
		opt.Writable = func(ctx context.Context, p davpath.Path) bool {
			return pol.Allow(ctx, access.Principal(ctx), access.Write, p)
		}
	}
	if w.c.NextcloudLayout {
		// Large uploads from the page go in resumable chunks through the Nextcloud layout.
		top := w.c.Prefix
		opt.Chunked = func(ctx context.Context, p davpath.Path) (string, string, bool) {
			user := access.Principal(ctx)
			if user == "" {
				return "", "", false
			}
			return davpath.Root.Escape(nextcloud.UploadsPrefix(top, user), true), p.Escape(nextcloud.FilesPrefix(top, user), true), true
		}
	}
	ui := webui.New(fsys, opt)
	h, err := dav.New(dav.Config{
		Storage:        fsys,
		Props:          scope.Props(w.props, base),
		Locks:          scope.Locks(w.locks, base),
		Access:         pol,
		Browser:        browser{ui},
		Prefix:         prefix,
		PublicHosts:    w.c.Proxy.PublicHosts,
		TrustForwarded: len(w.c.Proxy.Trusted) > 0,
		Limits:         w.c.Limits.Limits,
		Logger:         w.log,
		Sync:           w.sync,
	})
	if err == nil {
		w.built = append(w.built, h)
	}
	return h, err
}

// authenticated builds the per-scope handlers and the Basic authentication in front of them.
func (w *wiring) authenticated(pr map[string]principal, users *auth.Users) (http.Handler, error) {
	rules := make(map[string]access.UserRules, len(pr))
	for name, p := range pr {
		rules[name] = p.rules
	}
	pol, err := access.NewRules(rules)
	if err != nil {
		return nil, err
	}
	byScope := map[davpath.Path]*dav.Handler{}
	byName := make(map[string]*dav.Handler, len(pr))
	// linked: the principals whose paths the policy resolves through symbolic links. Their
	// requests carry a memo, so that checking each member of a listing costs no system call.
	linked := map[string]bool{}
	for name, p := range pr {
		linked[name] = p.rules.Crossable()
		h := byScope[p.scope]
		if h == nil {
			if err := w.mkScope(p.scope); err != nil {
				return nil, err
			}
			if h, err = w.handler(p.scope, pol); err != nil {
				return nil, err
			}
			byScope[p.scope] = h
		}
		byName[name] = h
	}
	// Unauthenticated OPTIONS, when anonymous access is off, reach an engine that may do
	// nothing else: OPTIONS needs no access, everything else is refused.
	deny, err := dav.New(dav.Config{Storage: w.root, Access: access.DenyAll{}, Locks: w.locks, Prefix: w.c.Prefix, Logger: w.log})
	if err != nil {
		return nil, err
	}
	links, err := w.links(pr, pol)
	if err != nil {
		return nil, err
	}
	nc, err := w.nextcloud(pr, pol)
	if err != nil {
		return nil, err
	}
	route := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		name := access.Principal(r.Context())
		setLogUser(r.Context(), name)
		if nc != nil && nc.Under(r) {
			nc.ServeHTTP(rw, r)
			return
		}
		if links.Under(r) {
			links.ServeAdmin(rw, r)
			return
		}
		if sharelink.Creates(r) {
			links.Create(rw, r)
			return
		}
		if h := byName[name]; h != nil {
			if linked[name] {
				r = r.WithContext(osfs.WithLinkMemo(r.Context()))
			}
			h.ServeHTTP(rw, r)
			return
		}
		deny.ServeHTTP(rw, r)
	})
	_, anon := pr[""]
	opt := auth.Options{
		Users:                  users,
		Anonymous:              anon,
		OptionsUnauthenticated: w.c.OptionsUnauthenticated,
		Logger:                 w.log,
	}
	if th := w.loginThrottle(); th != nil {
		opt.Throttle = th
		if m := w.in.metrics; m != nil {
			opt.OnThrottled = m.throttled.Inc
		}
	}
	authed := auth.Middleware(opt, route)
	// A link is used without the server's credentials (it may have a password of its own);
	// listing and revoking links are the creator's, and authenticated.
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if links.Under(r) && !links.Admin(r) {
			links.ServeLink(rw, r)
			return
		}
		authed.ServeHTTP(rw, r)
	}), nil
}

// nextcloud returns the Nextcloud URL layout over the principals pr (nil when it is off): each
// user's engine again, mounted at /remote.php/dav/files/USER, and an upload area per user in
// the state directory, swept of uploads left for a day.
func (w *wiring) nextcloud(pr map[string]principal, pol *access.Rules) (*nextcloud.Layout, error) {
	if !w.c.NextcloudLayout {
		return nil, nil
	}
	files := map[string]*dav.Handler{}
	uploads := map[string]http.Handler{}
	areas := map[string]storage.Backend{}
	base := filepath.Join(w.c.State, "uploads")
	for name, p := range pr {
		if name == "" {
			continue
		}
		h, err := w.handlerAt(p.scope, pol, nextcloud.FilesPrefix(w.c.Prefix, name))
		if err != nil {
			return nil, err
		}
		files[name] = h
		area, err := w.uploadArea(base, name)
		if err != nil {
			return nil, err
		}
		if len(w.limits) > 0 {
			// Unfinished uploads count against the owner's quota while they exist.
			area = w.quota.Area(area, p.scope)
		}
		eng, err := dav.New(dav.Config{Storage: area, Prefix: nextcloud.UploadsPrefix(w.c.Prefix, name), Limits: w.c.Limits.Limits, Logger: w.log})
		if err != nil {
			return nil, err
		}
		uploads[name], areas[name] = eng, area
	}
	if !w.sweeping {
		w.sweeping = true
		ctx, stop := context.WithCancel(context.Background())
		w.in.closers = append(w.in.closers, func() error { stop(); return nil })
		sweep := func(now time.Time) (int, error) { return nextcloud.Sweep(base, uploadExpiry, now) }
		if w.uploadTree != nil {
			sweep = func(now time.Time) (int, error) { return nextcloud.SweepBackend(ctx, w.uploadTree, uploadExpiry, now) }
		}
		go sweepUploads(ctx, w.log, sweep, w.quota.Dirty)
	}
	return nextcloud.New(nextcloud.Config{
		Prefix: w.c.Prefix,
		Files: func(user string) http.Handler {
			if h := files[user]; h != nil {
				return h
			}
			return nil
		},
		Uploads: func(user string) (http.Handler, storage.Backend, error) {
			if h := uploads[user]; h != nil {
				return h, areas[user], nil
			}
			return nil, nil, fmt.Errorf("no upload area for %q", user)
		},
		Logger: w.log,
	}), nil
}

// uploadArea is user's upload area under base (a directory named by the user name's hex, so
// that any name makes one safe directory; in cluster mode a collection of that name in the
// upload tree), opened once and kept across reloads.
func (w *wiring) uploadArea(base, user string) (storage.Backend, error) {
	if a, ok := w.uploads[user]; ok {
		return a, nil
	}
	if w.uploadTree != nil {
		dir := davpath.Root.Join(hex.EncodeToString([]byte(user)))
		if err := w.uploadTree.Mkcol(context.Background(), dir); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("nextcloud uploads: %w", err)
		}
		a := w.uploadTree.Sub(dir)
		if w.uploads == nil {
			w.uploads = map[string]storage.Backend{}
		}
		w.uploads[user] = a
		return a, nil
	}
	dir := filepath.Join(base, hex.EncodeToString([]byte(user)))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nextcloud uploads: %w", err)
	}
	a, err := osfs.New(dir, w.osfsOptions())
	if err != nil {
		return nil, fmt.Errorf("nextcloud uploads: %w", err)
	}
	w.in.closers = append(w.in.closers, a.Close)
	if w.uploads == nil {
		w.uploads = map[string]storage.Backend{}
	}
	w.uploads[user] = a
	return a, nil
}

// uploadExpiry is how long an unfinished chunked upload is kept after its last chunk
// (Nextcloud's own figure).
const uploadExpiry = 24 * time.Hour

// sweepUploads removes expired uploads (sweep) at once and then every hour, until ctx ends.
// removed is called after uploads were removed (on disk, unseen by the quota accounting).
func sweepUploads(ctx context.Context, log *slog.Logger, sweep func(time.Time) (int, error), removed func()) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := sweep(time.Now()); err != nil {
			log.Warn("nextcloud: sweeping expired uploads", "err", err)
		} else if n > 0 {
			log.Info("nextcloud: expired uploads removed", "count", n)
			removed()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// links returns the share links' handler for the principals pr under the policy pol. A link's
// owner is looked up in pr on every request, so a reload that removes a user or narrows a scope
// or a rule takes effect on the user's links at once.
func (w *wiring) links(pr map[string]principal, pol *access.Rules) (*sharelink.Handler, error) {
	owners := make(map[string]sharelink.Owner, len(pr))
	for name, p := range pr {
		if name == "" {
			continue // the anonymous principal shares nothing
		}
		fsys, res, err := w.storage(p.scope)
		if err != nil {
			return nil, err
		}
		// Uploads through a link count against the owner's quota.
		fsys = w.limited(fsys, p.scope)
		o := sharelink.Owner{Scope: p.scope, Storage: fsys, Policy: pol}
		if res != nil {
			o.Resolver, o.Policy = res, pol.ThroughLinks(res)
		}
		owners[name] = o
	}
	cfg := sharelink.Config{
		Store:  w.shares,
		Prefix: w.c.Prefix,
		Owner: func(name string) (sharelink.Owner, bool) {
			o, ok := owners[name]
			return o, ok
		},
		Props: w.props,
		Locks: w.locks,
		Engine: dav.Config{
			PublicHosts:    w.c.Proxy.PublicHosts,
			TrustForwarded: len(w.c.Proxy.Trusted) > 0,
			Limits:         w.c.Limits.Limits,
			Logger:         w.log,
		},
		Logger: w.log,
	}
	if th := w.loginThrottle(); th != nil {
		cfg.Throttle = th
		if m := w.in.metrics; m != nil {
			cfg.OnThrottled = m.throttled.Inc
		}
	}
	return sharelink.New(cfg), nil
}

// loginThrottle returns the login throttle (nil when it is disabled). A reload keeps the
// throttle, and with it the bans in force, unless its options change.
func (w *wiring) loginThrottle() *auth.Throttle {
	if w.c.LoginThrottle.Disabled {
		return nil
	}
	if w.throttle == nil || w.throttleOpt != w.c.LoginThrottle {
		w.throttle, w.throttleOpt = auth.NewThrottle(w.c.LoginThrottle, nil), w.c.LoginThrottle
	}
	return w.throttle
}

// mkScope creates a scope's directory (and its parents) through the storage, so that a
// symbolic link in the served tree cannot redirect it outside.
func (w *wiring) mkScope(base davpath.Path) error {
	ctx := context.Background()
	p := davpath.Root
	for _, seg := range base.Segments() {
		p = p.Join(seg)
		err := w.root.Mkcol(ctx, p)
		if err == nil || errors.Is(err, fs.ErrExist) {
			if info, err := w.root.Stat(ctx, p); err != nil || !info.IsDir {
				return fmt.Errorf("scope %s: %s is not a directory of the served tree", base, p)
			}
			continue
		}
		return fmt.Errorf("scope %s: %w", base, err)
	}
	return nil
}

// browser adapts the webui package to dav.Browser.
type browser struct{ *webui.UI }

func (browser) Wants(r *http.Request) bool { return webui.Wants(r) }

var _ dav.ErrorPager = browser{}

// RunOptions are the hooks of Run.
type RunOptions struct {
	// Ready, when set, is called with the bound address once listening.
	Ready func(addr net.Addr)
	// MetricsReady, when set, is called with the metrics listener's address.
	MetricsReady func(addr net.Addr)
	// Force, when closed during the graceful shutdown, ends it at once: the requests still
	// running are cut off (davd's answer to a second SIGINT or SIGTERM).
	Force <-chan struct{}
	// Reload, when it receives, makes Run call Reconfigure and put its configuration in
	// force with Instance.Reload (davd's answer to SIGHUP). An error of either is logged and
	// leaves the running configuration as it is.
	Reload      <-chan struct{}
	Reconfigure func() (Config, error)
}

// ErrCutOff is Run's error when the shutdown cut off requests (timeouts.shutdown passed, or
// RunOptions.Force was closed).
var ErrCutOff = errors.New("requests cut off")

// Run serves c until ctx ends, then shuts down gracefully (in-flight requests get
// timeouts.shutdown, unless opt.Force ends the wait sooner). Plain HTTP is served by package h1
// unless c.HTTP1 is "net/http"; HTTPS by net/http.
func Run(ctx context.Context, c Config, log *slog.Logger, opt RunOptions) error {
	ready := opt.Ready
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
	if in.metrics != nil {
		ln = in.metrics.countConns(ln)
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	tlsOn := c.TLS.Cert != ""
	var primary server
	var srv *http.Server // the TLS server, when tlsOn
	front := "net/http"
	if tlsOn {
		// Load the pair now so a bad file is a start-up error, not a failed handshake.
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls: %w", err)
		}
		in.cert.Store(&cert)
		srv = httpServer(c, in.Handler, maxHeaderBytes, errLog)
		srv.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Each handshake takes the certificate in force: Reload rotates it without
			// touching the connections already open.
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return in.cert.Load(), nil },
		}
		primary = srv
	} else {
		primary = plainServer(c, in.Handler, errLog)
		if _, ok := primary.(*h1.Server); ok {
			front = "davd"
		}
	}
	servers := []server{primary}
	errc := make(chan error, 2)
	if c.TLS.RedirectHTTP != "" {
		rln, err := net.Listen("tcp", c.TLS.RedirectHTTP)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls.redirect_http: %w", err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		rs := httpServer(c, transferDeadlines(c.Timeouts.Transfer, globalOptions(redirectHTTPS(port))), 16<<10, errLog)
		servers = append(servers, rs)
		log.Info("davd redirecting HTTP to HTTPS", "addr", rln.Addr().String())
		go func() { errc <- rs.Serve(rln) }()
	}
	if c.Pprof != "" {
		go servePprof(c.Pprof, log)
	}
	if c.Metrics != "" {
		mln, err := net.Listen("tcp", c.Metrics)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics: %w", err)
		}
		ms := httpServer(c, in.OpsHandler(), 16<<10, errLog)
		servers = append(servers, ms)
		log.Info("davd metrics", "addr", mln.Addr().String(), "paths", "/metrics /healthz /readyz")
		if opt.MetricsReady != nil {
			opt.MetricsReady(mln.Addr())
		}
		go func() { errc <- ms.Serve(mln) }()
	}
	v := version.Get()
	log.Info("davd serving", "version", v.Version, "revision", v.Revision, "go", v.Go, "addr", ln.Addr().String(), "tls", tlsOn, "http1", front, "auth", c.AuthEnabled(), "root", c.Root, "state", c.State)
	if ready != nil {
		ready(ln.Addr())
	}
	// Under systemd (Type=notify) the unit is started once davd listens.
	if _, err := sdnotify.Notify("READY=1\nSTATUS=serving on " + ln.Addr().String()); err != nil {
		log.Warn("systemd notification failed", "err", err)
	}
	go func() {
		if tlsOn {
			// ServeTLS adds "h2" to the ALPN protocols: HTTP/2 comes with TLS.
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- primary.Serve(ln)
		}
	}()
	for done := false; !done; {
		select {
		case err := <-errc:
			for _, s := range servers {
				s.Close()
			}
			return err
		case <-opt.Reload:
			reload(in, log, opt.Reconfigure)
		case <-ctx.Done():
			done = true
		}
	}
	sdnotify.Notify("STOPPING=1\nSTATUS=shutting down")
	return shutdown(c, log, in.inflight, servers, opt.Force)
}

// reload reads the configuration again and puts it in force, telling systemd (Type=notify)
// that a reload is under way and when it is over.
func reload(in *Instance, log *slog.Logger, reconfigure func() (Config, error)) {
	if reconfigure == nil {
		return
	}
	start := time.Now()
	sdnotify.Notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading the configuration", sdnotify.Monotonic()))
	defer sdnotify.Notify("READY=1\nSTATUS=serving")
	c, err := reconfigure()
	var restart []string
	if err == nil {
		restart, err = in.Reload(c)
	}
	if err != nil {
		log.Error("configuration reload refused; the running configuration stays in force", "err", err)
		return
	}
	log.Info("configuration reloaded", "users", len(c.Users), "after", time.Since(start).Round(time.Microsecond))
	if len(restart) > 0 {
		log.Warn("configuration changes that need a restart were not applied", "keys", strings.Join(restart, ","))
	}
}

// shutdown stops servers gracefully: new connections are refused, idle ones closed, and running
// requests get c.Timeouts.Shutdown (or until force is closed) to finish. Those still running
// then are cut off, logged, and given a moment to reach the access log.
func shutdown(c Config, log *slog.Logger, fl *inflight, servers []server, force <-chan struct{}) error {
	start := time.Now()
	log.Info("davd shutting down", "requests_running", fl.Len(), "grace", c.Timeouts.Shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), c.Timeouts.Shutdown)
	defer cancel()
	var forced atomic.Bool
	go func() {
		select {
		case <-force:
			forced.Store(true)
			cancel()
		case <-sctx.Done():
		}
	}()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(sctx))
	}
	err := errors.Join(errs...)
	if err == nil {
		log.Info("davd stopped", "after", time.Since(start).Round(time.Millisecond))
		return nil
	}
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	cancel()
	<-sctx.Done()
	n := fl.Len()
	fl.logCut(log)
	for _, s := range servers {
		s.Close()
	}
	// Closing the connections makes the cut-off requests' reads and writes fail: let their
	// handlers return, so that each still gets its access-log line.
	fl.wait(2 * time.Second)
	why := fmt.Sprintf("after the %s grace period", c.Timeouts.Shutdown)
	if forced.Load() {
		why = "by a second signal"
	}
	log.Warn("davd stopped "+why, "cut_off", n, "after", time.Since(start).Round(time.Millisecond))
	return fmt.Errorf("stopped %s: %d %w", why, n, ErrCutOff)
}

// plainServer is the server of plain-HTTP connections c asks for (c.HTTP1).
func plainServer(c Config, h http.Handler, errLog *log.Logger) server {
	if c.HTTP1 == HTTP1NetHTTP {
		s := httpServer(c, h, maxHeaderBytes, errLog)
		s.ConnContext = te10ConnContext
		return te10Server{s}
	}
	return &h1.Server{
		Handler:                      h,
		ReadHeaderTimeout:            c.Timeouts.ReadHeader,
		IdleTimeout:                  c.Timeouts.Idle,
		MaxHeaderBytes:               maxHeaderBytes,
		ErrorLog:                     errLog,
		DisableGeneralOptionsHandler: true, // globalOptions answers it, under the deadlines
	}
}

// te10Server is the plain-HTTP net/http server: its connections are watched for HTTP/1.0
// requests with Transfer-Encoding, which http.ReadRequest hides (see te10Conn).
type te10Server struct{ *http.Server }

func (s te10Server) Serve(ln net.Listener) error { return s.Server.Serve(te10Listener{ln}) }

// httpServer is the one place a net/http server of h is built: HTTPS, plain HTTP when c.HTTP1
// asks for net/http, and the HTTP-to-HTTPS redirect all get c's timeouts.
func httpServer(c Config, h http.Handler, maxHeader int, errLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.Timeouts.ReadHeader,
		IdleTimeout:       c.Timeouts.Idle,
		MaxHeaderBytes:    maxHeader,
		ErrorLog:          errLog,
		// globalOptions answers "OPTIONS *" inside the handler chain, under the deadlines.
		DisableGeneralOptionsHandler: true,
	}
}

// maxHeaderBytes bounds a request's line and header.
const maxHeaderBytes = 64 << 10

// server is what Run needs of an http.Server or an h1.Server.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof", "err", err)
	}
}
