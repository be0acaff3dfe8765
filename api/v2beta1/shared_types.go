package v2beta1

// Route is one extra route a pod gets on the interface its address came from.
type Route struct {
	// dst is the destination CIDR. A default route (0.0.0.0/0, ::/0) is not
	// allowed here: the default route follows the pool's gateway.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="dst must be a CIDR such as 10.0.0.0/16"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).prefixLength() != 0",message="dst must not be a default route; the default route follows the pool's gateway"
	Dst string `json:"dst"`

	// gw is the next hop for dst.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="gw must be an IP address"
	Gw string `json:"gw"`
}

// IPVersion is the IP family of a pool, subnet or reservation: 4 or 6.
// +kubebuilder:validation:Enum=4;6
type IPVersion int64

// Condition types and reasons are set by the controller; the fields of
// metav1.Condition are used as-is.
