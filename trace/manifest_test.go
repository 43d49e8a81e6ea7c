package trace

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// format1 is a result set that a sweep wrote at manifest format 1, before this package
// owned the manifest: 8 runs at trace level messages with a DHT workload, so that it has
// every table.
const format1 = "testdata/resultset-format1"

func TestReadManifestFormat1(t *testing.T) {
	m, err := ReadManifest(format1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != 1 || m.Experiment != "format1" || m.Seeds != 2 || m.BaseSeed != 3 || len(m.Grid) != 4 ||
		m.RunsTotal != 8 || !m.Complete() || m.ExpectedRuns() != 8 || m.Shard != (Shard{0, 1, 64}) {
		t.Fatalf("manifest %+v", m)
	}
	if got := m.Params(3).String(); got != "delay.max=6ms, joiners=2" {
		t.Errorf("point 3: %s", got)
	}
	if a, ok := m.Axis("delay.max"); !ok || !a.Numeric() || a.Values[1].Kind != KindDuration || a.Values[1].Num != 6e6 {
		t.Errorf("axis delay.max: %+v", a)
	}
	level, err := m.Level()
	if err != nil || level != LevelMessages {
		t.Fatalf("level %v, %v", level, err)
	}
	// Every table file the manifest promises is there, readable, and as long as it says.
	for _, p := range m.Done {
		for _, table := range level.PartTables(&p) {
			r, err := Open(filepath.Join(format1, table, p.Part))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{TableRuns: p.Rows, TableJoins: p.Joins, TableEvents: p.Events, TableOps: p.Ops}[table]
			if r.NumRows() != want {
				t.Errorf("%s/%s: %d rows, manifest says %d", table, p.Part, r.NumRows(), want)
			}
			if table == TableRuns && r.Schema().Name != RunsSchemaName {
				t.Errorf("runs schema %q", r.Schema().Name)
			}
			r.Close()
		}
	}
}

// Writing back what was read reproduces the file byte for byte: the format's one owner
// writes what the old writers did.
func TestManifestRoundTrip(t *testing.T) {
	old, err := os.ReadFile(filepath.Join(format1, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(format1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, old) {
		t.Errorf("rewritten manifest differs:\n%s", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files left in the folder, want only the manifest", len(ents))
	}
}

// What a manifest writer killed before its rename leaves is recognised as temporary:
// WriteFileAtomic names its temporary file "." + base + ".tmp-" + random.
func TestIsManifestTemp(t *testing.T) {
	for _, tc := range []struct {
		name string
		temp bool
	}{
		{".manifest.json.tmp-123", true},
		{"manifest.json.tmp-9", true},
		{"manifest.json.tmp", true},
		{"manifest.json", false},
		{"manifest.json.bak", false},
		{".part-000001.parquet.tmp-1", false},
	} {
		if got := IsManifestTemp(tc.name); got != tc.temp {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
}

func TestReadManifestMissing(t *testing.T) {
	if _, err := ReadManifest(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
}

func TestManifestRefused(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(format1, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		if !bytes.Contains(base, []byte(old)) {
			t.Fatalf("fixture has no %q", old)
		}
		return bytes.Replace(base, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want []string // in the error, besides the file name
	}{
		{"not json", []byte("{"), []string{"not a result set manifest"}},
		{"not an object", []byte("[1]"), []string{"not a result set manifest"}},
		{"no format", edit(`"format": 1,`, ``), []string{"no format field"}},
		{"format zero", edit(`"format": 1`, `"format": 0`), []string{"field format is 0"}},
		{"format string", edit(`"format": 1`, `"format": "1"`), []string{"field format is \"1\""}},
		{"newer format", edit(`"format": 1`, `"format": 2`), []string{"manifest format 2 is newer", "format 1"}},
		{"newer format, other fields changed", edit(`"format": 1,`, `"format": 7, "seeds": "many",`), []string{"manifest format 7 is newer"}},
		{"wrong type", edit(`"seeds": 2`, `"seeds": "two"`), []string{"field seeds", "string"}},
		{"unknown level", edit(`"trace": "messages"`, `"trace": "runs"`), []string{"field trace", `"runs"`}},
		{"no seeds", edit(`"seeds": 2`, `"seeds": 0`), []string{"field seeds is 0"}},
		{"empty grid", []byte(`{"format": 1, "seeds": 1, "trace": "none", "grid": []}`), []string{"field grid", "empty"}},
		{"grid order", edit(`"point": 1`, `"point": 5`), []string{"field grid", "entry 1 has point 5"}},
		{"duplicate axis", edit(`"name": "joiners"`, `"name": "delay.max"`), []string{"field axes", "twice"}},
		{"done mismatch", edit(`"part": "part-000000.parquet"`, `"part": "part-000009.parquet"`), []string{"field done", "part-000009"}},
		{"bad value", edit(`"joiners": 1`, `"joiners": {}`), []string{"not a result set manifest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const path = "somewhere/manifest.json"
			_, err := DecodeManifest(path, tc.data)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestManifestAccepted(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		ok   func(*Manifest) bool
	}{
		// Early manifests and hand-made ones may lack parts and done: readers then glob.
		{"no parts", `{"format": 1, "seeds": 1, "trace": "none", "grid": [{"point": 0, "params": {}}]}`,
			func(m *Manifest) bool { return m.Parts == nil && m.Done == nil && m.ExpectedRuns() == 0 }},
		{"parts without done", `{"format": 1, "seeds": 1, "trace": "joins", "grid": [{"point": 0, "params": {}}], "parts": ["a"], "runs_total": 3}`,
			func(m *Manifest) bool { return len(m.Parts) == 1 && m.Done == nil && m.ExpectedRuns() == 3 }},
		{"unknown field", `{"format": 1, "seeds": 1, "trace": "messages", "grid": [{"point": 0, "params": {"x": null}}], "later": true}`,
			func(m *Manifest) bool { return m.Grid[0].Params[0].Value.Kind == KindNull }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeManifest("manifest.json", []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.ok(m) {
				t.Errorf("%+v", m)
			}
		})
	}
}

func TestValueJSON(t *testing.T) {
	for _, tc := range []struct {
		in   any
		kind ValueKind
		text string
		json string
	}{
		{int64(4), KindNumber, "4", "4"},
		{int64(1_000_000), KindNumber, "1e+06", "1000000"},
		{0.05, KindNumber, "0.05", "0.05"},
		{2.0, KindNumber, "2", "2"},
		{1e-7, KindNumber, "1e-07", "1e-7"},
		{"10ms", KindDuration, "10ms", `"10ms"`},
		{"0", KindString, "0", `"0"`},
		{"seed", KindString, "seed", `"seed"`},
		{true, KindBool, "true", "true"},
		{false, KindBool, "false", "false"},
		{nil, KindNull, "null", "null"},
	} {
		v, err := ValueOf(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := v.MarshalJSON()
		if err != nil || v.Kind != tc.kind || v.Text != tc.text || string(b) != tc.json {
			t.Errorf("%v: %+v %s %v", tc.in, v, b, err)
		}
		var back Value
		if err := back.UnmarshalJSON(b); err != nil || back != v {
			t.Errorf("%v: read back %+v, %v", tc.in, back, err)
		}
	}
	if _, err := ValueOf([]int{1}); err == nil {
		t.Error("a slice is a value")
	}
}

func TestLevelTables(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tables string
	}{{"none", "runs"}, {"joins", "runs joins"}, {"messages", "runs joins events"}} {
		l, err := ParseLevel(tc.name)
		if err != nil || l.String() != tc.name {
			t.Fatalf("%s: %v %v", tc.name, l, err)
		}
		if got := strings.Join(l.Tables(), " "); got != tc.tables {
			t.Errorf("%s: tables %s", tc.name, got)
		}
		if got := strings.Join(l.PartTables(&PartInfo{Ops: 1}), " "); got != tc.tables+" ops" {
			t.Errorf("%s: part tables %s", tc.name, got)
		}
	}
	if _, err := ParseLevel("runs"); err == nil {
		t.Error("level runs accepted")
	}
}
