// Package autopool is the controller half of automatic pools (API.md §4): for
// every workload whose pod template carries ipam.spidernet.io/subnet or
// ipam.spidernet.io/subnets it keeps one SpiderIPPool per interface and IP
// family, carved from the named SpiderSubnet's free addresses, sized by
// ipam.spidernet.io/ippool-ip-number, resized with the workload's replicas and
// deleted with the workload unless ipam.spidernet.io/ippool-reclaim is
// "false". The node agent finds these pools by their owner-uid and interface
// labels (internal/ipam).
//
// The pure parts (annotation parsing, sizing, naming, carving) take no
// client, so they are tested without an API server. The reconciler reads
// through a controller-runtime client and, wherever an address could be
// handed out twice, through a live reader.
//
// autopool must not import the agent or the CNI plugin packages, and must not
// write pool status: the pool-status reconciler owns it.
package autopool
