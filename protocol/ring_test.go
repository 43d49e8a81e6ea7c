package protocol

import "testing"

func TestRingBetween(t *testing.T) {
	r := Ring{Bits: 4} // IDs 0..15
	tests := []struct {
		a, x, b ID
		want    bool
	}{
		{1, 2, 5, true},
		{1, 5, 5, false},
		{1, 1, 5, false},
		{1, 0, 5, false},
		{14, 15, 2, true}, // wraps
		{14, 0, 2, true},
		{14, 1, 2, true},
		{14, 2, 2, false},
		{14, 13, 2, false},
		{7, 3, 7, true}, // single-node ring: everything else is between
		{7, 7, 7, false},
		{15, 0, 0, false},
		{0, 15, 15, false},
		{0, 14, 15, true},
	}
	for _, tt := range tests {
		if got := r.Between(tt.a, tt.x, tt.b); got != tt.want {
			t.Errorf("Between(%d,%d,%d) = %v, want %v", tt.a, tt.x, tt.b, got, tt.want)
		}
	}
}

func TestRingDistanceAndValidate(t *testing.T) {
	r := Ring{Bits: 4}
	if d := r.Distance(14, 2); d != 4 {
		t.Errorf("Distance(14,2) = %d, want 4", d)
	}
	if d := r.Distance(2, 14); d != 12 {
		t.Errorf("Distance(2,14) = %d, want 12", d)
	}
	for _, bits := range []uint{0, 63, 64} {
		if err := (Ring{Bits: bits}).Validate(); err == nil {
			t.Errorf("bits=%d accepted", bits)
		}
	}
	if !r.Contains(15) || r.Contains(16) || r.Contains(None) {
		t.Error("Contains wrong at the edge of the ring")
	}
}
