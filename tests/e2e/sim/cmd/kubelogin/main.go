// Command kubelogin is the rehearsal's kubelogin: on $PATH under this name, the
// Kubernetes provider runs it for a token, as the cluster's kubeconfig says. It
// answers from the simulated cloud in $GUESTBOOK_SIM_DIR (see sim.Kubelogin).
package main

import (
	"fmt"
	"os"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

func main() {
	cloud, err := sim.OpenEnv()
	if err == nil {
		err = sim.Kubelogin(cloud, os.Args[1:], os.Getenv, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
