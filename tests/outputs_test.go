package tests

import (
	"testing"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

// The whole stack's graph, outputs, secrets, invokes and image push are checked
// under the real engine by the rehearsal (make e2e, tests/e2e), on the dev stack.
// What it does not deploy is checked here, on the compiled program under mocks.

// TestClusterIPStackHasNoURL: main.go exports guestbookUrl only for a
// LoadBalancer Service.
func TestClusterIPStackHasNoURL(t *testing.T) {
	res, err := program(t).Run("dev", false, withConfig(t, map[string]string{"guestbook:serviceType": "ClusterIP"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("ClusterIP stack exited %d: %v", res.ExitCode, res.Errors())
	}
	if v, ok := res.Outputs["guestbookUrl"]; ok {
		t.Errorf("ClusterIP stack exports guestbookUrl = %v; there is no public URL", v)
	}
	svc := res.Graph.Get(t, stacktest.TypeService, "guestbook-app")
	if got, _ := stacktest.String(svc.Inputs, "spec.type"); got != "ClusterIP" {
		t.Errorf("guestbook service type = %q, want ClusterIP", got)
	}
}
