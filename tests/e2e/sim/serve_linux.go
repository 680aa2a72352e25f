// serve_linux.go: a plugin dies with the pulumi CLI that started it.

package sim

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// dieWithParent asks the kernel to SIGKILL this process when its parent dies. The
// engine starts plugins in process groups of their own, so a SIGKILLed CLI would
// otherwise leave them running, holding the simulated cloud's files.
func dieWithParent() error {
	parent := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", err)
	}
	// The parent may have died before the request took effect.
	if parent == 1 || os.Getppid() != parent {
		os.Exit(1)
	}
	return nil
}
