// Command pause is the lab's pod sandbox ("pause") process: it holds the pod's namespaces,
// reaps zombies when it is PID 1, and exits on SIGINT/SIGTERM. Built by build.sh, packed into
// an OCI image by node.sh and imported into containerd; nothing is pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		switch s {
		case syscall.SIGCHLD:
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		default:
			os.Exit(0)
		}
	}
}
