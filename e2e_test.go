//go:build e2e

// The offline rehearsal of the whole stack under the real Pulumi engine: `make e2e`
// and `make e2e-bench`. It lives in package main because the program under test
// is this package's run function (an Automation API inline program needs the
// function itself); the harness and the scenarios are in tests/e2e.

package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/guestbook-aks/guestbook/tests/e2e"
)

func TestRehearsal(t *testing.T) {
	e2e.Rehearse(t, run, DefaultConfig().GrantPropagation)
}

// TestDeployOrder measures; it asserts only that every deploy succeeds. The table
// it prints is the one in docs/deploy-order.md.
func TestDeployOrder(t *testing.T) {
	rows := e2e.MeasureDeployOrder(t, run, []time.Duration{0, 2 * time.Minute, 7 * time.Minute, 10 * time.Minute}, DefaultConfig().GrantPropagation)
	fmt.Println("| order | RBAC propagation | guestbook rolled out | × floor | × bound | refused pulls | AcrPull head start |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %.0f s | %.3f | %.3f | %d | %.0f s |\n",
			r.Order, r.Propagation, r.RolledOut.Seconds(), r.Ratio(), r.BoundRatio(), r.Refused, r.HeadStart.Seconds())
	}
}
