package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the import path prefix of davd's packages.
const module = "github.com/davd/davd"

// Layers, bottom to top. A package may import packages of its own layer or below, never above;
// inside its own layer, only packages of its own group (see group). The picture:
//
//	cmd/davd, e2e                                  command, black-box tests
//	server, server/...                             composition root, HTTP front ends
//	dav/..., webui, auth, scope, backends          engine, browser view, authentication, adapters
//	syncstore/synctest                             the sync stores' conformance suite
//	cluster                                        what the cluster backends share (etcd session, keys)
//	storage, lock, props, access, share, syncstore the seams
//	davpath, internal/...                          canonical paths, standard-library helpers
//
// Backends are storage/*, props/*, lock/*, store/*, share/* and syncstore/* (syncstore/synctest
// included, which imports only the seam): each implements seams and may import the
// seams, cluster and third-party libraries, never another backend. auth is HTTP middleware over
// access.Principal, so it sits above the seams (ARCHITECTURE.md draws it beside davpath, but it
// imports access and net/http).
const (
	layerBase = iota
	layerSeam
	layerCluster
	layerEngine
	layerServer
	layerCommand
)

var layerNames = []string{"base", "seam", "cluster", "engine", "server", "command"}

// pkg is what the rules need of one `go list -json` record, with paths relative to the module.
type pkg struct {
	Path    string
	Imports []string // the module's packages and net/http among the direct imports
	Deps    []string // every dependency, transitive, as full import paths
}

// seams are the interface packages: they and davpath never depend on net/http, however
// indirectly. HTTP status codes exist only in dav.
var seams = []string{"storage", "lock", "props", "access", "share", "syncstore"}

// backendRoots are the parents of backend packages.
var backendRoots = []string{"storage", "props", "lock", "store", "share", "syncstore"}

// stdlibOnly are the packages that may use only the standard library (parsers, fuzzed).
var stdlibOnly = []string{"davpath", "dav/internal/ifheader", "dav/internal/davxml"}

// isBackend reports whether p is a backend package (or a package inside one).
func isBackend(p string) bool {
	root, _, ok := strings.Cut(p, "/")
	return ok && slices.Contains(backendRoots, root)
}

// classify returns p's layer, or ok false for a package no rule knows (a new top-level package
// must be placed here deliberately).
func classify(p string) (layer int, ok bool) {
	first, _, _ := strings.Cut(p, "/")
	switch {
	case p == "davpath" || first == "internal":
		return layerBase, true
	case slices.Contains(seams, p):
		return layerSeam, true
	case first == "cluster":
		return layerCluster, true
	case isBackend(p), first == "dav", p == "syncstore/synctest", first == "webui", first == "auth", first == "scope":
		return layerEngine, true
	case first == "server":
		return layerServer, true
	case first == "cmd", first == "e2e":
		return layerCommand, true
	}
	return 0, false
}

// group is the unit inside which packages of one layer may import each other: a backend
// ("storage/osfs" and anything below it), a helper under internal/, or a top-level tree.
func group(p string) string {
	parts := strings.SplitN(p, "/", 3)
	if len(parts) >= 2 && (isBackend(p) || parts[0] == "internal" || parts[0] == "cmd") {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

// check returns every violation of the layering among pkgs.
func check(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		from, ok := classify(p.Path)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: not placed in any layer (add it to classify)", p.Path))
			continue
		}
		for _, imp := range p.Imports {
			if imp == "net/http" {
				if isBackend(p.Path) || from == layerCluster {
					bad = append(bad, fmt.Sprintf("%s imports net/http: backends and cluster know no HTTP", p.Path))
				}
				continue
			}
			to, ok := classify(imp)
			switch {
			case !ok:
				// Reported as unplaced when the imported package itself is checked.
			case group(p.Path) == "dav" && group(imp) == "server":
				bad = append(bad, fmt.Sprintf("%s imports %s: the engine never imports server", p.Path, imp))
			case to > from:
				bad = append(bad, fmt.Sprintf("%s (%s) imports %s (%s): upward", p.Path, layerNames[from], imp, layerNames[to]))
			case isBackend(p.Path) && isBackend(imp) && group(p.Path) != group(imp):
				bad = append(bad, fmt.Sprintf("%s imports %s: a backend imports another backend; shared rules belong to the seam", p.Path, imp))
			case to == from && group(p.Path) != group(imp):
				bad = append(bad, fmt.Sprintf("%s imports %s: same layer (%s), different group", p.Path, imp, layerNames[from]))
			}
		}
		if p.Path == "davpath" || slices.Contains(seams, p.Path) {
			if slices.Contains(p.Deps, "net/http") {
				bad = append(bad, fmt.Sprintf("%s depends on net/http: seams know no HTTP", p.Path))
			}
		}
		if slices.Contains(stdlibOnly, p.Path) {
			for _, d := range p.Deps {
				if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") {
					bad = append(bad, fmt.Sprintf("%s depends on %s: it may use only the standard library", p.Path, d))
				}
			}
		}
	}
	return bad
}

// load runs `go list -json` over the module.
func load(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var raw struct {
			ImportPath string
			Imports    []string
			Deps       []string
		}
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		p := pkg{Path: rel(raw.ImportPath), Deps: raw.Deps}
		for _, imp := range raw.Imports {
			if imp == "net/http" {
				p.Imports = append(p.Imports, imp)
			} else if r := rel(imp); r != imp {
				p.Imports = append(p.Imports, r)
			}
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// rel returns an import path of the module relative to it; other paths are returned unchanged.
func rel(p string) string {
	if r, ok := strings.CutPrefix(p, module+"/"); ok {
		return r
	}
	return p
}

// TestLayering checks davd's own packages (their non-test imports: a backend's tests may use
// another backend, as store/bolt's exercise its lock persister with lock/memlock).
func TestLayering(t *testing.T) {
	for _, v := range check(load(t)) {
		t.Error(v)
	}
}

// TestRulesCatchViolations feeds the rules the import that each forbids, plus the cluster
// packages to come, which must fit as they are planned.
func TestRulesCatchViolations(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    pkg
		bad  bool
	}{
		{"backend imports another backend", pkg{Path: "store/bolt", Imports: []string{"lock", "lock/memlock"}}, true},
		{"dav imports server", pkg{Path: "dav", Imports: []string{"server/h1"}}, true},
		{"dav imports a backend", pkg{Path: "dav", Imports: []string{"storage/osfs"}}, true},
		{"dav imports auth", pkg{Path: "dav", Imports: []string{"auth"}}, true},
		{"seam imports net/http", pkg{Path: "storage", Imports: []string{"net/http"}, Deps: []string{"net/http"}}, true},
		{"seam depends on net/http indirectly", pkg{Path: "lock", Deps: []string{"io", "net/http"}}, true},
		{"seam imports a backend", pkg{Path: "props", Imports: []string{"props/memprops"}}, true},
		{"seam imports another seam", pkg{Path: "lock", Imports: []string{"storage"}}, true},
		{"davpath imports a seam", pkg{Path: "davpath", Imports: []string{"storage"}}, true},
		{"parser uses a third-party module", pkg{Path: "dav/internal/ifheader", Deps: []string{"golang.org/x/text"}}, true},
		{"server imports cmd", pkg{Path: "server", Imports: []string{"cmd/davd"}}, true},
		{"backend imports net/http", pkg{Path: "storage/clusterfs", Imports: []string{"net/http"}}, true},
		{"cluster imports a backend", pkg{Path: "cluster", Imports: []string{"storage/osfs"}}, true},
		{"cluster imports dav", pkg{Path: "cluster", Imports: []string{"dav"}}, true},
		{"cluster imports server", pkg{Path: "cluster", Imports: []string{"server"}}, true},
		{"unplaced package", pkg{Path: "newthing"}, true},

		{"clusterfs on seams and cluster", pkg{Path: "storage/clusterfs", Imports: []string{"storage", "davpath", "cluster"}, Deps: []string{"net/http"}}, false},
		{"etcdprops on seams and cluster", pkg{Path: "props/etcdprops", Imports: []string{"props", "davpath", "cluster"}}, false},
		{"etcdlock on seams and cluster", pkg{Path: "lock/etcdlock", Imports: []string{"lock", "davpath", "cluster"}}, false},
		{"cluster on seams", pkg{Path: "cluster", Imports: []string{"storage", "lock", "props", "davpath"}}, false},
		{"server wires the cluster backends", pkg{Path: "server", Imports: []string{"storage/clusterfs", "props/etcdprops", "lock/etcdlock", "cluster", "dav"}}, false},
		{"h1 names the engine's writer capabilities", pkg{Path: "server/h1", Imports: []string{"dav/rwcap", "net/http"}}, false},
		{"a backend's own sub-package", pkg{Path: "storage/osfs", Imports: []string{"storage/osfs/internal/x"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check([]pkg{tc.p})
			if (len(got) > 0) != tc.bad {
				t.Errorf("check(%+v) = %q; want a violation: %v", tc.p, got, tc.bad)
			}
		})
	}
}
