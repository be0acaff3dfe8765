package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
)

// Down stops every process of the cluster, removes its netns pins, links and
// mounts and the state files it created. It is safe to call more than once.
func (c *Cluster) Down(ctx context.Context) error {
	c.begin = time.Now()
	var errs []error
	record := func(what string, fn func() error) {
		if err := c.step(what, fn); err != nil {
			errs = append(errs, err)
		}
	}
	record("stop processes", func() error { return c.stopAll(ctx) })
	if c.st.RealNodes {
		record("remove what is left of the real nodes", func() error { return c.removeRealNodes(ctx) })
	}
	record("remove namespaces and links", c.removeNetwork)
	record("unmount leftovers", c.unmountUnderState)
	if len(errs) == 0 {
		record("remove state", c.removeState)
	}
	return errors.Join(errs...)
}

// unmountUnderState removes any mount below the state directory (none is made
// in the host view, but a crashed run could leave one).
func (c *Cluster) unmountUnderState() error {
	points, err := nsmount.MountsUnder(c.cfg.StateDir)
	if err != nil {
		return err
	}
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
	return nil
}

func (c *Cluster) removeState() error {
	for _, name := range stateFiles {
		if err := os.RemoveAll(filepath.Join(c.cfg.StateDir, name)); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	// Drop the directory itself when nothing else lives there.
	_ = os.Remove(c.cfg.StateDir)
	return nil
}

// Healthy reports nil when every recorded process runs, the API server is
// ready and every node is Ready.
func (c *Cluster) Healthy(ctx context.Context) error {
	procs, err := c.Processes()
	if err != nil {
		return err
	}
	for _, p := range procs {
		if !p.Alive() || isZombie(p.PID) {
			return fmt.Errorf("process %s (pid %d) is not running", p.Name, p.PID)
		}
	}
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("api server not ready: %w", err)
	}
	if string(body) != "ok" {
		return fmt.Errorf("api server not ready: %s", body)
	}
	for _, n := range c.st.Nodes {
		node, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get node %s: %w", n.Name, err)
		}
		if !NodeReady(node) {
			return fmt.Errorf("node %s is not Ready", n.Name)
		}
	}
	return nil
}
