package analysis

import (
	"runtime/debug"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
)

// noVCSReason is why a binary may carry no revision: the go command stamps
// vcs.revision only when it builds a main package inside a checkout with
// -buildvcs on (the default "auto" stamps go build and go install; go run
// and go test never do, and GOFLAGS=-buildvcs=false turns it off).
const noVCSReason = "no VCS stamp in the binary (go run, go test, GOFLAGS=-buildvcs=false, or built outside a git checkout)"

// buildStamp describes the running binary from its build information:
// module path, module version and VCS revision, or why one is missing.
func buildStamp() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (the binary has no build information)"
	}
	return describeBuild(bi)
}

func describeBuild(bi *debug.BuildInfo) string {
	mod := bi.Main.Path
	if mod == "" {
		mod = bi.Path
	}
	version := bi.Main.Version
	if version == "" || version == "(devel)" {
		version = "devel"
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var b strings.Builder
	b.WriteString(orDash(mod) + " " + version)
	switch {
	case rev != "":
		b.WriteString(" at " + rev)
		if modified {
			b.WriteString(" with uncommitted changes")
		}
		if when != "" {
			b.WriteString(" (committed " + when + ")")
		}
	default:
		b.WriteString("; revision unknown: " + noVCSReason)
	}
	if bi.GoVersion != "" {
		b.WriteString(", " + bi.GoVersion)
	}
	return b.String()
}

// sweepStamp describes the binary that ran the sweep, from the manifest.
func sweepStamp(m *trace.Manifest) string {
	version := m.ToolVersion
	if version == "" || version == "(devel)" {
		version = "devel"
	}
	rev := "; revision unknown: " + noVCSReason
	if m.VCSRevision != "" {
		rev = " at " + m.VCSRevision
	}
	return version + rev + ", " + orDash(m.GoVersion)
}
