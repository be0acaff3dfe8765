// Command pause is the sandbox image of the local cluster's real nodes
// (containerd's sandbox_image): it holds a pod's namespaces by doing nothing,
// reaps the children that end up with it as their parent, and exits on
// SIGTERM or SIGINT. It is built into an image by `make images`; nothing is
// ever pulled. It imports only the standard library.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
