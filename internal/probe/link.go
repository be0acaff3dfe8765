package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Link is one interface of a network namespace, open for probing: raw
// sockets made inside the namespace and bound to the interface, so every
// frame goes out of that interface only, whichever thread sends it.
type Link struct {
	name    string
	index   int
	mac     net.HardwareAddr
	ctl     int // a datagram socket of the namespace, for interface ioctls
	arp     int // AF_PACKET, ARP frames of the interface
	ipv6    int // AF_PACKET, IPv6 frames of the interface, all multicast
	wasDown bool
}

// Open enters the network namespace at netns, opens its interface ifName
// and brings the interface up if it is down (Close puts it back). The
// calling goroutine's thread never changes namespace: a thread of its own
// does, and goes back before anyone else may use it.
func Open(netns, ifName string) (*Link, error) {
	type result struct {
		l   *Link
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		l, back, err := openIn(netns, ifName)
		if back {
			// Only a thread back in its own namespace may serve others.
			runtime.UnlockOSThread()
		}
		done <- result{l, err}
	}()
	r := <-done
	return r.l, r.err
}

// openIn runs on a locked thread; back is false when the thread could not
// return to its namespace and must end with its goroutine.
func openIn(netns, ifName string) (l *Link, back bool, err error) {
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, true, fmt.Errorf("open own network namespace: %w", err)
	}
	defer self.Close()
	target, err := os.Open(netns)
	if err != nil {
		return nil, true, fmt.Errorf("open network namespace %s: %w", netns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("enter network namespace %s: %w", netns, err)
	}
	l, err = openLink(ifName)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		if l != nil {
			l.Close()
		}
		return nil, false, fmt.Errorf("return from network namespace %s: %w", netns, err)
	}
	if err != nil {
		return nil, true, fmt.Errorf("interface %s in %s: %w", ifName, netns, err)
	}
	return l, true, nil
}

func openLink(name string) (*Link, error) {
	ctl, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	l := &Link{name: name, ctl: ctl, arp: -1, ipv6: -1}
	if err := l.describe(); err != nil {
		l.Close()
		return nil, err
	}
	if l.arp, err = packetSocket(l.index, etherTypeARP); err != nil {
		l.Close()
		return nil, err
	}
	if l.ipv6, err = packetSocket(l.index, etherTypeIPv6); err != nil {
		l.Close()
		return nil, err
	}
	// Answers to duplicate-address detection go to all nodes (ff02::1):
	// take every multicast frame, whatever groups the interface joined.
	mreq := &unix.PacketMreq{Ifindex: int32(l.index), Type: unix.PACKET_MR_ALLMULTI}
	if err := unix.SetsockoptPacketMreq(l.ipv6, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
		l.Close()
		return nil, fmt.Errorf("receive multicast: %w", err)
	}
	if err := l.up(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// describe reads the interface's index and hardware address; it runs on
// the thread inside the namespace (the route socket it opens is that
// namespace's).
func (l *Link) describe() error {
	ifi, err := net.InterfaceByName(l.name)
	if err != nil {
		return err
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("hardware address %q: addresses can only be checked on Ethernet links", ifi.HardwareAddr)
	}
	l.index, l.mac = ifi.Index, ifi.HardwareAddr
	return nil
}

func packetSocket(index int, etherType uint16) (int, error) {
	proto := htons(etherType)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: index}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind packet socket: %w", err)
	}
	// Straight to the driver: a link just brought up has no running queue
	// until the kernel's link watcher gets to it (tens to hundreds of
	// milliseconds), but its carrier is there and frames go out at once.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bypass the queue: %w", err)
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// up sets IFF_UP when the interface is down and remembers that it was.
func (l *Link) up() error {
	ifr, err := unix.NewIfreq(l.name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(l.ctl, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	flags := ifr.Uint16()
	if flags&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(flags | unix.IFF_UP)
	if err := unix.IoctlIfreq(l.ctl, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up: %w", err)
	}
	l.wasDown = true
	return nil
}

// Close puts the interface down again if Open brought it up, and closes the
// sockets.
func (l *Link) Close() error {
	var err error
	if l.wasDown {
		ifr, e := unix.NewIfreq(l.name)
		if e == nil {
			e = unix.IoctlIfreq(l.ctl, unix.SIOCGIFFLAGS, ifr)
		}
		if e == nil {
			ifr.SetUint16(ifr.Uint16() &^ unix.IFF_UP)
			e = unix.IoctlIfreq(l.ctl, unix.SIOCSIFFLAGS, ifr)
		}
		if e != nil {
			err = fmt.Errorf("put %s down again: %w", l.name, e)
		}
	}
	for _, fd := range []int{l.arp, l.ipv6, l.ctl} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	return err
}

// MAC is the interface's hardware address.
func (l *Link) MAC() net.HardwareAddr { return l.mac }

func (l *Link) socket(a netip.Addr) int {
	if a.Is4() {
		return l.arp
	}
	return l.ipv6
}

func (l *Link) send(fd int, frame []byte) error {
	to := &unix.SockaddrLinklayer{Ifindex: l.index, Halen: 6}
	copy(to.Addr[:], frame[0:6])
	if err := unix.Sendto(fd, frame, 0, to); err != nil {
		return fmt.Errorf("send on %s: %w", l.name, err)
	}
	return nil
}

// retrySend is how soon a frame the link refused is sent again.
const retrySend = 5 * time.Millisecond

// exchange sends frame every interval until match accepts a received frame
// or wait has passed; it returns the matching frame's answer.
func (l *Link) exchange(ctx context.Context, fd int, frame []byte, interval, wait time.Duration, match func([]byte) (net.HardwareAddr, bool)) (net.HardwareAddr, bool, error) {
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	buf := make([]byte, 1600)
	next := time.Now()
	var sent int
	var sendErr error
	for {
		now := time.Now()
		if !now.Before(deadline) {
			if sent == 0 {
				// Silence is an answer only to a question that was asked.
				return nil, false, fmt.Errorf("no frame could be sent within %s: %w", wait, sendErr)
			}
			return nil, false, nil
		}
		if !now.Before(next) {
			// A link that just came up may refuse a frame for a moment
			// (ENETDOWN, or ENOBUFS before its carrier is on); the next
			// interval tries again.
			next = now.Add(interval)
			if sendErr = l.send(fd, frame); sendErr == nil {
				sent++
			} else if errors.Is(sendErr, unix.ENETDOWN) || errors.Is(sendErr, unix.ENOBUFS) {
				next = now.Add(min(interval, retrySend))
			} else {
				return nil, false, sendErr
			}
		}
		until := next
		if deadline.Before(until) {
			until = deadline
		}
		ms := int(time.Until(until).Milliseconds()) + 1
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("wait on %s: %w", l.name, err)
		}
		if n == 0 {
			continue
		}
		for {
			got, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				break
			}
			if err != nil {
				return nil, false, fmt.Errorf("receive on %s: %w", l.name, err)
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			if mac, ok := match(buf[:got]); ok {
				return mac, true, nil
			}
		}
	}
}

// Conflict probes addr for wait (ARP probe, duplicate-address detection),
// sending three probes; it returns the hardware address of the host that
// answered for it, if one did.
func (l *Link) Conflict(ctx context.Context, addr netip.Addr, wait time.Duration) (net.HardwareAddr, bool, error) {
	frame := DADProbe(l.mac, addr)
	if addr.Is4() {
		frame = ARPProbe(l.mac, addr)
	}
	return l.exchange(ctx, l.socket(addr), frame, max(wait/3, time.Millisecond), wait,
		func(f []byte) (net.HardwareAddr, bool) { return ConflictFrom(f, l.mac, addr) })
}

// Reach asks for gateway from src until it answers or wait has passed,
// every 100 ms.
func (l *Link) Reach(ctx context.Context, src, gateway netip.Addr, wait time.Duration) (bool, error) {
	frame := NeighborSolicitation(l.mac, src, gateway)
	if gateway.Is4() {
		frame = ARPRequest(l.mac, src, gateway)
	}
	_, ok, err := l.exchange(ctx, l.socket(gateway), frame, 100*time.Millisecond, wait,
		func(f []byte) (net.HardwareAddr, bool) { return AnswerFrom(f, l.mac, gateway) })
	return ok, err
}

// Announce tells the link that addr is at this interface now: a gratuitous
// ARP or an unsolicited neighbour advertisement.
func (l *Link) Announce(addr netip.Addr) error {
	frame := UnsolicitedNA(l.mac, addr)
	if addr.Is4() {
		frame = GratuitousARP(l.mac, addr)
	}
	return l.send(l.socket(addr), frame)
}
