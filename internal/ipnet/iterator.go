package ipnet

import "net/netip"

// Iterator yields candidate addresses: every address of a free set that is
// not taken, in ascending order from a starting offset, wrapping around to
// the start of the set once.
//
// The taken set belongs to the caller, who may change it between calls to
// Next, typically by inserting the address just handed out. Each call reads
// it afresh, and the iterator still stops after one lap of the free set.
type Iterator struct {
	free  Set
	taken *Set

	ci, si  int  // the free range holding v
	v       u128 // the next address to look at
	start   u128 // where the lap began; reaching it again ends the lap
	wrapped bool
	done    bool
}

// NewIterator returns an iterator over free minus *taken starting at the
// address at index offset of free, taken modulo free's size; for a free set
// of more than 2^64 addresses the offset reaches only its first 2^64. free
// is copied, so the caller may reuse it. taken may be nil, meaning nothing
// is taken; a taken set of the other family takes nothing.
func NewIterator(free Set, taken *Set, offset uint64) *Iterator {
	it := &Iterator{free: free.Clone(), taken: taken}
	if it.free.IsEmpty() {
		it.done = true
		return it
	}
	if n, ok := it.free.CountUint64(); ok {
		offset %= n
	}
	it.ci, it.si, it.v, _ = it.free.locate(offset)
	it.start = it.v
	return it
}

// Next returns the next candidate, or false once the lap is over. It does
// not allocate. A run of taken addresses is skipped with one O(log n) search
// of the taken set, not one step per address, so a nearly full pool is
// still scanned quickly.
func (it *Iterator) Next() (netip.Addr, bool) {
	for !it.done {
		if it.wrapped && !it.v.less(it.start) {
			it.done = true
			break
		}
		if run, ok := it.takenRun(); ok && !it.skipPast(run) {
			continue
		}
		a := toAddr(it.v, it.free.fam)
		it.step()
		return a, true
	}
	return netip.Addr{}, false
}

// takenRun returns the range of taken addresses holding the current one.
func (it *Iterator) takenRun() (span, bool) {
	t := it.taken
	if t == nil || t.IsEmpty() || t.fam != it.free.fam {
		return span{}, false
	}
	return t.find(it.v)
}

// step moves to the address after the current one.
func (it *Iterator) step() {
	if c := it.free.chunks[it.ci]; it.v != c[it.si].hi {
		it.v, _ = it.v.inc() // cannot overflow: v is below its range's end
		return
	}
	it.si++
	if it.si == len(it.free.chunks[it.ci]) {
		it.ci, it.si = it.ci+1, 0
	}
	if it.ci == len(it.free.chunks) {
		it.wrap()
		return
	}
	it.v = it.free.chunks[it.ci][it.si].lo
}

// skipPast moves to the first free address after a run of taken ones,
// searching the free set rather than walking it, because the run may cover
// many free ranges. It reports whether it landed on the address right after
// the run: that one is known not to be taken, as taken ranges never touch,
// so Next can hand it out without searching the taken set again.
func (it *Iterator) skipPast(run span) bool {
	after, overflow := run.hi.inc()
	if overflow {
		it.wrap()
		return false
	}
	it.ci, it.si = it.free.seek(after)
	if it.ci == len(it.free.chunks) {
		it.wrap()
		return false
	}
	if lo := it.free.chunks[it.ci][it.si].lo; after.less(lo) {
		it.v = lo
		return false
	}
	it.v = after
	// Past the lap's end the address must not be handed out again.
	return !(it.wrapped && !it.v.less(it.start))
}

// wrap goes back to the first free address, or ends the lap if it has
// already wrapped once.
func (it *Iterator) wrap() {
	if it.wrapped {
		it.done = true
		return
	}
	it.wrapped = true
	it.ci, it.si = 0, 0
	it.v = it.free.chunks[0][0].lo
}
