package nsmount

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Bind is one bind mount of a private view: Source (a host directory) is
// mounted over Target.
type Bind struct {
	Source string
	Target string
}

// String renders the bind as "source:target", the form ParseBind reads.
func (b Bind) String() string { return b.Source + ":" + b.Target }

// ParseBind reads "source:target".
func ParseBind(s string) (Bind, error) {
	for i := len(s) - 1; i > 0; i-- {
		if s[i] == ':' {
			b := Bind{Source: s[:i], Target: s[i+1:]}
			if b.Source == "" || b.Target == "" {
				break
			}
			return b, nil
		}
	}
	return Bind{}, fmt.Errorf("bind %q: want source:target", s)
}

// PrivateMountNS reports whether the caller's mount namespace differs from
// its parent's (the process that started it with CLONE_NEWNS), i.e. whether
// bind mounts made now stay out of the host view. When the parent is gone it
// compares with PID 1.
func PrivateMountNS() (bool, error) {
	self, err := mountNSOf("self")
	if err != nil {
		return false, err
	}
	for _, other := range []string{strconv.Itoa(os.Getppid()), "1"} {
		if ns, err := mountNSOf(other); err == nil {
			return ns != self, nil
		}
	}
	return false, fmt.Errorf("cannot read the mount namespace of the parent or of PID 1")
}

func mountNSOf(pid string) (string, error) {
	link, err := os.Readlink("/proc/" + pid + "/ns/mnt")
	if err != nil {
		return "", fmt.Errorf("read mount namespace of %s: %w", pid, err)
	}
	return link, nil
}

// ApplyBinds mounts each bind in the caller's mount namespace, which must be a
// private copy of the host's (made with CLONE_NEWNS). The mount containing each
// target is first turned into a slave, so the new mounts do not propagate back
// to the host, while mounts that are their own shared peer groups (such as
// /run/netns) keep propagating both ways.
func ApplyBinds(binds []Bind) error {
	private, err := PrivateMountNS()
	if err != nil {
		return err
	}
	if !private {
		return fmt.Errorf("refusing bind mounts in the host mount namespace")
	}
	for _, b := range binds {
		if err := applyBind(b); err != nil {
			return err
		}
	}
	return nil
}

func applyBind(b Bind) error {
	if err := os.MkdirAll(b.Source, 0o755); err != nil {
		return fmt.Errorf("create bind source %s: %w", b.Source, err)
	}
	if err := os.MkdirAll(b.Target, 0o755); err != nil {
		return fmt.Errorf("create bind target %s: %w", b.Target, err)
	}
	parent, err := MountPointOf(b.Target)
	if err != nil {
		return err
	}
	if err := unix.Mount("", parent, "none", unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make %s a slave mount: %w", parent, err)
	}
	if err := unix.Mount(b.Source, b.Target, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount %s onto %s: %w", b.Source, b.Target, err)
	}
	if err := unix.Mount("", b.Target, "none", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", b.Target, err)
	}
	return nil
}
