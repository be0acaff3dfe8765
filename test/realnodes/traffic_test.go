//go:build e2e

package realnodes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// clusterRanges are the addresses only the cluster uses: the underlay (nodes,
// pods, the host's bridge address) and the Service range. A frame carrying
// one of them out of a machine interface is a leak.
var clusterRanges = []netip.Prefix{netip.MustParsePrefix("10.6.0.0/16"), netip.MustParsePrefix("10.96.0.0/16")}

// clusterNames are name suffixes only the cluster asks for; a DNS query for
// one leaving the machine is a leak (the nodes' resolver is loopback).
var clusterNames = []string{"node1", "node2", ".svc", ".cluster.local", "kubernetes.default"}

// trafficWatch captures every frame the machine sends out of its network
// devices and keeps those that belong to the cluster.
type trafficWatch struct {
	fd     int
	ifaces map[int]string // index → name: the machine's own interfaces
	done   chan struct{}
	exited chan struct{} // closed when run returns
	mu     sync.Mutex
	frames int      // outgoing frames seen on them, anyone's
	leaks  []string // the cluster's, described
	// txBefore is the interfaces' transmit counter at the start: a capture
	// that saw nothing while they sent something is broken.
	txBefore int
}

func watchTraffic(t *testing.T) *trafficWatch {
	t.Helper()
	links, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	w := &trafficWatch{ifaces: map[int]string{}, done: make(chan struct{}), exited: make(chan struct{})}
	// The machine's own interfaces are its devices (eth0 …): not loopback,
	// and not the veths and bridges of local clusters, this one's or others'
	// running alongside (their traffic stays on the machine).
	for _, l := range links {
		if _, err := os.Stat("/sys/class/net/" + l.Name + "/device"); err == nil && l.Flags&net.FlagLoopback == 0 {
			w.ifaces[l.Index] = l.Name
		}
	}
	if len(w.ifaces) == 0 {
		t.Fatal("no network device on this machine to watch")
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto)
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	tv := unix.Timeval{Usec: 200_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	w.fd = fd
	w.txBefore = w.txPackets()
	go w.run()
	return w
}

// txPackets sums the transmit counters of the machine's interfaces.
func (w *trafficWatch) txPackets() int {
	total := 0
	for _, name := range w.ifaces {
		data, _ := os.ReadFile("/sys/class/net/" + name + "/statistics/tx_packets")
		n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		total += n
	}
	return total
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (w *trafficWatch) run() {
	defer close(w.exited)
	buf := make([]byte, 65536)
	for {
		select {
		case <-w.done:
			return
		default:
		}
		n, from, err := unix.Recvfrom(w.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Pkttype != unix.PACKET_OUTGOING {
			continue
		}
		name, own := w.ifaces[ll.Ifindex]
		if !own {
			continue
		}
		w.mu.Lock()
		w.frames++
		if leak := clusterFrame(buf[:n]); leak != "" {
			w.leaks = append(w.leaks, name+": "+leak)
		}
		w.mu.Unlock()
	}
}

// stop ends the capture and returns the frames seen, what the interfaces'
// counters say they sent meanwhile, and the leaks.
func (w *trafficWatch) stop() (frames, sent int, leaks []string) {
	close(w.done)
	<-w.exited // within one receive timeout (SO_RCVTIMEO)
	_ = unix.Close(w.fd)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.frames, w.txPackets() - w.txBefore, append([]string(nil), w.leaks...)
}

// clusterFrame describes an Ethernet frame that carries a cluster address or
// a DNS query for a cluster name, or returns "".
func clusterFrame(f []byte) string {
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:14]) != unix.ETH_P_IP {
		return ""
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	src, dst := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	for _, r := range clusterRanges {
		if r.Contains(src) || r.Contains(dst) {
			return fmt.Sprintf("%s → %s (protocol %d)", src, dst, ip[9])
		}
	}
	if ip[9] != unix.IPPROTO_UDP || len(ip) < ihl+8+12 {
		return ""
	}
	udp := ip[ihl:]
	if binary.BigEndian.Uint16(udp[2:4]) != 53 {
		return ""
	}
	name := dnsName(udp[8+12:])
	for _, suffix := range clusterNames {
		if strings.HasSuffix(strings.TrimSuffix(name, "."), suffix) || strings.HasPrefix(name, suffix+".") {
			return fmt.Sprintf("DNS query for %q to %s", name, dst)
		}
	}
	return ""
}

// dnsName reads the first question's name of a DNS message body.
func dnsName(b []byte) string {
	var labels []string
	for len(b) > 0 && b[0] != 0 && int(b[0]) < len(b) {
		labels = append(labels, string(b[1:1+b[0]]))
		b = b[1+b[0]:]
	}
	return strings.Join(labels, ".")
}
