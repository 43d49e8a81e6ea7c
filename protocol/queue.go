package protocol

// requestQueue is a node's FIFO of joiners whose requests wait for service. Popping advances
// a head index and the storage is reused once the queue drains, so serving requests does not
// allocate in the steady state.
type requestQueue struct {
	ids  []ID
	head int
}

func (q *requestQueue) Len() int { return len(q.ids) - q.head }

func (q *requestQueue) push(k ID) {
	if q.head > 0 && q.head == len(q.ids) {
		q.ids, q.head = q.ids[:0], 0
	}
	q.ids = append(q.ids, k)
}

// pop removes the first joiner; the queue must not be empty.
func (q *requestQueue) pop() ID {
	k := q.ids[q.head]
	q.head++
	return k
}

func (q *requestQueue) contains(k ID) bool {
	for _, x := range q.ids[q.head:] {
		if x == k {
			return true
		}
	}
	return false
}

// drain empties the queue and returns what it held (valid until the next push).
func (q *requestQueue) drain() []ID {
	rest := q.ids[q.head:]
	q.ids, q.head = q.ids[:0], 0
	return rest
}

func (q requestQueue) clone() requestQueue {
	return requestQueue{ids: append([]ID(nil), q.ids[q.head:]...)}
}

func (q *requestQueue) appendKey(b []byte) []byte {
	for _, k := range q.ids[q.head:] {
		b = appendID(b, k)
	}
	return append(b, 0xff)
}
