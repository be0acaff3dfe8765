package ipnet

import (
	"errors"
	"fmt"
	"net/netip"
)

// ParseSet parses a list of entries as accepted by ParseRange into a Set.
// Entries may overlap or touch; they are merged. All entries must be of one
// family. Errors name the offending entry and its 0-based index, as in
// Kubernetes field paths such as spec.ips[2].
func ParseSet(entries []string) (Set, error) {
	return parseSet(entries, func(int, string, Range) error { return nil })
}

// ParseSetIn is ParseSet for a pool's subnet: it also refuses any entry of
// another family than subnet and any entry not wholly inside it.
func ParseSetIn(entries []string, subnet netip.Prefix) (Set, error) {
	if !subnet.IsValid() {
		return Set{}, errors.New("invalid subnet")
	}
	subnet = subnet.Masked()
	subFam := Family(subnet.Addr())
	return parseSet(entries, func(i int, entry string, r Range) error {
		if fam := Family(r.First); fam != subFam {
			return fmt.Errorf("entry %d: %q is IPv%d but subnet %s is IPv%d", i, entry, fam, subnet, subFam)
		}
		// A prefix is contiguous, so holding both ends means holding the
		// whole range.
		if !subnet.Contains(r.First) || !subnet.Contains(r.Last) {
			return fmt.Errorf("entry %d: %q is not inside subnet %s", i, entry, subnet)
		}
		return nil
	})
}

// parseSet parses entries, runs check on each one and enforces a single
// family across them.
func parseSet(entries []string, check func(i int, entry string, r Range) error) (Set, error) {
	spans := make([]span, 0, len(entries))
	fam, firstIdx := 0, 0
	for i, entry := range entries {
		r, err := ParseRange(entry)
		if err != nil {
			return Set{}, fmt.Errorf("entry %d: %w", i, err)
		}
		if err := check(i, entry, r); err != nil {
			return Set{}, err
		}
		switch f := Family(r.First); {
		case fam == 0:
			fam, firstIdx = f, i
		case f != fam:
			return Set{}, fmt.Errorf("entry %d: %q is IPv%d but entry %d %q is IPv%d; a list holds one family",
				i, entry, f, firstIdx, entries[firstIdx], fam)
		}
		spans = append(spans, span{lo: fromAddr(r.First), hi: fromAddr(r.Last)})
	}
	return fromSpans(fam, normalise(spans)), nil
}
