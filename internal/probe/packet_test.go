package probe

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
)

var (
	ours   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	theirs = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	addr4  = netip.MustParseAddr("10.6.168.101")
	gw4    = netip.MustParseAddr("10.6.0.1")
	addr6  = netip.MustParseAddr("fd00:6::101")
	gw6    = netip.MustParseAddr("fd00:6::1")
)

func TestARPProbeIsRFC5227(t *testing.T) {
	f := ARPProbe(ours, addr4)
	if len(f) != 42 || net.HardwareAddr(f[0:6]).String() != "ff:ff:ff:ff:ff:ff" {
		t.Fatalf("frame of %d bytes to %s: want 42 bytes, broadcast", len(f), net.HardwareAddr(f[0:6]))
	}
	a, ok := parseARP(f)
	if !ok || a.op != arpRequest || a.sha.String() != ours.String() || !a.spa.IsUnspecified() || a.tpa != addr4 {
		t.Fatalf("parsed %+v: want a request from %s, sender 0.0.0.0, target %s", a, ours, addr4)
	}
	if g, _ := parseARP(GratuitousARP(ours, addr4)); g.spa != addr4 || g.tpa != addr4 {
		t.Fatalf("gratuitous ARP %+v: want sender and target %s", g, addr4)
	}
}

// reply is what a host holding spa answers to a request from sha.
func reply(sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	return arpFrame(arpReply, tha, sha, spa, tha, tpa)
}

func TestConflictFrom(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		addr  netip.Addr
		want  bool
	}{
		{"a reply from the address (Linux answers a probe to its sender's MAC, target 0.0.0.0)", reply(theirs, addr4, ours, netip.IPv4Unspecified()), addr4, true},
		{"a gratuitous ARP of the address", GratuitousARP(theirs, addr4), addr4, true},
		{"another host probing the same address", ARPProbe(theirs, addr4), addr4, true},
		{"our own probe, looped back", ARPProbe(ours, addr4), addr4, false},
		{"a reply from another address", reply(theirs, gw4, ours, addr4), addr4, false},
		{"a request for another address", ARPProbe(theirs, gw4), addr4, false},
		{"a neighbour advertisement of the address", UnsolicitedNA(theirs, addr6), addr6, true},
		{"another host's duplicate-address detection", DADProbe(theirs, addr6), addr6, true},
		{"our own DAD, looped back", DADProbe(ours, addr6), addr6, false},
		{"a solicitation with a source: address resolution, not DAD", NeighborSolicitation(theirs, gw6, addr6), addr6, false},
		{"an advertisement of another address", UnsolicitedNA(theirs, gw6), addr6, false},
		{"an ARP frame for an IPv6 address", GratuitousARP(theirs, addr4), addr6, false},
		{"a truncated frame", GratuitousARP(theirs, addr4)[:30], addr4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mac, got := ConflictFrom(tt.frame, ours, tt.addr)
			if got != tt.want {
				t.Fatalf("conflict = %v, want %v", got, tt.want)
			}
			if got && mac.String() != theirs.String() {
				t.Fatalf("answered by %s, want %s", mac, theirs)
			}
		})
	}
}

func TestAnswerFrom(t *testing.T) {
	if _, ok := AnswerFrom(reply(theirs, gw4, ours, addr4), ours, gw4); !ok {
		t.Fatal("the gateway's ARP reply is not its answer")
	}
	if _, ok := AnswerFrom(reply(theirs, addr4, ours, gw4), ours, gw4); ok {
		t.Fatal("a reply from another address counted as the gateway's")
	}
	if _, ok := AnswerFrom(UnsolicitedNA(theirs, gw6), ours, gw6); !ok {
		t.Fatal("the gateway's advertisement is not its answer")
	}
	if _, ok := AnswerFrom(NeighborSolicitation(theirs, gw6, gw6), ours, gw6); ok {
		t.Fatal("a solicitation counted as an answer")
	}
}

func TestNeighborDiscoveryFrames(t *testing.T) {
	f := DADProbe(ours, addr6)
	if got := net.HardwareAddr(f[0:6]).String(); got != "33:33:ff:00:01:01" {
		t.Fatalf("DAD to %s, want the solicited-node group's 33:33:ff:00:01:01", got)
	}
	ip := f[ethHeaderLen:]
	if dst := netip.AddrFrom16([16]byte(ip[24:40])); dst != netip.MustParseAddr("ff02::1:ff00:101") {
		t.Fatalf("DAD to %s, want ff02::1:ff00:101", dst)
	}
	if len(ip) != ipv6HeaderLen+24 {
		t.Fatalf("DAD of %d bytes: want no option (the source is unspecified)", len(ip)-ipv6HeaderLen)
	}
	for name, frame := range map[string][]byte{"DAD": f, "NS": NeighborSolicitation(ours, addr6, gw6), "NA": UnsolicitedNA(ours, addr6)} {
		ip := frame[ethHeaderLen:]
		msg := ip[ipv6HeaderLen:]
		if int(binary.BigEndian.Uint16(ip[4:6])) != len(msg) {
			t.Errorf("%s: payload length %d, message %d bytes", name, binary.BigEndian.Uint16(ip[4:6]), len(msg))
		}
		// A correct checksum sums, with the pseudo-header, to zero.
		if sum := icmpv6Checksum([16]byte(ip[8:24]), [16]byte(ip[24:40]), msg); sum != 0 {
			t.Errorf("%s: checksum does not verify (%#04x)", name, sum)
		}
	}
	if na, _ := parseND(UnsolicitedNA(ours, addr6)); na.typ != icmpNA || na.target != addr6 || na.src != addr6 {
		t.Fatalf("unsolicited NA %+v", na)
	}
}

func FuzzParsers(f *testing.F) {
	f.Add(ARPProbe(ours, addr4))
	f.Add(DADProbe(ours, addr6))
	f.Add(UnsolicitedNA(theirs, addr6))
	f.Fuzz(func(_ *testing.T, frame []byte) {
		ConflictFrom(frame, ours, addr4)
		ConflictFrom(frame, ours, addr6)
		AnswerFrom(frame, ours, gw4)
		AnswerFrom(frame, ours, gw6)
	})
}
