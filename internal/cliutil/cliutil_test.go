package cliutil

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("plain"), ExitFailure},
		{Usagef("bad %d", 1), ExitBadInput},
		{fmt.Errorf("wrapped: %w", Usage(errors.New("x"))), ExitBadInput},
		{Exit(ExitInterrupted, errors.New("stop")), ExitInterrupted},
		{cli.Exit("coder", 7), 7},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if got := Exit(1, errors.New("msg")).Error(); got != "msg" {
		t.Errorf("Exit keeps the message: got %q", got)
	}
}

// run runs a command with flags -o/--out and --n through an app of NewApp and returns what
// its action saw.
func run(t *testing.T, args ...string) (pos []string, out string, n int, err error) {
	t.Helper()
	cmd := &cli.Command{
		Name:      "cmd",
		ArgsUsage: "DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}},
			&cli.IntFlag{Name: "n", Value: 1},
		},
		Action: func(c *cli.Context) error {
			var err error
			pos, err = Interspersed(c, "a folder")
			out, n = c.String("out"), c.Int("n")
			return err
		},
	}
	var stdout, stderr bytes.Buffer
	err = NewApp("app", "test", []*cli.Command{cmd}, &stdout, &stderr).Run(append([]string{"app", "cmd"}, args...))
	return pos, out, n, err
}

func TestLateFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		out  string
		n    int
	}{
		{[]string{"a"}, []string{"a"}, "", 1},
		{[]string{"-o", "x", "a"}, []string{"a"}, "x", 1},
		{[]string{"a", "-o", "x"}, []string{"a"}, "x", 1},
		{[]string{"a", "--out", "x", "b", "--n", "3"}, []string{"a", "b"}, "x", 3},
		{[]string{"a", "b", "--n=4", "c"}, []string{"a", "b", "c"}, "", 4},
	} {
		pos, out, n, err := run(t, tc.args...)
		if err != nil || !reflect.DeepEqual(pos, tc.pos) || out != tc.out || n != tc.n {
			t.Errorf("%v: got %v out=%q n=%d err=%v, want %v out=%q n=%d", tc.args, pos, out, n, err, tc.pos, tc.out, tc.n)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "cmd needs a folder (usage: app cmd DIR)"},
		{[]string{"--n", "x"}, `invalid value "x" for flag -n`},
		{[]string{"a", "--n", "x"}, `invalid value "x" for flag -n`},
		{[]string{"a", "--nope"}, "flag provided but not defined: -nope"},
	} {
		_, _, _, err := run(t, tc.args...)
		if ExitCode(err) != ExitBadInput || err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%v: got %v (exit %d), want exit %d with %q", tc.args, err, ExitCode(err), ExitBadInput, tc.want)
		}
	}
}
