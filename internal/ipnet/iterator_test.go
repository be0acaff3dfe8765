package ipnet

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// drain returns everything the iterator yields, failing the test if it does
// not stop within limit addresses.
func drain(t *testing.T, it *Iterator, limit int) []string {
	t.Helper()
	var out []string
	for {
		a, ok := it.Next()
		if !ok {
			break
		}
		out = append(out, a.String())
		if len(out) > limit {
			t.Fatalf("iterator did not stop after %d addresses: %v", limit, out)
		}
	}
	if a, ok := it.Next(); ok {
		t.Errorf("Next() after the end = %s", a)
	}
	return out
}

func TestIterator(t *testing.T) {
	tests := []struct {
		name   string
		free   []string
		taken  []string
		offset uint64
		want   []string
	}{
		{name: "empty free", want: nil},
		{name: "empty free, offset", offset: 7, want: nil},
		{name: "all free", free: []string{"10.0.0.1-10.0.0.4"}, want: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}},
		{name: "offset wraps around", free: []string{"10.0.0.1-10.0.0.4"}, offset: 2, want: []string{"10.0.0.3", "10.0.0.4", "10.0.0.1", "10.0.0.2"}},
		{name: "offset modulo size", free: []string{"10.0.0.1-10.0.0.4"}, offset: 9, want: []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.1"}},
		{name: "offset at last", free: []string{"10.0.0.1-10.0.0.4"}, offset: 3, want: []string{"10.0.0.4", "10.0.0.1", "10.0.0.2", "10.0.0.3"}},
		{
			name: "offset into second range", free: []string{"10.0.0.1-10.0.0.2", "10.0.0.10-10.0.0.12"}, offset: 3,
			want: []string{"10.0.0.11", "10.0.0.12", "10.0.0.1", "10.0.0.2", "10.0.0.10"},
		},
		{
			name: "taken skipped", free: []string{"10.0.0.1-10.0.0.8"}, taken: []string{"10.0.0.2-10.0.0.4", "10.0.0.7"},
			want: []string{"10.0.0.1", "10.0.0.5", "10.0.0.6", "10.0.0.8"},
		},
		{
			name: "taken run over the start", free: []string{"10.0.0.1-10.0.0.8"}, taken: []string{"10.0.0.2-10.0.0.6"}, offset: 3,
			want: []string{"10.0.0.7", "10.0.0.8", "10.0.0.1"},
		},
		{
			name: "taken run over the wrap", free: []string{"10.0.0.1-10.0.0.8"}, taken: []string{"10.0.0.0-10.0.0.2", "10.0.0.7-10.0.0.20"}, offset: 4,
			want: []string{"10.0.0.5", "10.0.0.6", "10.0.0.3", "10.0.0.4"},
		},
		{
			name: "taken run across free ranges", free: []string{"10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.7", "10.0.0.9"}, taken: []string{"10.0.0.2-10.0.0.7"},
			want: []string{"10.0.0.1", "10.0.0.9"},
		},
		{name: "all taken", free: []string{"10.0.0.1-10.0.0.8"}, taken: []string{"10.0.0.0-10.0.0.255"}, offset: 5, want: nil},
		{name: "taken of other family", free: []string{"10.0.0.1-10.0.0.2"}, taken: []string{"fd00::1"}, want: []string{"10.0.0.1", "10.0.0.2"}},
		{
			name: "v4 space end", free: []string{"255.255.255.253-255.255.255.255", "0.0.0.0"}, taken: []string{"255.255.255.254-255.255.255.255"}, offset: 2,
			want: []string{"0.0.0.0", "255.255.255.253"},
		},
		{
			name: "v6 space end", free: []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::"},
			taken: []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, offset: 2,
			want: []string{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd"},
		},
		{
			name: "v6 across 64-bit boundary", free: []string{"fd00::ffff:ffff:ffff:fffe-fd00:0:0:1::1"}, taken: []string{"fd00::ffff:ffff:ffff:ffff"},
			want: []string{"fd00::ffff:ffff:ffff:fffe", "fd00:0:0:1::", "fd00:0:0:1::1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taken := set(t, tt.taken...)
			it := NewIterator(set(t, tt.free...), &taken, tt.offset)
			if diff := cmp.Diff(tt.want, drain(t, it, 100)); diff != "" {
				t.Errorf("yielded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIteratorNilTaken(t *testing.T) {
	it := NewIterator(set(t, "10.0.0.1-10.0.0.2"), nil, 1)
	if diff := cmp.Diff([]string{"10.0.0.2", "10.0.0.1"}, drain(t, it, 10)); diff != "" {
		t.Errorf("yielded (-want +got):\n%s", diff)
	}
}

// TestIteratorTakenChanges changes the taken set between calls, as an
// allocator does, and checks that the iterator honours the current state and
// still stops after one lap.
func TestIteratorTakenChanges(t *testing.T) {
	// Every case iterates over the free set 10.0.0.1-10.0.0.5.
	tests := []struct {
		name   string
		taken  []string
		offset uint64
		// change is applied to taken after each yielded address a.
		change func(taken *Set, a netip.Addr)
		want   []string
	}{
		{
			name:   "yielded addresses taken",
			offset: 2,
			change: func(taken *Set, a netip.Addr) { taken.Insert(a) },
			want:   []string{"10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.1", "10.0.0.2"},
		},
		{
			name:   "next address taken",
			change: func(taken *Set, a netip.Addr) { taken.Insert(a.Next()) },
			want:   []string{"10.0.0.1", "10.0.0.3", "10.0.0.5"},
		},
		{
			name:   "address ahead freed",
			taken:  []string{"10.0.0.1", "10.0.0.3"},
			offset: 1,
			change: func(taken *Set, a netip.Addr) { taken.Remove(addr("10.0.0.1")) },
			// 10.0.0.1 was taken when the lap began, but is free by the
			// time the lap wraps around to it.
			want: []string{"10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.1"},
		},
		{
			name:   "address behind freed",
			taken:  []string{"10.0.0.1", "10.0.0.3"},
			offset: 2,
			change: func(taken *Set, a netip.Addr) { taken.Remove(addr("10.0.0.3")) },
			// 10.0.0.3 is freed only after the lap passed it.
			want: []string{"10.0.0.4", "10.0.0.5", "10.0.0.2"},
		},
		{
			name:   "everything taken at once",
			taken:  []string{"10.0.0.1"},
			change: func(taken *Set, a netip.Addr) { *taken = set(t, "10.0.0.0-10.0.0.255") },
			want:   []string{"10.0.0.2"},
		},
		{
			name:   "taken switches family",
			taken:  []string{"10.0.0.1", "10.0.0.3"},
			change: func(taken *Set, a netip.Addr) { *taken = set(t, "fd00::1") },
			want:   []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taken := set(t, tt.taken...)
			it := NewIterator(set(t, "10.0.0.1-10.0.0.5"), &taken, tt.offset)
			var got []string
			for {
				a, ok := it.Next()
				if !ok {
					break
				}
				got = append(got, a.String())
				if len(got) > 10 {
					t.Fatalf("did not stop: %v", got)
				}
				tt.change(&taken, a)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("yielded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIteratorFreeIsCopied(t *testing.T) {
	free := set(t, "10.0.0.1-10.0.0.3")
	it := NewIterator(free, nil, 0)
	free.Remove(addr("10.0.0.2"))
	free.Insert(addr("10.0.0.9"))
	if diff := cmp.Diff([]string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, drain(t, it, 10)); diff != "" {
		t.Errorf("yielded (-want +got):\n%s", diff)
	}
}

func TestIteratorHugeV6(t *testing.T) {
	tests := []struct {
		name   string
		free   Set
		taken  []string
		offset uint64
		want   []string
	}{
		{
			name: "offset beyond 2^32", free: SetOf(prefix("fd00::/64")), offset: 1<<40 + 1,
			taken: []string{"fd00::100:0:2-fd00::100:0:3"},
			want:  []string{"fd00::100:0:1", "fd00::100:0:4"},
		},
		{
			name: "largest offset", free: SetOf(prefix("fd00::/63")), offset: ^uint64(0),
			want: []string{"fd00::ffff:ffff:ffff:ffff", "fd00:0:0:1::"},
		},
		{
			name: "taken jumps to the wrap", free: SetOf(prefix("::/0")), offset: 5,
			taken: []string{"::6-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			want:  []string{"::5", "::", "::1", "::2", "::3", "::4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taken := set(t, tt.taken...)
			it := NewIterator(tt.free, &taken, tt.offset)
			var got []string
			for range tt.want {
				a, ok := it.Next()
				if !ok {
					break
				}
				got = append(got, a.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("yielded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIteratorNextDoesNotAllocate(t *testing.T) {
	free := SetOf(prefix("10.0.0.0/16"))
	var taken Set
	for i := uint64(0); i < 1<<16; i += 3 {
		a, _ := free.Nth(i)
		taken.Insert(a)
	}
	it := NewIterator(free, &taken, 0)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := it.Next(); !ok {
			t.Fatal("iterator ran dry")
		}
	})
	if allocs != 0 {
		t.Errorf("Next() allocates %v times per call", allocs)
	}
}
