// Package multusconfig turns SpiderMultusConfigs into Multus
// NetworkAttachmentDefinitions: Validate checks a spec, Render produces the CNI
// configuration list and annotations of the NAD, and Reconciler keeps one NAD
// per SpiderMultusConfig (same namespace and name, controlled by it) in step
// with the spec.
//
// What we render differs from Spiderpool's controller in a few deliberate
// ways, all because we do not ship the extra plugins Spiderpool chains in:
//
//   - enableCoordinator (true unless set false) chains our coordinator plugin
//     right after the main plugin of every built-in cniType, with the
//     coordinator block's settings; a custom network is the user's whole
//     chain and gets none. detectGateway and detectIPConflict are not
//     rendered into it.
//   - vlanID on macvlan and ipvlan makes the master "<master>.<vlanID>"; that
//     VLAN interface must already exist on every node (Spiderpool creates it
//     with its ifacer plugin, which we do not ship). The same holds for a bond:
//     the master becomes bond.name, which must exist; mode and options are not
//     applied.
//   - A NetworkAttachmentDefinition of the same name that this
//     SpiderMultusConfig does not control is never overwritten: the
//     reconciler reports it with a Warning event and stops.
//
// This package may import the API types (api/...), apimachinery,
// controller-runtime and client-go. It must not import the agent, the ipam or
// the store packages: rendering a network has nothing to do with allocating
// addresses.
package multusconfig
