package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

// TestWorkloadPassesKubeScore lints the Kubernetes objects each stack declares
// with kube-score (pinned in go.mod as a tool) and fails on any critical finding.
// Where the workload deliberately differs from an optional kube-score check, the
// reason is a comment at the setting in app/.
func TestWorkloadPassesKubeScore(t *testing.T) {
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) { kubeScore(t, stack) })
	}
}

func kubeScore(t *testing.T, stack string) {
	manifests, err := stackRun(t, stack, false).Graph.ManifestsYAML()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(manifests), "\n---\n") + 1; n < 10 {
		t.Fatalf("rendered %d objects, want the whole workload", n)
	}
	file := filepath.Join(t.TempDir(), "guestbook.yaml")
	if err := os.WriteFile(file, manifests, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(stacktest.GoCommand(), "tool", "kube-score", "score", "--output-format", "ci", file)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("kube-score found problems (%v):\n%s\nmanifests:\n%s", err, out, manifests)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "[CRITICAL]") {
			t.Errorf("kube-score: %s", line)
		}
	}
}
