package tests

import (
	"strings"
	"testing"
)

// TestBadConfigDeclaresNothing runs the real program with broken configuration: it
// must exit non-zero, name every bad key with its value, and register no resource,
// in a preview as in an update, so nothing is ever half-created.
func TestBadConfigDeclaresNothing(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		wantInLog []string
	}{
		{
			name:      "no region",
			overrides: map[string]string{"azure-native:location": ""},
			wantInLog: []string{`azure-native:location = ""`, "is required"},
		},
		{
			name:      "replicas out of range",
			overrides: map[string]string{"guestbook:replicas": "0"},
			wantInLog: []string{`guestbook:replicas = "0"`, "from 1 to 50"},
		},
		{
			name:      "a word where a number belongs",
			overrides: map[string]string{"guestbook:nodeCount": "three"},
			wantInLog: []string{`guestbook:nodeCount = "three"`, "whole number"},
		},
		{
			name: "several problems at once",
			overrides: map[string]string{
				"guestbook:acrSku":       "Gold",
				"guestbook:namespace":    "default",
				"guestbook:redisImage":   "redis:latest",
				"guestbook:nodeMaxCount": "1",
			},
			wantInLog: []string{
				`guestbook:acrSku = "Gold"`,
				`guestbook:namespace = "default"`,
				`guestbook:redisImage = "redis:latest"`,
				`guestbook:nodeMaxCount = "1"`,
			},
		},
	}
	for _, tt := range tests {
		for _, dryRun := range modes() {
			t.Run(tt.name+"/"+mode(dryRun), func(t *testing.T) {
				res, err := program(t).Run("dev", dryRun, withConfig(t, tt.overrides))
				if err != nil {
					t.Fatal(err)
				}
				if res.ExitCode == 0 {
					t.Errorf("program exited 0 with bad configuration %v", tt.overrides)
				}
				if n := len(res.Graph.Resources); n != 0 {
					t.Errorf("program registered %d resources with bad configuration, want none: %v", n, res.Graph.Resources)
				}
				logged := strings.Join(res.Errors(), "\n")
				for _, want := range tt.wantInLog {
					if !strings.Contains(logged, want) {
						t.Errorf("error log does not contain %q:\n%s", want, logged)
					}
				}
			})
		}
	}
}
