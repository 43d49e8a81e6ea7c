package protocol

// Ignorer is implemented by every Node. Ignores reports whether the node drops m unread now
// and in every later state, whatever happens meanwhile: delivering m changes nothing and
// sends nothing, so a message in flight for which it holds may as well be lost. An exhaustive
// search forgets such messages (explore's PruneIgnored), which it may do only because the
// answer, once true, stays true; the search checks that on every node transition it makes.
// Variants that do not say which messages they ignore answer false.
type Ignorer interface {
	Ignores(m Message) bool
}

func (h *host[M, P]) Ignores(m Message) bool {
	// Only the variant that defines the rule itself: repair embeds predlock-retry but reacts
	// to some of the messages predlock-retry ignores.
	if r, ok := any(h.mc()).(*retryNode); ok && !IsDHTMessage(m.Type) {
		return r.ignores(m)
	}
	return false
}

var _ Ignorer = (*host[retryNode, *retryNode])(nil)
