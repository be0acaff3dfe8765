package coordinator

import (
	"errors"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// retry repeats a netlink dump the kernel interrupted because the tables
// changed meanwhile (other pods of the node come and go).
func retry[T any](dump func() ([]T, error)) ([]T, error) {
	for range 5 {
		out, err := dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return dump()
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func isDefaultRoute(r *netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}

// ignoreExist treats "already there" as done: a repeated ADD finds its own
// earlier work.
func ignoreExist(err error) error {
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// ignoreGone treats "not there" as done: DEL tolerates what is already gone.
func ignoreGone(err error) error {
	if err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) ||
		errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	return err
}

// nodeAddresses are the node's own addresses the pod must reach through its
// veth: global unicast addresses of every link but loopback and the pods'
// veths.
func nodeAddresses(h *netlink.Handle) ([]netip.Addr, error) {
	links, err := retry(h.LinkList)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, l := range links {
		a := l.Attrs()
		if a.Flags&net.FlagLoopback != 0 || IsHostVeth(a.Name) {
			continue
		}
		addrs, err := retry(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			return nil, err
		}
		for _, ad := range addrs {
			if ip := addrOf(ad.IP); ip.IsGlobalUnicast() {
				out = append(out, ip)
			}
		}
	}
	return out, nil
}
