package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/props"
)

// Environment of the crash child: when envCrashDB is set, the test binary runs crashChild
// instead of the tests (see TestMain).
const (
	envCrashDB   = "DAVD_BOLT_CRASH_DB"
	envCrashTree = "DAVD_BOLT_CRASH_TREE"
	envCrashSeed = "DAVD_BOLT_CRASH_SEED"
)

func TestMain(m *testing.M) {
	if db := os.Getenv(envCrashDB); db != "" {
		if err := crashChild(db, os.Getenv(envCrashTree), os.Getenv(envCrashSeed)); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The crash workload: a pool of top-level names; each resource is a directory holding a file
// "id" whose content is the resource's identity, and sometimes a member directory "sub" with
// its own identity. The property "id" of each resource names the same identity. Names are
// reused, so a property left behind by a move or delete would be found on a resource created
// later for another identity.
var crashNames = []string{"n0", "n1", "n2", "n3", "n4", "n5"}

var idProp = props.Name{Space: "urn:davd:crash", Local: "id"}

func setID(id string) []props.Op {
	return []props.Op{
		{Prop: props.Property{Name: idProp, Value: []byte(id)}},
		{Prop: props.Property{Name: props.Name{Space: "urn:davd:crash", Local: "note"}, Value: []byte("of " + id)}},
	}
}

// crashChild loops over creates, PROPPATCHes, renames and deletes until it is killed. It
// prints one line per operation, which the parent counts to pick the moment of the kill.
func crashChild(dbPath, tree, seed string) error {
	db, err := Open(dbPath, Options{NoSync: true})
	if err != nil {
		return err
	}
	ctx := context.Background()
	s := db.Props()
	j := s.(props.Journal)
	var n uint64
	fmt.Sscan(seed, &n)
	rnd := rand.New(rand.NewPCG(n, uint64(os.Getpid())))
	disk := func(p davpath.Path) string { return filepath.Join(tree, filepath.FromSlash(p.Rel())) }
	existing := func(want bool) []davpath.Path {
		var out []davpath.Path
		for _, name := range crashNames {
			_, err := os.Lstat(filepath.Join(tree, name))
			if (err == nil) == want {
				out = append(out, davpath.Path("/"+name))
			}
		}
		return out
	}
	create := func(p davpath.Path, id string) error {
		if err := os.Mkdir(disk(p), 0o755); err != nil {
			return err
		}
		// The identity file appears atomically (temp file, rename), then the properties.
		tmp := disk(p) + "/.id.tmp"
		if err := os.WriteFile(tmp, []byte(id), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, disk(p)+"/id"); err != nil {
			return err
		}
		return s.Patch(ctx, p, setID(id))
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d-%d", seed, os.Getpid(), i)
		free, used := existing(false), existing(true)
		switch op := rnd.IntN(4); {
		case op == 0 && len(free) > 0: // PUT/MKCOL and PROPPATCH
			p := free[rnd.IntN(len(free))]
			if err := create(p, id); err != nil {
				return err
			}
			if rnd.IntN(2) == 0 {
				if err := create(p.Join("sub"), id+"-sub"); err != nil {
					return err
				}
			}
		case op == 1 && len(used) > 0: // PROPPATCH of an existing resource
			p := used[rnd.IntN(len(used))]
			cur, err := os.ReadFile(disk(p) + "/id")
			if err != nil {
				continue // Half deleted by an earlier crash; nothing to name.
			}
			if err := s.Patch(ctx, p, setID(string(cur))); err != nil {
				return err
			}
		case op == 2 && len(used) > 0 && len(free) > 0: // MOVE
			src, dst := used[rnd.IntN(len(used))], free[rnd.IntN(len(free))]
			complete, err := j.Intend(ctx, props.Intent{Kind: props.IntentMove, Src: src, Dst: dst})
			if err != nil {
				return err
			}
			rerr := os.Rename(disk(src), disk(dst))
			if err := complete(rerr == nil); err != nil {
				return err
			}
			if rerr != nil {
				return rerr
			}
		case op == 3 && len(used) > 0: // DELETE
			p := used[rnd.IntN(len(used))]
			complete, err := j.Intend(ctx, props.Intent{Kind: props.IntentDelete, Src: p})
			if err != nil {
				return err
			}
			rerr := os.RemoveAll(disk(p))
			if err := complete(rerr == nil); err != nil {
				return err
			}
			if rerr != nil {
				return rerr
			}
		default:
			continue
		}
		fmt.Fprintln(w, i)
		w.Flush()
	}
}

// TestCrashConsistency kills a child doing renames, deletes and PROPPATCHes with SIGKILL at a
// random moment, several times, and checks after each Recover that every property names the
// identity of the resource at its path.
func TestCrashConsistency(t *testing.T) {
	dir := t.TempDir()
	dbPath, tree := filepath.Join(dir, "davd.db"), filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	const iterations = 8
	totalOps := 0
	for it := range iterations {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envCrashDB+"="+dbPath, envCrashTree+"="+tree, fmt.Sprint(envCrashSeed, "=", it))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of completed operations: the kill lands wherever the
		// child has got to in the next one.
		want := 20 + rnd.IntN(150)
		sc := bufio.NewScanner(out)
		ops := 0
		for ops < want && sc.Scan() {
			ops++
		}
		cmd.Process.Signal(syscall.SIGKILL)
		waitErr := cmd.Wait()
		if ops < want {
			t.Fatalf("iteration %d: child stopped after %d operations: %v\n%s", it, ops, waitErr, stderr.String())
		}
		totalOps += ops

		db, err := Open(dbPath, Options{})
		if err != nil {
			t.Fatal(err)
		}
		exists := func(p davpath.Path) bool {
			_, err := os.Lstat(filepath.Join(tree, filepath.FromSlash(p.Rel())))
			return err == nil
		}
		if err := db.Props().(props.Journal).Recover(context.Background(), exists); err != nil {
			t.Fatal(err)
		}
		if n := pending(t, db); n != 0 {
			t.Errorf("iteration %d: %d intents left after Recover", it, n)
		}
		checkIdentities(t, it, db, tree)
		db.Close()
		if t.Failed() {
			return
		}
	}
	t.Logf("%d iterations, %d operations", iterations, totalOps)
}

// checkIdentities asserts that each property "id" sits on an existing resource whose identity
// file names the same identity. A directory whose identity file is missing was half removed by
// a killed DELETE (RemoveAll is not atomic): it is still the resource its properties name, so
// it is accepted, but it must exist.
func checkIdentities(t *testing.T, it int, db *DB, tree string) {
	t.Helper()
	for p, ps := range allProps(t, db) {
		var id string
		for _, pr := range ps {
			if pr.Name == idProp {
				id = string(pr.Value)
			}
		}
		disk := filepath.Join(tree, filepath.FromSlash(p.Rel()))
		if _, err := os.Lstat(disk); err != nil {
			t.Errorf("iteration %d: properties of %s (identity %q) survive the resource: %v", it, p, id, err)
			continue
		}
		got, err := os.ReadFile(disk + "/id")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != id {
			t.Errorf("iteration %d: %s is resource %q but carries the properties of %q", it, p, got, id)
		}
	}
}

// allProps returns the whole props bucket.
func allProps(t testing.TB, db *DB) map[davpath.Path][]props.Property {
	t.Helper()
	out := make(map[davpath.Path][]props.Property)
	err := db.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketProps).ForEach(func(k, v []byte) error {
			p, err := keyPath(k)
			if err != nil {
				return err
			}
			ps, err := decodeProps(v)
			out[p] = ps
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pending returns the number of journal records.
func pending(t testing.TB, db *DB) int {
	t.Helper()
	var n int
	if err := db.db.View(func(tx *bbolt.Tx) error { n = tx.Bucket(bucketIntents).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
