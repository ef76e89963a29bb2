//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// nodeClients prepares e2e/node (npm ci from its lock file, once per run) and returns its
// directory.
func nodeClients(t *testing.T) string {
	t.Helper()
	npm := tool(t, "npm", "npm")
	tool(t, "node", "nodejs")
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "webdav")); err != nil {
		if out, err := runCmd(t, 5*time.Minute, dir, nil, nil, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"); err != nil {
			t.Fatalf("npm ci in e2e/node: %v\n%s", err, out)
		}
	}
	return dir
}

// TestNpmWebdavDeep: the npm "webdav" client's getDirectoryContents(dir, {deep: true}) sends
// PROPFIND Depth: infinity, which davd answers by default (issue 15 item 7): every member of the
// tree comes back, parsed by the client, names with spaces and non-ASCII included.
func TestNpmWebdavDeep(t *testing.T) {
	dir := nodeClients(t)
	s := startServer(t, serverOpts{})
	out, err := runCmd(t, 2*time.Minute, dir, nil, nil, "node", "deep.mjs", s.URL)
	if err != nil {
		t.Fatalf("node deep.mjs: %v\n%s", err, out)
	}
	var got struct {
		Entries []struct {
			Path string `json:"path"`
			Type string `json:"type"`
			Size int64  `json:"size"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &got); err != nil {
		t.Fatalf("node output: %v\n%s", err, out)
	}
	type entry struct {
		path, typ string
		size      int64
	}
	var have []entry
	for _, e := range got.Entries {
		have = append(have, entry{e.Path, e.Type, e.Size})
	}
	want := []entry{
		{"/deep/a", "directory", 0},
		{"/deep/a/b", "directory", 0},
		{"/deep/a/b/low file ü.txt", "file", 8},
		{"/deep/a/mid.txt", "file", 7},
		{"/deep/top.txt", "file", 4},
	}
	if !reflect.DeepEqual(have, want) {
		t.Fatalf("deep listing:\n got %v\nwant %v", have, want)
	}
}
