package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/node"
)

// Node processes with a secret file form a ring; kv and status reach them with the same
// secret, from the file or the environment, and are refused without it, with a hint.
func TestSecretCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "ring.secret")
	short := filepath.Join(dir, "short.secret")
	const secret = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := startNode(t, "--id", "100", "--secret-file", file)
	second := startNode(t, "--id", "40000", "--join", first.addr, "--secret-file", file)
	var code int
	var stdout, stderr string
	for end := time.Now().Add(5 * time.Second); ; {
		code, stdout, stderr = dhtexp(t, "kv", second.addr, "put", "colour", "blue", "--secret-file", file)
		if code == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code != 0 {
		t.Fatalf("put: exit %d: %s%s\n%s", code, stdout, stderr, second.stderr)
	}
	for _, tc := range []struct {
		name   string
		env    string // DHTEXP_SECRET
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"get with the file", "", []string{"kv", first.addr, "get", "colour", "--secret-file", file}, 0, `value "blue"`, ""},
		{"get with the environment", secret, []string{"kv", first.addr, "get", "colour"}, 0, `value "blue"`, ""},
		{"get without a secret", "", []string{"kv", first.addr, "get", "colour"}, 2, "", "does the node want a cluster secret?"},
		{"get with another secret", "another secret, not the ring's", []string{"kv", first.addr, "get", "colour"}, 2, "", "is its secret this one?"},
		{"secret too short", "", []string{"kv", first.addr, "get", "colour", "--secret-file", short}, 2, "", "at least 16"},
		{"status counts the refusals", secret, []string{"status", first.addr}, 0, "auth      2 connections refused", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(node.SecretEnv, tc.env)
			code, stdout, stderr := dhtexp(t, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, want %d with %q on stdout and %q on stderr\nstdout: %sstderr: %s",
					code, tc.code, tc.stdout, tc.stderr, stdout, stderr)
			}
		})
	}
}
