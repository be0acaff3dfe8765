package ipnet

import (
	"fmt"
	"net/netip"
	"strings"
)

// accepted is appended to parse errors so that whoever wrote the bad entry
// learns what to write instead.
const accepted = `want "10.6.168.101" or "10.6.168.101-10.6.168.110"`

// Range is an inclusive range of addresses of one family, First <= Last.
type Range struct{ First, Last netip.Addr }

// String returns "10.0.0.1" when First == Last and "10.0.0.1-10.0.0.9"
// otherwise, the forms ParseRange accepts.
func (r Range) String() string {
	if r.First == r.Last {
		return r.First.String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// validate reports why r cannot be part of a Set, if it cannot.
func (r Range) validate() error {
	switch {
	case !r.First.IsValid() || !r.Last.IsValid():
		return fmt.Errorf("range %s: invalid address", r)
	case r.First.Zone() != "" || r.Last.Zone() != "":
		return fmt.Errorf("range %s: zoned addresses are not allowed", r)
	case Family(r.First) != Family(r.Last):
		return fmt.Errorf("range %s: mixes IPv4 and IPv6", r)
	case r.Last.Less(r.First):
		return fmt.Errorf("range %s: start is after its end", r)
	}
	return nil
}

// ParseRange parses one entry of an address list: a single address
// ("10.6.168.101", "fd00::1") or a range "first-last" of one family with
// first <= last. Surrounding spaces are trimmed. Zoned addresses and
// IPv4-mapped IPv6 addresses are refused: neither can be assigned to a pod
// interface, and accepting a mapped address would let one IPv4 address hide
// under two spellings.
func ParseRange(s string) (Range, error) {
	entry := strings.TrimSpace(s)
	if entry == "" {
		return Range{}, fmt.Errorf("%q: empty entry; %s", s, accepted)
	}
	// A zone may itself contain '-', so reject zones before splitting.
	if strings.Contains(entry, "%") {
		return Range{}, fmt.Errorf("%q: zoned IPv6 addresses are not allowed; drop the %%zone suffix", s)
	}
	firstText, lastText, isRange := strings.Cut(entry, "-")
	first, err := parseAddr(s, firstText)
	if err != nil {
		return Range{}, err
	}
	if !isRange {
		return Range{First: first, Last: first}, nil
	}
	last, err := parseAddr(s, lastText)
	if err != nil {
		return Range{}, err
	}
	if Family(first) != Family(last) {
		return Range{}, fmt.Errorf("%q: range mixes IPv4 and IPv6", s)
	}
	if last.Less(first) {
		return Range{}, fmt.Errorf("%q: range start is after its end; use \"first-last\" with first <= last", s)
	}
	return Range{First: first, Last: last}, nil
}

// parseAddr parses one side of an entry; entry is quoted in errors.
func parseAddr(entry, text string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(text))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q: not an IP address or range; %s", entry, accepted)
	}
	if a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q: IPv4-mapped IPv6 address %s is not allowed; write it as %s", entry, a, a.Unmap())
	}
	return a, nil
}
