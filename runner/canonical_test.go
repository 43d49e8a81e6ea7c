package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/dhtexp/dhtexp/trace"
)

// TestCanonicalSpecHashes: the file hash an earlier build recorded, in the manifest or in a
// baseline, becomes the parsed spec's hash; another hash stays as it is.
func TestCanonicalSpecHashes(t *testing.T) {
	text := "seeds = 3\n[base]\nscenario = \"random\"\n"
	spec, err := Parse("tiny.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(text))
	file := hex.EncodeToString(sum[:])
	m := &trace.Manifest{SpecPath: "tiny.toml", Spec: text, SpecHash: file}
	baseline, other := file, "0123"
	CanonicalSpecHashes(m, &baseline, &other)
	if m.SpecHash != spec.Hash || baseline != spec.Hash || other != "0123" {
		t.Fatalf("manifest %s, baseline %s, other %s; want %s, %s, 0123", m.SpecHash, baseline, other, spec.Hash, spec.Hash)
	}
}
