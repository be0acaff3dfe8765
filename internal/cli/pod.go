package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/config"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// PodExplanation is the answer of `kubectl ipkeeper pod`.
type PodExplanation struct {
	Namespace  string            `json:"namespace"`
	Name       string            `json:"name"`
	UID        string            `json:"uid"`
	Node       string            `json:"node,omitempty"`
	Phase      string            `json:"phase"`
	PodIPs     []string          `json:"podIPs,omitempty"`
	Interfaces []InterfaceReport `json:"interfaces"`
	// Events are the pod's address events, newest last: the agent's answer
	// (IPAllocationFailed) and the kubelet's (FailedCreatePodSandBox).
	Events []EventSummary `json:"events,omitempty"`
}

// InterfaceReport is one interface: its addresses, and the rule and pools
// that gave (or would give) them.
type InterfaceReport struct {
	Interface string         `json:"interface"`
	Network   string         `json:"network,omitempty"`
	Addresses []ClaimSummary `json:"addresses,omitempty"`
	// Rule is the selection rule that decides, as the agent applies it.
	Rule string `json:"rule,omitempty"`
	// Candidates are the pools the rule leaves, by family, with their free
	// addresses.
	Candidates []Candidate `json:"candidates,omitempty"`
	// Rejected are the pools the rule named that cannot serve, and why.
	Rejected []Rejection `json:"rejected,omitempty"`
	// Error is why no pool can be chosen (a bad annotation, no rule).
	Error string `json:"error,omitempty"`
}

// Rejection is a named pool that cannot serve the interface, and why.
type Rejection struct {
	Pool   string `json:"pool"`
	Reason string `json:"reason"`
}

// Candidate is a pool the interface may get an address from.
type Candidate struct {
	Family int    `json:"family"`
	Pool   string `json:"pool"`
	Free   string `json:"free"`
}

// EventSummary is one event of the pod.
type EventSummary struct {
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Count   int32     `json:"count"`
	Last    time.Time `json:"last"`
}

func newPodCommand(o *options) *cobra.Command {
	var confMap string
	cmd := &cobra.Command{
		Use:     "pod [NAMESPACE/]NAME",
		Aliases: []string{"explain"},
		Short:   "A pod's addresses and why; or why it has none",
		Long: `pod shows each interface of a pod: its addresses and pools, the selection
rule that decided (API.md §3, as the agent applies it), every candidate pool
with its free addresses and every named pool that was filtered out and why;
and the pod's address events, which carry the agent's own answer when the pod
got no address.`,
		Example: `  kubectl ipkeeper pod default/test-sts-0
  kubectl ipkeeper pod -n demo web-7d4b9c-x2x9q -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			ns, name, found := strings.Cut(args[0], "/")
			if !found {
				var err error
				if ns, err = o.namespace(); err != nil {
					return err
				}
				name = args[0]
			}
			c, err := o.kube()
			if err != nil {
				return err
			}
			ex, err := explainPod(cmd.Context(), c, ns, name, multusOf(cmd.Context(), c, confMap))
			if err != nil {
				return err
			}
			if done, err := o.printObject(ex); done {
				return err
			}
			return o.podText(ex)
		},
	}
	cmd.Flags().StringVar(&confMap, "config-map", defaultConfigMap,
		"NAMESPACE/NAME of ipkeeper's ConfigMap (conf.yml), for where bare network names are and the cluster default network")
	return cmd
}

// defaultConfigMap is the chart's ConfigMap with release ipkeeper in kube-system.
const defaultConfigMap = "kube-system/ipkeeper-conf"

// multusOf reads multusNamespace and clusterNetwork from ipkeeper's
// configuration, as the agents do; without it, bare names are in
// kube-system and the cluster default network is unknown.
func multusOf(ctx context.Context, c client.Client, ref string) spiderpool.Multus {
	m := spiderpool.Multus{Namespace: "kube-system"}
	ns, name, ok := strings.Cut(ref, "/")
	if !ok {
		return m
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		return m
	}
	cfg, err := config.Parse([]byte(cm.Data["conf.yml"]))
	if err != nil {
		return m
	}
	return spiderpool.Multus{Namespace: cfg.MultusNamespace, ClusterNetwork: cfg.ClusterNetwork}
}

func explainPod(ctx context.Context, c client.Client, ns, name string, m spiderpool.Multus) (*PodExplanation, error) {
	pod := &corev1.Pod{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("pod %s/%s: not found", ns, name)
		}
		return nil, fmt.Errorf("get pod %s/%s: %w", ns, name, err)
	}
	s, err := load(ctx, c, want{})
	if err != nil {
		return nil, err
	}
	namespace := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, namespace); err != nil {
		return nil, fmt.Errorf("get namespace %s: %w", ns, err)
	}
	var node *corev1.Node
	if pod.Spec.NodeName != "" {
		node = &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, node); err != nil {
			node = nil // a node that is gone: node selectors cannot match
		}
	}
	ex := &PodExplanation{Namespace: ns, Name: name, UID: string(pod.UID), Node: pod.Spec.NodeName, Phase: string(pod.Status.Phase)}
	for _, ip := range pod.Status.PodIPs {
		ex.PodIPs = append(ex.PodIPs, ip.IP)
	}
	pools := make([]*v2beta1.SpiderIPPool, len(s.Pools))
	for i := range s.Pools {
		pools[i] = &s.Pools[i]
	}
	for _, ifName := range interfacesOf(pod, s) {
		rep := InterfaceReport{Interface: ifName, Network: spiderpool.NetworkOf(pod, ifName, m)}
		for i := range s.Claims {
			cl := &s.Claims[i]
			if cl.Spec.Holder.Namespace == ns && cl.Spec.Holder.Name == name && cl.Spec.Holder.Interface == ifName {
				rep.Addresses = append(rep.Addresses, *summarize(cl))
			}
		}
		in := ipam.SelectInput{Pod: pod, Namespace: namespace, Node: node, IfName: ifName, NAD: rep.Network, Multus: m,
			AutoPools: autoPoolsOf(pod, s, ifName), Pools: pools}
		in.NetconfIPv4, in.NetconfIPv6 = netconfDefaults(ctx, c, rep.Network)
		sel, err := ipam.Select(in)
		if err != nil {
			rep.Error = err.Error()
		} else {
			rep.Rule = sel.Rule
			for _, r := range sel.Rejected {
				rep.Rejected = append(rep.Rejected, Rejection{Pool: r.Pool, Reason: r.Reason})
			}
			for _, fam := range []int{4, 6} {
				for _, p := range sel.Pools[fam] {
					row := s.poolUsage(p)
					free := "?"
					if row.Free != nil {
						free = row.Free.String()
					}
					rep.Candidates = append(rep.Candidates, Candidate{Family: fam, Pool: p.Name, Free: free})
				}
			}
		}
		ex.Interfaces = append(ex.Interfaces, rep)
	}
	events := &corev1.EventList{}
	if err := c.List(ctx, events, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list events of %s/%s: %w", ns, name, err)
	}
	for _, e := range events.Items {
		if e.InvolvedObject.Kind != "Pod" || e.InvolvedObject.Name != name || e.InvolvedObject.UID != pod.UID {
			continue
		}
		if !slices.Contains([]string{"IPAllocationFailed", "FailedCreatePodSandBox", "IPAllocated"}, e.Reason) {
			continue
		}
		last := e.LastTimestamp.Time
		if last.IsZero() {
			last = e.EventTime.Time
		}
		ex.Events = append(ex.Events, EventSummary{Reason: e.Reason, Message: e.Message, Count: e.Count, Last: last})
	}
	sort.Slice(ex.Events, func(i, j int) bool { return ex.Events[i].Last.Before(ex.Events[j].Last) })
	return ex, nil
}

// interfacesOf is eth0, then the interfaces of the pod's networks
// annotation (net1 …), then any other interface its claims name.
func interfacesOf(pod *corev1.Pod, s *state) []string {
	out := []string{"eth0"}
	for i := 1; i < spiderpool.InterfacesOf(pod); i++ {
		out = append(out, fmt.Sprintf("net%d", i))
	}
	for _, c := range s.Claims {
		if c.Spec.Holder.Namespace == pod.Namespace && c.Spec.Holder.Name == pod.Name && !slices.Contains(out, c.Spec.Holder.Interface) {
			out = append(out, c.Spec.Holder.Interface)
		}
	}
	return out
}

// autoPoolsOf finds the workload's automatic pools for ifName by their
// owner label, as the agent does.
func autoPoolsOf(pod *corev1.Pod, s *state, ifName string) map[int][]string {
	out := map[int][]string{}
	owner := ""
	for _, c := range s.Claims {
		if c.Spec.Holder.UID == pod.UID && c.Spec.Owner.UID != "" {
			owner = string(c.Spec.Owner.UID)
		}
	}
	if owner == "" {
		// No claim yet: the pod's own controller is the closest owner known
		// without walking ReplicaSets.
		owner = ownerOf(pod)
	}
	for _, p := range s.Pools {
		if owner != "" && p.Labels[spiderpool.LabelAutoPoolOwnerUID] == owner && p.Labels[spiderpool.LabelAutoPoolInterface] == ifName {
			fam := spiderpool.PoolFamily(&p)
			out[fam] = append(out[fam], p.Name)
		}
	}
	return out
}

func ownerOf(pod *corev1.Pod) string {
	for _, ref := range pod.OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			return string(ref.UID)
		}
	}
	return ""
}

// nadGVK is Multus's NetworkAttachmentDefinition.
var nadGVK = schema.GroupVersionKind{Group: "k8s.cni.cncf.io", Version: "v1", Kind: "NetworkAttachmentDefinition"}

// netconfDefaults reads the default pools of the spiderpool IPAM in a NAD's
// configuration (rule 5); nothing when the NAD is unknown or names none.
func netconfDefaults(ctx context.Context, c client.Client, nad string) (v4, v6 []string) {
	ns, name, ok := strings.Cut(nad, "/")
	if !ok {
		return nil, nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(nadGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		return nil, nil
	}
	config, _, _ := unstructured.NestedString(u.Object, "spec", "config")
	var conf struct {
		IPAM    *netconfIPAM `json:"ipam"`
		Plugins []struct {
			IPAM *netconfIPAM `json:"ipam"`
		} `json:"plugins"`
	}
	if json.Unmarshal([]byte(config), &conf) != nil {
		return nil, nil
	}
	candidates := []*netconfIPAM{conf.IPAM}
	for _, p := range conf.Plugins {
		candidates = append(candidates, p.IPAM)
	}
	for _, ip := range candidates {
		if ip != nil && ip.Type == "spiderpool" {
			return ip.DefaultIPv4, ip.DefaultIPv6
		}
	}
	return nil, nil
}

type netconfIPAM struct {
	Type        string   `json:"type"`
	DefaultIPv4 []string `json:"default_ipv4_ippool"`
	DefaultIPv6 []string `json:"default_ipv6_ippool"`
}

func (o *options) podText(ex *PodExplanation) error {
	w := o.streams.Out
	fmt.Fprintf(w, "Pod %s/%s (UID %s) on %s: %s", ex.Namespace, ex.Name, ex.UID, orNone(ex.Node), orNone(ex.Phase))
	if len(ex.PodIPs) > 0 {
		fmt.Fprintf(w, ", %s", strings.Join(ex.PodIPs, ", "))
	}
	fmt.Fprintln(w)
	for _, rep := range ex.Interfaces {
		fmt.Fprintf(w, "\n%s", rep.Interface)
		if rep.Network != "" {
			fmt.Fprintf(w, " (network %s)", rep.Network)
		}
		fmt.Fprintln(w, ":")
		if len(rep.Addresses) == 0 {
			fmt.Fprintln(w, "  addresses:  none")
		}
		for _, a := range rep.Addresses {
			fmt.Fprintf(w, "  address:    %s from pool %s, since %s\n", a.Name, a.Pool, a.Since.UTC().Format(time.RFC3339))
		}
		if rep.Error != "" {
			fmt.Fprintf(w, "  no pool can be chosen: %s\n", rep.Error)
			continue
		}
		fmt.Fprintf(w, "  rule:       %s\n", rep.Rule)
		for _, c := range rep.Candidates {
			fmt.Fprintf(w, "  candidate:  IPv%d pool %s, %s free\n", c.Family, c.Pool, c.Free)
		}
		for _, r := range rep.Rejected {
			fmt.Fprintf(w, "  filtered:   pool %s: %s\n", r.Pool, r.Reason)
		}
	}
	if len(ex.Events) > 0 {
		fmt.Fprintln(w, "\nEvents (newest last):")
		// The agent's own answer is shorter than the kubelet's wrapping of it.
		events := ex.Events
		if agent := eventsOf(events, "IPAllocationFailed", "IPAllocated"); len(agent) > 0 {
			events = agent
		}
		if len(events) > shownEvents {
			fmt.Fprintf(w, "  … %d earlier (-o yaml shows every event)\n", len(events)-shownEvents)
			events = events[len(events)-shownEvents:]
		}
		for _, e := range events {
			fmt.Fprintf(w, "  %s  %s (x%d): %s\n", e.Last.UTC().Format(time.RFC3339), e.Reason, max(e.Count, 1), e.Message)
		}
	}
	return nil
}

// eventsOf keeps the events of the given reasons.
func eventsOf(events []EventSummary, reasons ...string) []EventSummary {
	var out []EventSummary
	for _, e := range events {
		if slices.Contains(reasons, e.Reason) {
			out = append(out, e)
		}
	}
	return out
}

// shownEvents is how many of a pod's address events the text shows.
const shownEvents = 3

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
