// Package ipampath drives a CNI IPAM plugin directly, as a kubelet would, on
// the nodes of a local cluster (test/localcluster): bare pods bound to a node
// (spec.nodeName set, marked so that the node simulator leaves them alone
// while it keeps the node Ready), then the plugin binary run with CNI ADD and
// DEL, the node's network configuration and the agent's socket, at most a
// given number of calls in flight per node. Every call is recorded with its
// addresses, error, latency and the plugin's CPU time.
//
// The IPAM-path benchmark (go run ./test/bench -ipam-path) and the chaos run
// use it. It returns errors instead of failing tests, bounds every API
// request and every plugin run with a time-out (an API server or an agent
// that is down gives errors, not hangs), and a Driver is safe for concurrent
// use.
//
// This package is test harness: no product code may import it. It may import
// the standard library, client-go, apimachinery, test/localcluster and
// test/localcluster/nodesim (for its annotation).
package ipampath

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/localcluster/nodesim"
)

// Config is what a Driver runs.
type Config struct {
	// Namespace holds the pods; it must exist.
	Namespace string
	// Plugin is the IPAM plugin binary (the spiderpool plugin, or Debian's
	// host-local).
	Plugin string
	// CNIPath is the plugin's CNI_PATH; empty: the plugin's directory.
	CNIPath string
	// NetConf renders the network configuration the plugin reads on stdin
	// for a node; nil: IpkeeperNetConf.
	NetConf func(localcluster.Node) ([]byte, error)
	// NetNS is the CNI_NETNS of a pod's calls; nil: the node's own network
	// namespace (an IPAM plugin does not enter it).
	NetNS func(*Pod) string
	// IfName is the interface of every call; empty: eth0.
	IfName string
	// Concurrency bounds the plugin runs in flight per node (a kubelet's
	// parallel pod starts); 0: unbounded.
	Concurrency int
	// CallTimeout bounds one plugin run (killed after it); 0: 30 s.
	CallTimeout time.Duration
	// APITimeout bounds one API request; 0: 10 s.
	APITimeout time.Duration
	// Annotations are set on every pod (a pool, say).
	Annotations map[string]string
}

// Defaults of the optional fields.
const (
	DefaultIfName      = "eth0"
	DefaultCallTimeout = 30 * time.Second
	DefaultAPITimeout  = 10 * time.Second
)

// Pod is one bare pod the driver made, and the sandbox its calls name.
type Pod struct {
	Namespace, Name string
	UID             types.UID
	Node            string
	// ContainerID is the sandbox of the calls (CNI_CONTAINERID); NewSandbox
	// gives the pod a new one, as a runtime does after a restart.
	ContainerID string
}

// Key is namespace/name.
func (p *Pod) Key() string { return p.Namespace + "/" + p.Name }

// Call is one plugin run.
type Call struct {
	Pod     Pod
	Op      string // "ADD" or "DEL"
	Start   time.Time
	Latency time.Duration // the plugin's run, not the wait for a slot
	// CPU is the plugin process's user and system time.
	CPU time.Duration
	// Addresses are an ADD's result.
	Addresses []netip.Prefix
	Err       error
}

// Driver runs the plugin for pods on the cluster's nodes.
type Driver struct {
	cfg   Config
	cs    kubernetes.Interface
	nodes map[string]node

	mu    sync.Mutex
	calls []Call
}

type node struct {
	localcluster.Node
	conf  []byte
	slots chan struct{} // nil: unbounded
}

// New returns a driver for the nodes (with their network configurations
// rendered once).
func New(cfg Config, cs kubernetes.Interface, nodes []localcluster.Node) (*Driver, error) {
	if cfg.Namespace == "" || cfg.Plugin == "" {
		return nil, errors.New("ipampath: namespace and plugin are required")
	}
	if cfg.NetConf == nil {
		cfg.NetConf = IpkeeperNetConf
	}
	if cfg.IfName == "" {
		cfg.IfName = DefaultIfName
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.APITimeout <= 0 {
		cfg.APITimeout = DefaultAPITimeout
	}
	d := &Driver{cfg: cfg, cs: cs, nodes: map[string]node{}}
	for _, n := range nodes {
		conf, err := cfg.NetConf(n)
		if err != nil {
			return nil, fmt.Errorf("network configuration of %s: %w", n.Name, err)
		}
		nd := node{Node: n, conf: conf}
		if cfg.Concurrency > 0 {
			nd.slots = make(chan struct{}, cfg.Concurrency)
		}
		d.nodes[n.Name] = nd
	}
	return d, nil
}

// CreatePod creates a bare pod bound to node, which the node simulator
// leaves alone.
func (d *Driver) CreatePod(ctx context.Context, nodeName, name string) (*Pod, error) {
	if _, ok := d.nodes[nodeName]; !ok {
		return nil, fmt.Errorf("no node %s in the driver", nodeName)
	}
	annotations := map[string]string{nodesim.UnmanagedAnnotation: "true"}
	for k, v := range d.cfg.Annotations {
		annotations[k] = v
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.cfg.Namespace, Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName:                      nodeName,
			TerminationGracePeriodSeconds: new(int64),
			Containers:                    []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.APITimeout)
	defer cancel()
	out, err := d.cs.CoreV1().Pods(d.cfg.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", d.cfg.Namespace, name, err)
	}
	p := &Pod{Namespace: out.Namespace, Name: out.Name, UID: out.UID, Node: nodeName}
	return p, p.NewSandbox()
}

// NewSandbox gives the pod a fresh container ID.
func (p *Pod) NewSandbox() error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("container id: %w", err)
	}
	p.ContainerID = hex.EncodeToString(b)
	return nil
}

// TerminatePod asks the API server to delete the pod gracefully: it is then
// being deleted (deletionTimestamp set), as when a kubelet runs DEL, until
// DeletePod removes it.
func (d *Driver) TerminatePod(ctx context.Context, pod *Pod) error {
	return d.deletePod(ctx, pod, 300)
}

// DeletePod removes the pod at once (grace period 0, this incarnation only);
// a pod already gone is no error.
func (d *Driver) DeletePod(ctx context.Context, pod *Pod) error {
	return d.deletePod(ctx, pod, 0)
}

func (d *Driver) deletePod(ctx context.Context, pod *Pod, grace int64) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.APITimeout)
	defer cancel()
	err := d.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", pod.Key(), err)
	}
	return nil
}

// Add runs CNI ADD for the pod's sandbox and returns its addresses.
func (d *Driver) Add(ctx context.Context, pod *Pod) ([]netip.Prefix, error) {
	c := d.call(ctx, pod, "ADD")
	return c.Addresses, c.Err
}

// Del runs CNI DEL for the pod's sandbox.
func (d *Driver) Del(ctx context.Context, pod *Pod) error {
	return d.call(ctx, pod, "DEL").Err
}

// Recorded returns how many calls have ended since the last Calls.
func (d *Driver) Recorded() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// Calls returns the calls recorded so far and forgets them.
func (d *Driver) Calls() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.calls
	d.calls = nil
	return out
}

func (d *Driver) call(ctx context.Context, pod *Pod, op string) Call {
	c := Call{Pod: *pod, Op: op}
	defer func() {
		d.mu.Lock()
		d.calls = append(d.calls, c)
		d.mu.Unlock()
	}()
	n, ok := d.nodes[pod.Node]
	if !ok {
		c.Err = fmt.Errorf("no node %s in the driver", pod.Node)
		return c
	}
	if n.slots != nil {
		select {
		case n.slots <- struct{}{}:
			defer func() { <-n.slots }()
		case <-ctx.Done():
			c.Err = fmt.Errorf("%s %s: wait for a slot on %s: %w", op, pod.Key(), pod.Node, ctx.Err())
			return c
		}
	}
	c.Start = time.Now()
	out, cpu, err := d.run(ctx, n, pod, op)
	c.Latency, c.CPU = time.Since(c.Start), cpu
	if err == nil && op == "ADD" {
		c.Addresses, err = parseResult(out)
	}
	if err != nil {
		c.Err = fmt.Errorf("%s %s on %s: %w", op, pod.Key(), pod.Node, err)
	}
	return c
}

// ForEach runs fn for every pod, each in its own goroutine (Add and Del
// bound what runs per node), and returns the errors in the pods' order.
func ForEach(ctx context.Context, pods []*Pod, fn func(context.Context, *Pod) error) []error {
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() { errs[i] = fn(ctx, p) })
	}
	wg.Wait()
	return errs
}
