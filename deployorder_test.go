package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

var update = flag.Bool("update", false, "rewrite docs/deploy-order.md from the program (make plan)")

// TestDeployOrderDoc fails when docs/deploy-order.md no longer shows the deploy
// order the program declares. `make plan` refreshes it and prints the waves.
func TestDeployOrderDoc(t *testing.T) {
	plan := stacktest.NewPlan(stackRun(t, "dev", true).Graph)
	prod := stacktest.NewPlan(stackRun(t, "prod", true).Graph)
	docText := stacktest.DeployOrderDoc(plan, prod)
	docPath := filepath.Join("docs", "deploy-order.md")
	if *update {
		if err := os.WriteFile(docPath, []byte(docText), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + plan.Text())
	}
	const refresh = "the program's deploy order changed; refresh it with `make plan` and review the diff"
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v: %s", err, refresh)
	}
	if diff := cmp.Diff(docText, string(doc)); diff != "" {
		t.Errorf("docs/deploy-order.md is stale: %s\n(-program +file):\n%s", refresh, diff)
	}
}

// TestImagePushDoesNotWaitForTheCluster: the build and push run while AKS is
// created, which only the whole program's graph can show (the image is the app
// layer's, the cluster the Azure layer's).
func TestImagePushDoesNotWaitForTheCluster(t *testing.T) {
	g := stackRun(t, "dev", true).Graph
	image := g.Get(t, stacktest.TypeImage, "guestbook-image")
	cluster := g.Get(t, stacktest.TypeCluster, "guestbook-aks")
	if path, ok := g.WaitsTransitively(image, cluster); ok {
		t.Errorf("the image push waits for the cluster (%s); it must run while AKS is created", stacktest.Path(path))
	}
}
