package probe

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
)

// Ethernet types and the ARP and ICMPv6 constants the probes use.
const (
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd
	ethHeaderLen  = 14
	arpLen        = 28
	arpRequest    = 1
	arpReply      = 2
	ipv6HeaderLen = 40
	protoICMPv6   = 58
	icmpNS        = 135
	icmpNA        = 136
	ndOptSrcLL    = 1
	ndOptTgtLL    = 2
	naOverride    = 0x20000000
)

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodes     = netip.MustParseAddr("ff02::1")
)

func ethernet(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	b := make([]byte, 0, ethHeaderLen+len(payload))
	b = append(b, dst[:6]...)
	b = append(b, src[:6]...)
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, payload...)
}

// arpFrame is an Ethernet frame carrying one ARP packet for IPv4 over
// Ethernet; a zero target hardware address is sent as all zeros.
func arpFrame(op uint16, dst, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	p := make([]byte, 0, arpLen)
	p = binary.BigEndian.AppendUint16(p, 1)      // hardware type Ethernet
	p = binary.BigEndian.AppendUint16(p, 0x0800) // protocol IPv4
	p = append(p, 6, 4)
	p = binary.BigEndian.AppendUint16(p, op)
	p = append(p, sha[:6]...)
	s4 := spa.As4()
	p = append(p, s4[:]...)
	if tha == nil {
		tha = make(net.HardwareAddr, 6)
	}
	p = append(p, tha[:6]...)
	t4 := tpa.As4()
	p = append(p, t4[:]...)
	return ethernet(dst, sha, etherTypeARP, p)
}

// ARPProbe is RFC 5227's probe for addr: a broadcast request with sender
// address 0.0.0.0, so that no neighbour learns a mapping from it.
func ARPProbe(mac net.HardwareAddr, addr netip.Addr) []byte {
	return arpFrame(arpRequest, broadcastMAC, mac, netip.IPv4Unspecified(), nil, addr)
}

// ARPRequest asks who has target, from src.
func ARPRequest(mac net.HardwareAddr, src, target netip.Addr) []byte {
	return arpFrame(arpRequest, broadcastMAC, mac, src, nil, target)
}

// GratuitousARP announces addr at mac: a broadcast request whose sender and
// target are both addr.
func GratuitousARP(mac net.HardwareAddr, addr netip.Addr) []byte {
	return arpFrame(arpRequest, broadcastMAC, mac, addr, nil, addr)
}

// arp is one received ARP packet.
type arp struct {
	op       uint16
	sha      net.HardwareAddr
	spa, tpa netip.Addr
}

func parseARP(frame []byte) (arp, bool) {
	if len(frame) < ethHeaderLen+arpLen || binary.BigEndian.Uint16(frame[12:14]) != etherTypeARP {
		return arp{}, false
	}
	p := frame[ethHeaderLen:]
	if binary.BigEndian.Uint16(p[0:2]) != 1 || binary.BigEndian.Uint16(p[2:4]) != 0x0800 || p[4] != 6 || p[5] != 4 {
		return arp{}, false
	}
	return arp{
		op:  binary.BigEndian.Uint16(p[6:8]),
		sha: net.HardwareAddr(bytes.Clone(p[8:14])),
		spa: netip.AddrFrom4([4]byte(p[14:18])),
		tpa: netip.AddrFrom4([4]byte(p[24:28])),
	}, true
}

// solicitedNode is the solicited-node multicast group of addr and its
// Ethernet group address.
func solicitedNode(addr netip.Addr) (netip.Addr, net.HardwareAddr) {
	a := addr.As16()
	g := netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]})
	return g, multicastMAC(g)
}

func multicastMAC(group netip.Addr) net.HardwareAddr {
	g := group.As16()
	return net.HardwareAddr{0x33, 0x33, g[12], g[13], g[14], g[15]}
}

// ipv6ICMP is an Ethernet frame with one ICMPv6 message, hop limit 255 as
// neighbour discovery requires, its checksum computed.
func ipv6ICMP(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, msg []byte) []byte {
	s, d := src.As16(), dst.As16()
	binary.BigEndian.PutUint16(msg[2:4], 0)
	binary.BigEndian.PutUint16(msg[2:4], icmpv6Checksum(s, d, msg))
	h := make([]byte, 0, ipv6HeaderLen+len(msg))
	h = append(h, 0x60, 0, 0, 0)
	h = binary.BigEndian.AppendUint16(h, uint16(len(msg)))
	h = append(h, protoICMPv6, 255)
	h = append(h, s[:]...)
	h = append(h, d[:]...)
	return ethernet(dstMAC, srcMAC, etherTypeIPv6, append(h, msg...))
}

func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = protoICMPv6
	add(l[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func ndMessage(typ byte, flags uint32, target netip.Addr, optType byte, mac net.HardwareAddr) []byte {
	t := target.As16()
	m := make([]byte, 4, 32)
	m[0] = typ
	m = binary.BigEndian.AppendUint32(m, flags)
	m = append(m, t[:]...)
	if mac != nil {
		m = append(m, optType, 1)
		m = append(m, mac[:6]...)
	}
	return m
}

// DADProbe is duplicate-address detection for addr (RFC 4862): a neighbour
// solicitation from the unspecified address to addr's solicited-node group,
// with no link-layer option.
func DADProbe(mac net.HardwareAddr, addr netip.Addr) []byte {
	group, groupMAC := solicitedNode(addr)
	return ipv6ICMP(groupMAC, mac, netip.IPv6Unspecified(), group, ndMessage(icmpNS, 0, addr, 0, nil))
}

// NeighborSolicitation asks for target's link-layer address, from src.
func NeighborSolicitation(mac net.HardwareAddr, src, target netip.Addr) []byte {
	group, groupMAC := solicitedNode(target)
	return ipv6ICMP(groupMAC, mac, src, group, ndMessage(icmpNS, 0, target, ndOptSrcLL, mac))
}

// UnsolicitedNA announces addr at mac to all nodes, overriding their caches.
func UnsolicitedNA(mac net.HardwareAddr, addr netip.Addr) []byte {
	return ipv6ICMP(multicastMAC(allNodes), mac, addr, allNodes, ndMessage(icmpNA, naOverride, addr, ndOptTgtLL, mac))
}

// nd is one received neighbour solicitation or advertisement.
type nd struct {
	typ    byte
	srcMAC net.HardwareAddr
	src    netip.Addr
	target netip.Addr
}

func parseND(frame []byte) (nd, bool) {
	if len(frame) < ethHeaderLen+ipv6HeaderLen+24 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeIPv6 {
		return nd{}, false
	}
	ip := frame[ethHeaderLen:]
	if ip[0]>>4 != 6 || ip[6] != protoICMPv6 || ip[7] != 255 {
		return nd{}, false
	}
	m := ip[ipv6HeaderLen:]
	if m[0] != icmpNS && m[0] != icmpNA || m[1] != 0 {
		return nd{}, false
	}
	return nd{
		typ:    m[0],
		srcMAC: net.HardwareAddr(bytes.Clone(frame[6:12])),
		src:    netip.AddrFrom16([16]byte(ip[8:24])),
		target: netip.AddrFrom16([16]byte(m[8:24])),
	}, true
}

// ConflictFrom says whether frame shows another host using addr: an ARP
// packet sent from addr, another host's ARP probe for it, a neighbour
// advertisement for it, or another host's duplicate-address detection of
// it. It returns that host's hardware address. Frames from mac (our own,
// looped back) never count.
func ConflictFrom(frame []byte, mac net.HardwareAddr, addr netip.Addr) (net.HardwareAddr, bool) {
	if addr.Is4() {
		a, ok := parseARP(frame)
		if !ok || bytes.Equal(a.sha, mac) {
			return nil, false
		}
		probing := a.op == arpRequest && a.spa.IsUnspecified() && a.tpa == addr
		if a.spa == addr || probing {
			return a.sha, true
		}
		return nil, false
	}
	n, ok := parseND(frame)
	if !ok || bytes.Equal(n.srcMAC, mac) || n.target != addr {
		return nil, false
	}
	if n.typ == icmpNA || n.src.IsUnspecified() {
		return n.srcMAC, true
	}
	return nil, false
}

// AnswerFrom says whether frame is gateway's answer: an ARP packet sent
// from it, or a neighbour advertisement for it.
func AnswerFrom(frame []byte, mac net.HardwareAddr, gateway netip.Addr) (net.HardwareAddr, bool) {
	if gateway.Is4() {
		a, ok := parseARP(frame)
		if !ok || bytes.Equal(a.sha, mac) || a.spa != gateway {
			return nil, false
		}
		return a.sha, true
	}
	n, ok := parseND(frame)
	if !ok || bytes.Equal(n.srcMAC, mac) || n.typ != icmpNA || n.target != gateway {
		return nil, false
	}
	return n.srcMAC, true
}
