// Package webhook is the ipkeeper controller's admission webhooks: defaulting
// and validation of SpiderIPPool, SpiderSubnet, SpiderReservedIP and
// SpiderMultusConfig, with every refusal naming the field path, the bad value
// and what would be accepted. It also manages the webhook's TLS: its own CA and
// serving certificate kept in a Secret shared by all replicas, rotated before
// expiry, and the CA bundle patched into the webhook configurations it
// registers.
//
// SpiderEndpoint and IPClaim have no webhook on purpose: the node agents write
// them on the pod-start path, which must keep working while the controller is
// down.
package webhook
