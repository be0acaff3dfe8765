package nodesim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
)

// ExecInNodeView replaces the calling process with argv after giving it a
// node's view: the bind mounts are applied (the caller must already be in a
// fresh mount namespace, as the local cluster arranges with CLONE_NEWNS) and,
// when netns is set, the process enters that network namespace. It only
// returns on failure.
func ExecInNodeView(binds []nsmount.Bind, netns string, argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command")
	}
	if err := nsmount.ApplyBinds(binds); err != nil {
		return err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("find %s: %w", argv[0], err)
	}
	// execve runs on this thread, so it must be the one that enters netns.
	runtime.LockOSThread()
	if netns != "" {
		if err := enterNetNS(netns); err != nil {
			return err
		}
	}
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

func enterNetNS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter netns %s: %w", path, err)
	}
	return nil
}
