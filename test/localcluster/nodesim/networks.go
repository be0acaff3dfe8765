package nodesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	nadv1 "github.com/ipkeeper/ipkeeper/api/nad/v1"
)

// Multus annotations the simulator honours and writes.
const (
	AnnotationNetworks       = "k8s.v1.cni.cncf.io/networks"
	AnnotationDefaultNetwork = "v1.multus-cni.io/default-network"
	AnnotationNetworkStatus  = "k8s.v1.cni.cncf.io/network-status"
)

var nadResource = nadv1.GroupVersion.WithResource("network-attachment-definitions")

// network is one attachment to make: a CNI configuration list and the pod
// interface it creates.
type network struct {
	Name     string // "ns/nad" for a NAD, else the conflist name
	IfName   string
	Default  bool
	ConfList []byte // a normalized conflist
}

// selection is one entry of the networks annotation.
type selection struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Interface string `json:"interface"`
}

// podError is a failure caused by the pod's own spec; its text is shown to the
// user in an Event.
type podError struct{ msg string }

func (e *podError) Error() string { return e.msg }

func podErrorf(format string, args ...any) error { return &podError{msg: fmt.Sprintf(format, args...)} }

// resolver turns a pod's annotations into the list of networks to attach.
type resolver struct {
	dyn     dynamic.Interface
	confDir string
}

// networks returns eth0 (default network) followed by net1 … in order.
func (r *resolver) networks(ctx context.Context, pod *corev1.Pod) ([]network, error) {
	def, err := r.defaultNetwork(ctx, pod)
	if err != nil {
		return nil, err
	}
	sels, err := parseNetworks(pod.Annotations[AnnotationNetworks], pod.Namespace)
	if err != nil {
		return nil, err
	}
	out := []network{def}
	for _, s := range sels {
		n, err := r.fromNAD(ctx, s.Namespace, s.Name, AnnotationNetworks)
		if err != nil {
			return nil, err
		}
		n.IfName = s.Interface
		out = append(out, n)
	}
	return out, nil
}

func (r *resolver) defaultNetwork(ctx context.Context, pod *corev1.Pod) (network, error) {
	if v := strings.TrimSpace(pod.Annotations[AnnotationDefaultNetwork]); v != "" {
		ns, name, ok := splitNamespacedName(v, pod.Namespace)
		if !ok {
			return network{}, podErrorf("malformed %s annotation %q: want \"name\" or \"namespace/name\"", AnnotationDefaultNetwork, v)
		}
		n, err := r.fromNAD(ctx, ns, name, AnnotationDefaultNetwork)
		n.IfName, n.Default = "eth0", true
		return n, err
	}
	conf, err := r.fromConfDir()
	if err != nil {
		return network{}, err
	}
	conf.IfName, conf.Default = "eth0", true
	return conf, nil
}

// fromConfDir loads the node's default network: the first file by name.
func (r *resolver) fromConfDir() (network, error) {
	files, err := libcni.ConfFiles(r.confDir, []string{".conf", ".conflist", ".json"})
	if err != nil {
		return network{}, fmt.Errorf("list %s: %w", r.confDir, err)
	}
	if len(files) == 0 {
		return network{}, fmt.Errorf("no network configuration in %s", r.confDir)
	}
	data, err := readFile(files[0])
	if err != nil {
		return network{}, err
	}
	list, err := normalizeConf(data, "")
	if err != nil {
		return network{}, fmt.Errorf("network configuration %s: %w", filepath.Base(files[0]), err)
	}
	name, err := confListName(list)
	return network{Name: name, ConfList: list}, err
}

func (r *resolver) fromNAD(ctx context.Context, ns, name, annotation string) (network, error) {
	u, err := r.dyn.Resource(nadResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return network{}, podErrorf("NetworkAttachmentDefinition %q named in %s not found", ns+"/"+name, annotation)
	}
	if err != nil {
		return network{}, fmt.Errorf("get NetworkAttachmentDefinition %s/%s: %w", ns, name, err)
	}
	var nad nadv1.NetworkAttachmentDefinition
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &nad); err != nil {
		return network{}, fmt.Errorf("decode NetworkAttachmentDefinition %s/%s: %w", ns, name, err)
	}
	if strings.TrimSpace(nad.Spec.Config) == "" {
		return network{}, podErrorf("NetworkAttachmentDefinition %q has no spec.config", ns+"/"+name)
	}
	list, err := normalizeConf([]byte(nad.Spec.Config), name)
	if err != nil {
		return network{}, podErrorf("NetworkAttachmentDefinition %q has an invalid spec.config: %v", ns+"/"+name, err)
	}
	return network{Name: ns + "/" + name, ConfList: list}, nil
}

// normalizeConf turns a single plugin configuration or a configuration list
// into a configuration list with a name, and checks that libcni accepts it.
func normalizeConf(data []byte, fallbackName string) ([]byte, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if _, isList := raw["plugins"]; !isList {
		raw = map[string]any{"cniVersion": raw["cniVersion"], "name": raw["name"], "plugins": []any{raw}}
	}
	if name, _ := raw["name"].(string); name == "" {
		if fallbackName == "" {
			return nil, errors.New("no name")
		}
		raw["name"] = fallbackName
	}
	out, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("encode conflist: %w", err)
	}
	if _, err := libcni.NetworkConfFromBytes(out); err != nil {
		return nil, err
	}
	return out, nil
}

func confListName(list []byte) (string, error) {
	l, err := libcni.NetworkConfFromBytes(list)
	if err != nil {
		return "", err
	}
	return l.Name, nil
}

// parseNetworks reads the networks annotation: a JSON list of
// {name, namespace, interface} or a comma list of "ns/name@ifname" entries.
// Interfaces without a name get net1, net2 … by position.
func parseNetworks(value, podNS string) ([]selection, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return nil, nil
	}
	sels, err := parseSelections(v, podNS)
	if err != nil {
		return nil, podErrorf("malformed %s annotation %q: %v", AnnotationNetworks, value, err)
	}
	seen := map[string]bool{"eth0": true}
	for i := range sels {
		if sels[i].Interface == "" {
			sels[i].Interface = fmt.Sprintf("net%d", i+1)
		}
		if err := validateSelection(sels[i]); err != nil {
			return nil, podErrorf("malformed %s annotation %q: %v", AnnotationNetworks, value, err)
		}
		if seen[sels[i].Interface] {
			return nil, podErrorf("malformed %s annotation %q: interface %s used twice", AnnotationNetworks, value, sels[i].Interface)
		}
		seen[sels[i].Interface] = true
	}
	return sels, nil
}

func parseSelections(v, podNS string) ([]selection, error) {
	if strings.HasPrefix(v, "[") {
		var sels []selection
		if err := json.Unmarshal([]byte(v), &sels); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		for i := range sels {
			if sels[i].Namespace == "" {
				sels[i].Namespace = podNS
			}
		}
		return sels, nil
	}
	var sels []selection
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		nsName, ifName, _ := strings.Cut(item, "@")
		ns, name, ok := splitNamespacedName(nsName, podNS)
		if !ok {
			return nil, fmt.Errorf("entry %q: want [namespace/]name[@interface]", item)
		}
		sels = append(sels, selection{Namespace: ns, Name: name, Interface: ifName})
	}
	return sels, nil
}

func splitNamespacedName(v, defaultNS string) (ns, name string, ok bool) {
	ns, name, found := strings.Cut(v, "/")
	if !found {
		ns, name = defaultNS, v
	}
	return ns, name, ns != "" && name != "" && !strings.Contains(name, "/")
}

func validateSelection(s selection) error {
	if errs := validation.IsDNS1123Subdomain(s.Name); len(errs) > 0 {
		return fmt.Errorf("network name %q: %s", s.Name, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Label(s.Namespace); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %s", s.Namespace, strings.Join(errs, "; "))
	}
	if len(s.Interface) > 15 || strings.ContainsAny(s.Interface, "/: \t") {
		return fmt.Errorf("interface name %q is not valid", s.Interface)
	}
	return nil
}
