package server

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// exampleFile is the commented configuration shipped at the repository's root.
const exampleFile = "../davd.example.toml"

// TestExampleConfigLoads loads davd.example.toml as a user would (with its root and state moved
// to temporary directories) and checks a few of its values landed where it says.
func TestExampleConfigLoads(t *testing.T) {
	b, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	if err := Parse(b, &c); err != nil {
		t.Fatalf("davd.example.toml: %v", err)
	}
	if c.Limits.MaxPutBytes != 10<<30 || c.Limits.MaxXMLBytes != 1<<20 || c.Timeouts.Idle != 2*time.Minute ||
		len(c.Users) != 2 || c.Users[1].Rules[0].Path != "/bob" {
		t.Errorf("decoded %+v", c)
	}
	dir := t.TempDir()
	c.Root, c.State = filepath.Join(dir, "data"), filepath.Join(dir, "state")
	if err := c.Validate(); err != nil {
		t.Errorf("davd.example.toml does not validate: %v", err)
	}
}

// TestExampleConfigNamesEveryKey checks that every key of Config appears in
// davd.example.toml, set or commented out, so that a new key cannot be left undocumented.
func TestExampleConfigNamesEveryKey(t *testing.T) {
	b, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	keys := tomlKeys(reflect.TypeFor[Config](), "")
	if len(keys) < 30 {
		t.Fatalf("found only %d keys in Config: %v", len(keys), keys)
	}
	for _, k := range keys {
		table, name := "", k
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			table, name = k[:i], k[i+1:]
		}
		re := regexp.MustCompile(`(?m)^[#\s]*(\{\s*)?` + regexp.QuoteMeta(name) + `\s*=`)
		if !re.MatchString(doc) && !strings.Contains(doc, "{ "+name+" =") {
			t.Errorf("davd.example.toml does not name %s", k)
			continue
		}
		if table != "" && !strings.Contains(table, ".") && !strings.Contains(doc, "["+table+"]") && !strings.Contains(doc, "[["+table+"]]") {
			t.Errorf("davd.example.toml has no [%s] table for %s", table, k)
		}
	}
}

// tomlKeys lists the dotted toml keys of struct type t (embedded structs flattened).
func tomlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		tag := f.Tag.Get("toml")
		if f.Anonymous && tag == "" {
			out = append(out, tomlKeys(ft, prefix)...)
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			out = append(out, tomlKeys(ft, key+".")...)
			continue
		}
		out = append(out, key)
	}
	return out
}
