package params

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the parameter table in docs/results.md")

const (
	docsPath   = "../docs/results.md"
	tableStart = "<!-- parameter table: generated from params.All; regenerate with go test ./params -run TestDocs -update -->\n"
	tableEnd   = "<!-- end of parameter table -->\n"
)

// TestDocs keeps the parameter table of docs/results.md equal to the registry's.
func TestDocs(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	before, rest, ok := strings.Cut(doc, tableStart)
	if !ok {
		t.Fatalf("%s lacks the line %q", docsPath, tableStart)
	}
	old, after, ok := strings.Cut(rest, tableEnd)
	if !ok {
		t.Fatalf("%s lacks the line %q after the table", docsPath, tableEnd)
	}
	want := Markdown()
	if old == want {
		return
	}
	if *update {
		if err := os.WriteFile(docsPath, []byte(before+tableStart+want+tableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the parameter table differs from the registry's; regenerate it with go test ./params -run TestDocs -update\nwant:\n%s", docsPath, want)
}

// Names, columns and flags are unique, and every parameter has a doc line.
func TestRegistry(t *testing.T) {
	seen := map[string]string{}
	for _, p := range All {
		for _, k := range []string{"name " + p.Name, "column " + p.Column, "flag " + p.Flag} {
			if k == "flag -" {
				continue
			}
			if other, dup := seen[k]; dup {
				t.Errorf("%s: %s also belongs to %s", p.Name, k, other)
			}
			seen[k] = p.Name
		}
		if p.Doc == "" || p.Kind == 0 {
			t.Errorf("%s: no doc or kind", p.Name)
		}
		d := Default()
		if err := p.Set(&d, p.Default()); err != nil {
			t.Errorf("%s: its default does not set: %v", p.Name, err)
		}
	}
}
