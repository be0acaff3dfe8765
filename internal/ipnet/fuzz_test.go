package ipnet

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"10.6.168.101", "10.6.168.101-10.6.168.110", " 10.0.0.1 - 10.0.0.2 ", "fd00::1", "fd00::1-fd00::ff",
		"10.6.168.110-10.6.168.101", "10.6.168.1-fd00::1", "foo", "", "-", "fe80::1%eth0", "::ffff:10.0.0.1",
		"0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1.2.3.4-", "10.0.0.0/24",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Errorf("error %q does not quote the entry %q", err, s)
			}
			return
		}
		if err := r.validate(); err != nil {
			t.Fatalf("ParseRange(%q) = %v, which is not a valid range: %v", s, r, err)
		}
		if r.First.Is4In6() || r.Last.Is4In6() {
			t.Fatalf("ParseRange(%q) accepted a mapped address: %v", s, r)
		}
		back, err := ParseRange(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRange(%q) = %v, but its String %q parses to %v, %v", s, r, r.String(), back, err)
		}
	})
}

func FuzzParseSet(f *testing.F) {
	for _, s := range []string{
		"10.0.0.1", "10.0.0.1,10.0.0.2,10.0.0.3", "10.0.0.5-10.0.0.9,10.0.0.1-10.0.0.6", "10.0.0.1,fd00::1",
		"fd00::1-fd00::5,fd00::7", "0.0.0.0-255.255.255.255,10.0.0.1", "255.255.255.255,0.0.0.0",
		"fd00::ffff:ffff:ffff:ffff,fd00:0:0:1::", "10.0.0.1,bad", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		entries := strings.Split(list, ",")
		s, err := ParseSet(entries)
		if err != nil {
			return
		}
		checkNormalised(t, s)
		// Every entry is in the set, and the set is the union of its entries.
		var union Set
		for _, e := range entries {
			r, err := ParseRange(e)
			if err != nil {
				t.Fatalf("ParseSet accepted %q but ParseRange refuses it: %v", e, err)
			}
			if !s.Contains(r.First) || !s.Contains(r.Last) {
				t.Fatalf("set %s lacks the ends of entry %q", s, e)
			}
			one, _ := NewSet(r)
			if union, err = union.Union(one); err != nil {
				t.Fatal(err)
			}
		}
		if !union.Equal(s) {
			t.Fatalf("ParseSet = %s, union of entries = %s", s, union)
		}
		// Range ends are members and their outer neighbours are not, which
		// is what non-adjacent means.
		for _, r := range s.Ranges() {
			if !s.Contains(r.First) || !s.Contains(r.Last) {
				t.Fatalf("set %s lacks an end of its range %s", s, r)
			}
			if p := r.First.Prev(); p.IsValid() && s.Contains(p) {
				t.Fatalf("set %s holds %s, just before its range %s", s, p, r)
			}
			if n := r.Last.Next(); n.IsValid() && s.Contains(n) {
				t.Fatalf("set %s holds %s, just after its range %s", s, n, r)
			}
		}
		back, err := ParseSet(s.Entries())
		if err != nil || !back.Equal(s) {
			t.Fatalf("Entries() %q parse to %s, %v; want %s", s.Entries(), back, err, s)
		}
		if s.Count().Cmp(back.Count()) != 0 {
			t.Fatalf("counts differ: %s vs %s", s.Count(), back.Count())
		}
	})
}

// byteReader hands out fuzz bytes, and zeros once they run out, so that any
// input decodes to something.
type byteReader []byte

func (r *byteReader) byte() byte {
	if len(*r) == 0 {
		return 0
	}
	b := (*r)[0]
	*r = (*r)[1:]
	return b
}

func (r *byteReader) uint16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }

// candidateCase is a pool decoded from fuzz bytes, kept as raw ranges of
// address numbers so that the model below does not depend on Set.
type candidateCase struct {
	fam                             int
	subnet                          netip.Prefix
	lo, hi                          u128 // the subnet's first and last address
	ips, exclude, reserved, taken   []span
	gateway                         u128
	hasGateway, takeYielded, insert bool
	chunkSize                       int // index into the chunk sizes tried
	offset                          uint64
}

// margin is how far fuzzed ranges may reach outside the subnet.
const margin = 64

func decodeCandidates(data []byte) candidateCase {
	r := byteReader(data)
	flags := r.byte()
	c := candidateCase{
		fam: 4, takeYielded: flags&2 != 0, insert: flags&4 != 0, hasGateway: flags&8 != 0,
		chunkSize: int(flags>>4) % 4,
	}
	var a [16]byte
	a[0], a[1], a[2], a[3] = 0xfd, 0, 0, 0
	raw := [4]byte{r.byte(), r.byte(), r.byte(), r.byte()}
	bits := int(r.byte() % 13) // at most 2^12 addresses, so the model stays cheap
	if flags&1 != 0 {
		c.fam = 6
		copy(a[12:], raw[:])
		c.subnet = netip.PrefixFrom(netip.AddrFrom16(a), 116+bits).Masked()
	} else {
		c.subnet = netip.PrefixFrom(netip.AddrFrom4(raw), 20+bits).Masked()
	}
	all := SetOf(c.subnet).chunks[0][0]
	c.lo, c.hi = all.lo, all.hi
	c.offset = uint64(r.uint16())
	c.gateway = c.clamp(int(r.uint16()%(1<<12+2*margin)) - margin)
	for range 32 {
		if len(r) == 0 {
			break
		}
		kind := r.byte()
		first := int(r.uint16()%(1<<12+2*margin)) - margin
		n := int(r.byte())
		if kind&0x80 != 0 {
			n *= 16 // some long ranges
		}
		sp := span{lo: c.clamp(first), hi: c.clamp(first + n)}
		switch kind % 4 {
		case 0:
			c.ips = append(c.ips, sp)
		case 1:
			c.exclude = append(c.exclude, sp)
		case 2:
			c.reserved = append(c.reserved, sp)
		case 3:
			c.taken = append(c.taken, sp)
		}
	}
	return c
}

// clamp returns the address at offset i from the subnet's start, kept
// inside the family's address space.
func (c candidateCase) clamp(i int) u128 {
	top := u128{lo: 0xffffffff}
	if c.fam == 6 {
		top = maxU128
	}
	if i < 0 {
		if c.lo.hi == 0 && c.lo.lo < uint64(-i) {
			return u128{}
		}
		return c.lo.sub(u128{lo: uint64(-i)})
	}
	if top.sub(c.lo).less(u128{lo: uint64(i)}) {
		return top
	}
	return c.lo.addU64(uint64(i))
}

func (c candidateCase) set(t *testing.T, spans []span) Set {
	var rs []Range
	for _, sp := range spans {
		rs = append(rs, Range{toAddr(sp.lo, c.fam), toAddr(sp.hi, c.fam)})
	}
	s, err := NewSet(rs...)
	if err != nil {
		t.Fatalf("NewSet(%v): %v", rs, err)
	}
	return s
}

func inAny(v u128, spans []span) bool {
	for _, sp := range spans {
		if !v.less(sp.lo) && !sp.hi.less(v) {
			return true
		}
	}
	return false
}

// model returns, in address order, the addresses the pool may hand out
// (free) and those of them not taken (want), by checking every address of
// the subnet against the raw ranges.
func (c candidateCase) model() (free, want []u128) {
	edges := c.fam == 4 && c.subnet.Bits() < 31
	for v := c.lo; ; v, _ = v.inc() {
		ok := inAny(v, c.ips) && !inAny(v, c.exclude) && !inAny(v, c.reserved) &&
			!(c.hasGateway && v == c.gateway) && !(edges && (v == c.lo || v == c.hi))
		if ok {
			free = append(free, v)
			if !inAny(v, c.taken) {
				want = append(want, v)
			}
		}
		if v == c.hi {
			return free, want
		}
	}
}

func FuzzCandidates(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 0, 12, 0, 3, 0, 1, 0, 0, 64, 255, 3, 0, 64, 10})
	f.Add([]byte{8, 10, 6, 168, 0, 8, 1, 0, 0, 65, 0, 0, 64, 255, 1, 0, 70, 5, 2, 0, 90, 2, 3, 0, 64, 100})
	f.Add([]byte{3, 1, 2, 3, 4, 12, 0, 9, 0, 0, 128, 0, 0, 255, 3, 0, 60, 20, 131, 0, 100, 3})
	f.Add([]byte{6, 255, 255, 255, 255, 2, 0, 1, 0, 0, 0, 0, 0, 200, 3, 0, 70, 1})
	f.Add([]byte{13, 255, 255, 255, 240, 12, 1, 0, 0, 0, 0, 0, 60, 100, 3, 0, 64, 3, 2, 0, 66, 1})
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0, 7, 0, 0, 128, 0, 0, 255, 3, 0, 10, 200, 3, 0, 230, 200, 1, 0, 100, 5})
	f.Add([]byte{0x1a, 10, 0, 0, 0, 12, 0, 40, 0, 70, 0, 0, 64, 255, 1, 0, 70, 0, 1, 0, 72, 0, 1, 0, 74, 0, 1, 0, 76, 0,
		1, 0, 78, 0, 2, 0, 80, 0, 3, 0, 90, 0, 3, 0, 92, 0, 3, 0, 94, 3, 3, 0, 99, 0, 3, 0, 101, 0})
	f.Add([]byte{0x35, 1, 2, 3, 4, 12, 0, 5, 0, 0, 0, 0, 60, 200, 1, 0, 65, 0, 1, 0, 67, 0, 1, 0, 69, 0, 3, 0, 66, 0, 3, 0, 70, 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := decodeCandidates(data)
		// Tiny chunks make the iterator cross chunk boundaries of both sets.
		old := chunkMax
		chunkMax = []int{old, 1, 2, 3}[c.chunkSize]
		defer func() { chunkMax = old }()
		p := Pool{Subnet: c.subnet, IPs: c.set(t, c.ips), Exclude: c.set(t, c.exclude), Reserved: c.set(t, c.reserved)}
		if c.hasGateway {
			p.Gateway = toAddr(c.gateway, c.fam)
		}
		taken := c.set(t, c.taken)
		if c.insert { // build taken one address at a time instead
			taken = Set{}
			for _, sp := range c.taken {
				for v := sp.lo; !sp.hi.less(v); v, _ = v.inc() {
					taken.Insert(toAddr(v, c.fam))
				}
			}
			checkNormalised(t, taken)
		}
		free, want := c.model()
		got := p.Free()
		checkNormalised(t, got)
		if n, _ := got.CountUint64(); n != uint64(len(free)) {
			t.Fatalf("Free() = %s holds %d addresses, want %d", got, n, len(free))
		}
		if counts := p.Counts(taken); counts.Free.Int64() != int64(len(want)) {
			t.Fatalf("Counts().Free = %s, want %d", counts.Free, len(want))
		}
		// The lap starts at free[offset mod |free|] and wraps around once.
		var order []u128
		if len(free) > 0 {
			start := free[c.offset%uint64(len(free))]
			for _, v := range want {
				if !v.less(start) {
					order = append(order, v)
				}
			}
			for _, v := range want {
				if v.less(start) {
					order = append(order, v)
				}
			}
		}
		it := NewIterator(got, &taken, c.offset)
		for i := 0; ; i++ {
			a, ok := it.Next()
			if !ok {
				if i != len(order) {
					t.Fatalf("iterator stopped after %d addresses, want %d", i, len(order))
				}
				return
			}
			if i >= len(order) {
				t.Fatalf("iterator yielded %s beyond the %d expected", a, len(order))
			}
			if want := toAddr(order[i], c.fam); a != want {
				t.Fatalf("candidate %d = %s, want %s", i, a, want)
			}
			if !c.subnet.Contains(a) || !p.IPs.Contains(a) || p.Exclude.Contains(a) || p.Reserved.Contains(a) ||
				taken.Contains(a) || (c.hasGateway && a == p.Gateway) {
				t.Fatalf("candidate %s breaks a rule of pool %+v, taken %s", a, p, taken)
			}
			if c.takeYielded {
				taken.Insert(a)
			}
		}
	})
}

// FuzzSetOps applies fuzzed operations to a Set and to a bitmap over a small
// window of addresses, including windows at the ends of the address spaces
// and across the 64-bit boundary of IPv6 numbers, with tiny chunks.
func FuzzSetOps(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 10, 0, 0, 11, 0, 0, 12, 1, 0, 11})
	f.Add([]byte{1, 2, 0, 0, 0, 0, 1, 255, 2, 3, 0, 255, 0, 0, 4, 0, 10, 20, 5, 0, 0})
	f.Add([]byte{2, 3, 0, 0, 200, 0, 0, 201, 3, 0, 100, 255, 4, 1, 0, 10})
	f.Add([]byte{3, 1, 1, 255, 0, 1, 254, 0, 1, 253, 1, 1, 254, 2, 1, 200, 100})
	bases := []string{"10.0.0.0", "255.255.254.0", "fd00::ffff:ffff:ffff:ff00", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fe00"}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := byteReader(data)
		head := r.byte()
		base := addr(bases[head%4])
		fam, b := Family(base), fromAddr(base)
		old := chunkMax
		chunkMax = 1 + int(head>>2)%4
		defer func() { chunkMax = old }()

		const window = 512
		var model [window]bool
		var s Set
		at := func(i int) netip.Addr { return toAddr(b.addU64(uint64(i)), fam) }
		for len(r) > 0 {
			op := r.byte()
			i := int(r.uint16() % window)
			n := min(int(r.byte()), window-1-i)
			other, _ := NewSet(Range{at(i), at(i + n)})
			switch op % 6 {
			case 0, 1:
				s.Insert(at(i))
				model[i] = true
			case 2:
				s.Remove(at(i))
				model[i] = false
			case 3:
				var err error
				if s, err = s.Union(other); err != nil {
					t.Fatal(err)
				}
				for j := i; j <= i+n; j++ {
					model[j] = true
				}
			case 4:
				s = s.Difference(other)
				for j := i; j <= i+n; j++ {
					model[j] = false
				}
			case 5:
				s = s.Intersect(other)
				for j := range model {
					model[j] = model[j] && j >= i && j <= i+n
				}
			}
		}
		checkNormalised(t, s)
		var members []int
		for j, in := range model {
			if s.Contains(at(j)) != in {
				t.Fatalf("Contains(%s) = %v, want %v; set %s", at(j), !in, in, s)
			}
			if in {
				members = append(members, j)
			}
		}
		if n, _ := s.CountUint64(); n != uint64(len(members)) {
			t.Fatalf("Count() = %d, want %d", n, len(members))
		}
		for k, j := range members {
			if a, ok := s.Nth(uint64(k)); !ok || a != at(j) {
				t.Fatalf("Nth(%d) = %s, %v; want %s", k, a, ok, at(j))
			}
		}
		if _, ok := s.Nth(uint64(len(members))); ok {
			t.Fatalf("Nth past the end succeeded")
		}
		half := s.Take(uint64(len(members) / 2))
		if n, _ := half.CountUint64(); n != uint64(len(members)/2) || !half.Difference(s).IsEmpty() {
			t.Fatalf("Take(%d) = %s from %s", len(members)/2, half, s)
		}
	})
}
