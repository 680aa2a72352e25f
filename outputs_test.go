package main

import (
	"testing"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

// The whole stack's graph, outputs, secrets, invokes and image push are checked
// under the real engine by the rehearsal (make e2e, tests/e2e), on the dev stack.
// What it does not deploy is checked here, on the program under mocks.

// TestClusterIPStackHasNoURL: main.go exports guestbookUrl only for a
// LoadBalancer Service.
func TestClusterIPStackHasNoURL(t *testing.T) {
	useFakeRegistry(t)
	res, err := stacktest.RunStack(run, "guestbook", "dev", false, stackSettings(t, "dev", map[string]string{"guestbook:serviceType": "ClusterIP"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != nil {
		t.Fatalf("ClusterIP stack failed: %v %v", res.Err, res.Errors())
	}
	if v, ok := res.Outputs["guestbookUrl"]; ok {
		t.Errorf("ClusterIP stack exports guestbookUrl = %v; there is no public URL", v)
	}
}
