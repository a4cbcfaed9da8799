package main

import "testing"

func TestFloorGCPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		base, want  int
	}{
		{5 * mb, 64 * mb, 200, 1180},   // goal 5 x 12.8 = 64 MB
		{16 * mb, 64 * mb, 100, 300},   // goal 64 MB
		{20 * mb, 64 * mb, 200, 220},   // 20 x 3.2 = 64 MB
		{30 * mb, 64 * mb, 200, 200},   // 30 x 3 already above the floor
		{100 * mb, 64 * mb, 200, 200},  // large live heap: base
		{1 * mb, 64 * mb, 200, 2000},   // capped
		{0, 64 * mb, 200, 200},         // nothing measured yet
		{5 * mb, 64 * mb, 3000, 3000},  // a base above the cap stays
		{64*mb - 1, 64 * mb, 100, 100}, // 1 byte short, base suffices
	} {
		got := floorGCPercent(tc.live, tc.floor, tc.base)
		if got != tc.want {
			t.Errorf("floorGCPercent(%d, %d, %d) = %d, want %d", tc.live, tc.floor, tc.base, got, tc.want)
		}
		if goal := tc.live * uint64(100+got) / 100; tc.live > 0 && got < maxFloorGCPercent && got > tc.base && goal < tc.floor {
			t.Errorf("live %d at %d%%: goal %d below the floor %d", tc.live, got, goal, tc.floor)
		}
	}
}
