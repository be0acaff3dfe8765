// Package nsmount holds the namespace and mount plumbing of the local cluster:
// named network namespaces made the way `ip netns` does (bind-mounted onto a
// file in a shared mount directory, normally /run/netns, so they outlive their
// creator and show up in every peer mount namespace), a reader of
// /proc/self/mountinfo, and the bind mounts that give each simulated node its
// private view of /etc/cni/net.d, /run/spidernet and /var/lib/cni. The local
// cluster uses it for node namespaces and the node simulator for pod sandboxes.
//
// This package may import only the standard library, golang.org/x/sys and
// github.com/vishvananda/netlink.
package nsmount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultDir is where iproute2 keeps named network namespaces.
const DefaultDir = "/run/netns"

var sharedDirs sync.Map // dir -> struct{}: directories known to be shared mounts

// Create makes a new network namespace pinned at dir/name with its loopback up
// and returns the pin's path. It fails if the name is already taken.
func Create(dir, name string) (string, error) {
	if err := ensureSharedDir(dir); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return "", fmt.Errorf("create netns pin %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close netns pin %s: %w", path, err)
	}
	if err := pinNewNS(path); err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}

// pinNewNS creates a namespace on a fresh OS thread and bind-mounts it onto
// path. The thread is never unlocked, so the runtime discards it afterwards
// instead of reusing a thread that sits in a foreign namespace.
func pinNewNS(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- unshareAndPin(path)
	}()
	return <-errc
}

func unshareAndPin(path string) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare network namespace: %w", err)
	}
	self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount netns onto %s: %w", path, err)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find loopback in %s: %w", path, err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set loopback up in %s: %w", path, err)
	}
	return nil
}

// Remove unpins dir/name (or an absolute path) and deletes the file. A missing
// pin is not an error. The namespace itself disappears with its last user.
func Remove(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil &&
		!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns pin %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns pin %s: %w", path, err)
	}
	return nil
}

// List returns the paths of the pins in dir whose names start with prefix.
func List(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// Exists reports whether path is a pinned network namespace.
func Exists(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// ensureSharedDir makes dir a mount point with shared propagation, as
// iproute2 does for /run/netns, so that pins made in one mount namespace show
// up in its peers. A file lock serialises concurrent clusters.
func ensureSharedDir(dir string) error {
	if _, ok := sharedDirs.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(dir), ".ipkeeper-netns.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open netns lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock netns dir: %w", err)
	}
	mounted, err := IsMountPoint(dir)
	if err != nil {
		return err
	}
	if !mounted {
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s onto itself: %w", dir, err)
		}
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	sharedDirs.Store(dir, struct{}{})
	return nil
}
