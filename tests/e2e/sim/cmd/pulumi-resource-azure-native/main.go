// Command pulumi-resource-azure-native is the simulated azure-native provider plugin of
// the offline rehearsal: on $PATH under this name, the engine uses it instead of the
// real provider. Its Azure is the simulated cloud in $GUESTBOOK_SIM_DIR.
package main

import (
	"fmt"
	"os"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

func main() {
	cloud, err := sim.OpenEnv()
	if err == nil {
		err = sim.Serve(sim.NewAzureProvider(cloud))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "simulated azure-native provider: %v\n", err)
		os.Exit(1)
	}
}
