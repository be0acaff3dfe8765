// Package ipnet is the pure IP address core of ipkeeper: it parses the
// address lists found in Spiderpool custom resources (spec.ips,
// spec.excludeIPs, SpiderReservedIP addresses), keeps them as compact sets of
// address ranges, and works out which addresses a pool may hand out.
//
// Nothing here knows about Kubernetes, the network or the clock, so every
// rule can be tested exhaustively and fuzzed. To keep it that way the package
// must import only the standard library.
//
// A Set holds addresses of one family as sorted, disjoint, non-adjacent
// ranges, so its size depends on how fragmented it is, never on how many
// addresses it covers: a whole IPv6 /64 is a single range.
package ipnet
