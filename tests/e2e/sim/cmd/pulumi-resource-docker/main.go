// Command pulumi-resource-docker is the simulated docker provider plugin of the offline
// rehearsal: on $PATH under this name, the engine uses it instead of the real
// provider. It builds nothing: it hashes the build context into a digest and
// "pushes" it into the simulated registry in $GUESTBOOK_SIM_DIR.
package main

import (
	"fmt"
	"os"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

func main() {
	cloud, err := sim.OpenEnv()
	var dir string
	if err == nil {
		// The engine starts plugins in the project directory: build contexts are
		// relative to it.
		dir, err = os.Getwd()
	}
	if err == nil {
		err = sim.Serve(sim.NewDockerProvider(cloud, dir))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "simulated docker provider: %v\n", err)
		os.Exit(1)
	}
}
