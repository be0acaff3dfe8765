// Package coordinator is the coordinator CNI plugin, chained after the main
// plugin (macvlan, ipvlan, SR-IOV) of an underlay network. In underlay mode
// it joins the pod to its node by a veth pair and routes through it what the
// underlay cannot carry: the node's own addresses (macvlan keeps a pod from
// its master), the Service CIDR (kube-proxy runs on the node) and the
// configured hijack CIDRs, with the node routing replies back the same way.
// With several pod interfaces it gives each its own routing table, so replies
// leave by the interface their request came in on, and keeps the default
// route on one chosen interface.
//
// The configuration is the netconf (rendered from a SpiderMultusConfig's
// coordinator block) over the cluster's SpiderCoordinator, which the node's
// agent serves on its socket. What ADD makes it marks, so that DEL removes
// exactly that; ADD undoes its own steps when one fails.
//
// It imports no Kubernetes library: the plugin runs once per pod interface.
package coordinator
