package tests

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

var update = flag.Bool("update", false, "rewrite docs/deploy-order.md and the README's deploy-order graph from the program")

// TestDeployOrderDoc fails when docs/deploy-order.md, or the graph in the README,
// no longer shows the deploy order the program declares. Refresh both with
// `make plan` or `go test ./tests -run DeployOrderDoc -update`.
func TestDeployOrderDoc(t *testing.T) {
	plan := stacktest.NewPlan(stackRun(t, "dev", true).Graph)
	prod := stacktest.NewPlan(stackRun(t, "prod", true).Graph)
	docText := stacktest.DeployOrderDoc(plan, prod)

	docPath := filepath.Join(projectDir, "docs", "deploy-order.md")
	readmePath := filepath.Join(projectDir, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	wantReadme, err := plan.WithReadmeGraph(string(readme))
	if err != nil {
		t.Fatal(err)
	}

	if *update {
		if err := os.WriteFile(docPath, []byte(docText), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(readmePath, []byte(wantReadme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const refresh = "the program's deploy order changed; refresh the docs with `make plan` (or go test ./tests -run DeployOrderDoc -update) and review the diff"
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v: %s", err, refresh)
	}
	if diff := cmp.Diff(docText, string(doc)); diff != "" {
		t.Errorf("docs/deploy-order.md is stale: %s\n(-program +file):\n%s", refresh, diff)
	}
	if diff := cmp.Diff(wantReadme, string(readme)); diff != "" {
		t.Errorf("README.md's deploy-order graph is stale: %s\n(-program +file):\n%s", refresh, diff)
	}
}

func TestPlanWaves(t *testing.T) {
	plan := stacktest.NewPlan(stackRun(t, "dev", true).Graph)
	waveOf := map[string]int{}
	for i, w := range plan.Waves {
		for _, r := range w {
			waveOf[r.Name+"/"+r.Type] = i + 1
		}
	}
	w := func(typ, name string) int { return waveOf[name+"/"+typ] }
	acrPull := w(stacktest.TypeRoleAssignment, "guestbook-acr-pull")
	cluster := w(stacktest.TypeCluster, "guestbook-aks")
	image := w(stacktest.TypeImage, "guestbook-image")
	deployment := w(stacktest.TypeDeployment, "guestbook-app")
	if acrPull >= cluster {
		t.Errorf("AcrPull is in wave %d, the cluster in wave %d: the grant must be made before the cluster exists", acrPull, cluster)
	}
	if image >= cluster {
		t.Errorf("the image push is in wave %d, the cluster in wave %d: it must not wait for the cluster", image, cluster)
	}
	if deployment <= cluster || deployment <= acrPull || deployment <= image {
		t.Errorf("the deployment is in wave %d; it must come after the cluster (%d), AcrPull (%d) and the image (%d)", deployment, cluster, acrPull, image)
	}
}
