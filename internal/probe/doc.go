// Package probe checks addresses on a pod's interface before the pod is
// given them: whether another host already answers for an address (an ARP
// probe as RFC 5227 describes, IPv6 duplicate-address detection as RFC 4862
// does), whether a gateway answers at all, and it announces an address once
// it is the pod's (gratuitous ARP, unsolicited neighbour advertisement).
//
// Every frame goes out of the one interface it is given, inside the pod's
// network namespace, onto that interface's link: nothing is routed.
//
// It is linked into the CNI plugin, so it may import only the standard
// library and golang.org/x/sys.
package probe
