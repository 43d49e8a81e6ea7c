package explore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dhtexp/dhtexp/protocol"
)

// ParseIDs reads a comma-separated list of ring IDs, as --members and --joiners take it;
// empty items are skipped.
func ParseIDs(s string) ([]protocol.ID, error) {
	var ids []protocol.ID
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an ID", f)
		}
		ids = append(ids, protocol.ID(v))
	}
	return ids, nil
}
