package ipnet

import (
	"encoding/binary"
	"math/big"
	"math/bits"
	"net/netip"
)

// u128 is an address as an unsigned 128-bit number. IPv4 addresses use only
// the low 32 bits; the family is kept by the Set, not by each number, so that
// comparisons and arithmetic are plain integer operations.
type u128 struct{ hi, lo uint64 }

// maxU128 is the last IPv6 address; adding one to it overflows.
var maxU128 = u128{hi: ^uint64(0), lo: ^uint64(0)}

func (a u128) less(b u128) bool {
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo)
}

// inc returns a+1 and whether it wrapped around to zero.
func (a u128) inc() (u128, bool) {
	lo, c := bits.Add64(a.lo, 1, 0)
	hi, c := bits.Add64(a.hi, 0, c)
	return u128{hi: hi, lo: lo}, c != 0
}

// dec returns a-1; callers make sure a is not zero.
func (a u128) dec() u128 {
	lo, b := bits.Sub64(a.lo, 1, 0)
	return u128{hi: a.hi - b, lo: lo}
}

// sub returns a-b; callers make sure b <= a.
func (a u128) sub(b u128) u128 {
	lo, c := bits.Sub64(a.lo, b.lo, 0)
	return u128{hi: a.hi - b.hi - c, lo: lo}
}

// addU64 returns a+n; callers make sure it does not overflow.
func (a u128) addU64(n uint64) u128 {
	lo, c := bits.Add64(a.lo, n, 0)
	return u128{hi: a.hi + c, lo: lo}
}

func maxOf(a, b u128) u128 {
	if a.less(b) {
		return b
	}
	return a
}

func minOf(a, b u128) u128 {
	if a.less(b) {
		return a
	}
	return b
}

// Family returns 4 or 6 for a valid address and 0 otherwise: the one rule
// for the family of an address in ipkeeper. An IPv4-mapped
// IPv6 address is family 6, as netip treats it as distinct from plain IPv4.
func Family(a netip.Addr) int {
	switch {
	case a.Is4():
		return 4
	case a.Is6():
		return 6
	}
	return 0
}

// fromAddr converts an address to a number; any zone is ignored.
func fromAddr(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// toAddr converts a number back to an address of the given family. It does
// not allocate, which the Iterator relies on.
func toAddr(v u128, fam int) netip.Addr {
	if fam == 4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(v.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], v.hi)
	binary.BigEndian.PutUint64(b[8:], v.lo)
	return netip.AddrFrom16(b)
}

// counter adds up range sizes exactly. Three words are needed because the
// whole IPv6 space holds 2^128 addresses, one more than a u128 can hold.
type counter struct{ top, hi, lo uint64 }

// addSpan adds the number of addresses in [lo, hi].
func (c *counter) addSpan(lo, hi u128) {
	d := hi.sub(lo)
	var carry uint64
	c.lo, carry = bits.Add64(c.lo, d.lo, 0)
	c.hi, carry = bits.Add64(c.hi, d.hi, carry)
	c.top += carry
	c.lo, carry = bits.Add64(c.lo, 1, 0)
	c.hi, carry = bits.Add64(c.hi, 0, carry)
	c.top += carry
}

func (c counter) uint64() (uint64, bool) {
	return c.lo, c.top == 0 && c.hi == 0
}

func (c counter) big() *big.Int {
	n := new(big.Int).SetUint64(c.top)
	n.Lsh(n, 64).Or(n, new(big.Int).SetUint64(c.hi))
	n.Lsh(n, 64).Or(n, new(big.Int).SetUint64(c.lo))
	return n
}
