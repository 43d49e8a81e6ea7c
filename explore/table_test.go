package explore

import (
	"math"
	"testing"
)

// The visited table keeps every fingerprint through growth, with its marks, and tells
// fingerprints apart in all but the bits it drops.
func TestFPTable(t *testing.T) {
	tab := newFPTable()
	const n = 200_000 // several doublings from 2^16 slots
	for i := uint64(0); i < n; i++ {
		fp := mix(i)
		if _, ok := tab.get(fp); ok {
			t.Fatalf("fingerprint %d found before it was stored", i)
		}
		tab.put(fp, 0)
		if i%3 == 0 {
			tab.put(fp, markDone|markReach)
		}
	}
	if tab.n != n {
		t.Fatalf("%d stored, want %d", tab.n, n)
	}
	for i := uint64(0); i < n; i++ {
		marks, ok := tab.get(mix(i))
		want := uint64(0)
		if i%3 == 0 {
			want = markDone | markReach
		}
		if !ok || marks != want {
			t.Fatalf("fingerprint %d: marks %x, found %v; want %x", i, marks, ok, want)
		}
	}
	for _, tc := range []struct {
		name   string
		a, b   uint64
		shared bool
	}{
		{"zero is stored as one", 0, 1, true},
		{"the two top bits are dropped", 5, 5 | 3<<62, true},
		{"any lower bit tells apart", 5, 5 | 1<<61, false},
	} {
		tab := newFPTable()
		tab.put(tc.a, markDone)
		if _, ok := tab.get(tc.b); ok != tc.shared {
			t.Errorf("%s: %x after %x found %v", tc.name, tc.b, tc.a, ok)
		}
	}
}

func TestFingerprintAndBound(t *testing.T) {
	keys := [][]byte{nil, {0}, {0, 0}, {1}, []byte("12345678"), []byte("123456780"), []byte("1234567"), []byte("12345678\x00")}
	seen := map[uint64]int{}
	for i, k := range keys {
		fp := fingerprint(k)
		if j, ok := seen[fp]; ok {
			t.Errorf("keys %q and %q share a fingerprint", keys[j], k)
		}
		seen[fp] = i
		if fingerprint(append([]byte(nil), k...)) != fp {
			t.Errorf("fingerprint of %q is not deterministic", k)
		}
	}
	for _, tc := range []struct {
		n    int
		want float64
	}{
		{1, 0},
		{2, 2 / math.Exp2(63)},
		{100_000_000, 1e8 * (1e8 - 1) / math.Exp2(63)}, // about 1.1e-3
	} {
		if got := collisionBound(tc.n); got != tc.want {
			t.Errorf("collisionBound(%d) = %g, want %g", tc.n, got, tc.want)
		}
	}
}
