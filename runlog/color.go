package runlog

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// WantColor reads a --color mode: always, never, or auto, which colours only a terminal
// and honours NO_COLOR.
func WantColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if os.Getenv("NO_COLOR") != "" {
			return false, nil
		}
		f, ok := w.(*os.File)
		return ok && term.IsTerminal(int(f.Fd())), nil
	}
	return false, fmt.Errorf("--color must be auto, always or never, got %q", mode)
}
