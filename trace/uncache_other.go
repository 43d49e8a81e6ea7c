//go:build !linux

package trace

import "os"

// uncache leaves the page cache alone where posix_fadvise is not at hand.
func uncache(*os.File) {}
