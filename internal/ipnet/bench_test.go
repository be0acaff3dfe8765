package ipnet

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// nearlyFullPool returns the free set of 10.0.0.0/16 and a taken set that
// holds 99% of it: every address but each 100th, and a few long runs in
// which nothing at all is left.
func nearlyFullPool(b *testing.B) (free, taken Set) {
	b.Helper()
	p := Pool{Subnet: prefix("10.0.0.0/16"), IPs: SetOf(prefix("10.0.0.0/16"))}
	free = p.Free()
	n, _ := free.CountUint64()
	var spared Set
	for i := uint64(0); i < n; i += 100 {
		if (i >= 10000 && i < 20000) || (i >= 40000 && i < 41000) {
			continue // long runs with no free address
		}
		a, _ := free.Nth(i)
		spared.Insert(a)
	}
	return free, free.Difference(spared)
}

func BenchmarkIteratorNext99PercentTaken(b *testing.B) {
	free, taken := nearlyFullPool(b)
	it := NewIterator(free, &taken, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for got := 0; got < b.N; {
		if _, ok := it.Next(); ok {
			got++
			continue
		}
		it = NewIterator(free, &taken, uint64(got)) // lap over: start another
	}
}

// BenchmarkFirstCandidate99PercentTaken measures what one allocation pays:
// a new iterator at some offset and its first candidate.
func BenchmarkFirstCandidate99PercentTaken(b *testing.B) {
	free, taken := nearlyFullPool(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		it := NewIterator(free, &taken, uint64(i)*7919)
		if _, ok := it.Next(); !ok {
			b.Fatal("no candidate")
		}
	}
}

func BenchmarkSetInsert(b *testing.B) {
	base := fromAddr(addr("10.0.0.0"))
	order := rand.New(rand.NewPCG(1, 2)).Perm(1 << 16)
	addrs := make([]netip.Addr, len(order))
	for i, k := range order {
		addrs[i] = toAddr(base.addU64(uint64(k)), 4)
	}
	// "flat" puts every range in one chunk, which is what a plain sorted
	// slice would do; it shows what chunking saves.
	for _, size := range []int{chunkMax, 1 << 30} {
		name := fmt.Sprintf("chunkMax=%d", size)
		if size == 1<<30 {
			name = "flat"
		}
		b.Run(name, func(b *testing.B) {
			withChunkMax(b, size)
			b.ReportAllocs()
			for range b.N {
				var s Set
				for _, a := range addrs {
					s.Insert(a)
				}
				if len(s.chunks) != 1 || len(s.chunks[0]) != 1 {
					b.Fatalf("set not merged into one range: %d chunks", len(s.chunks))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(addrs)), "ns/insert")
		})
	}
}

func BenchmarkFree(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var reserved Set
	for range 500 {
		reserved.Insert(toAddr(fromAddr(addr("10.0.0.0")).addU64(uint64(rng.IntN(1<<16))), 4))
	}
	p := Pool{
		Subnet:   prefix("10.0.0.0/16"),
		IPs:      SetOf(prefix("10.0.0.0/16")),
		Exclude:  set(b, "10.0.0.0-10.0.0.255", "10.0.100.0-10.0.100.127", "10.0.255.0-10.0.255.255"),
		Reserved: reserved,
		Gateway:  addr("10.0.0.1"),
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if p.Free().IsEmpty() {
			b.Fatal("empty")
		}
	}
}
