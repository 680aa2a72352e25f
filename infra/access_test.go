package infra

import (
	"strings"
	"testing"
)

func TestAssignmentNameMatchesBicepGuid(t *testing.T) {
	// Expected values computed independently with Python's uuid.uuid5 under ARM's
	// namespace, which is what Bicep's guid(a, b, c) returns for "a-b-c".
	tests := []struct {
		scope, principal, role string
		want                   string
	}{
		{"a", "b", "c", "a98fa280-e03f-5afa-8d8e-92d0a9c201e8"},
		{
			"/subscriptions/6f1c3e2a-9b4d-4c1e-8a7f-2d5b9e0c4a13/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr",
			"11111111-2222-3333-4444-555555555555",
			"/subscriptions/6f1c3e2a-9b4d-4c1e-8a7f-2d5b9e0c4a13/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
			"383dae27-1448-5fda-aed2-96ded703ccd2",
		},
	}
	for _, tt := range tests {
		if got := assignmentName(tt.scope, tt.principal, tt.role); got != tt.want {
			t.Errorf("assignmentName(%q, %q, %q) = %s, want %s", tt.scope, tt.principal, tt.role, got, tt.want)
		}
	}
}

func TestAssignmentNameIsDeterministic(t *testing.T) {
	const scope, principal, role = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr", "p", "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/r"
	base := assignmentName(scope, principal, role)
	if again := assignmentName(scope, principal, role); again != base {
		t.Fatalf("assignmentName changed between calls with the same inputs: %s, then %s", base, again)
	}
	changed := []struct {
		name                   string
		scope, principal, role string
	}{
		{"scope", scope + "2", principal, role},
		{"principal", scope, principal + "2", role},
		{"role", scope, principal, role + "2"},
	}
	for _, tt := range changed {
		t.Run(tt.name, func(t *testing.T) {
			if got := assignmentName(tt.scope, tt.principal, tt.role); got == base {
				t.Errorf("assignmentName with another %s = %s, the same as before: a changed assignment must get a new name", tt.name, got)
			}
		})
	}
}

func TestRoleDefinitionID(t *testing.T) {
	tests := []struct {
		scope   string
		want    string
		wantErr string
	}{
		{
			scope: "/subscriptions/6f1c3e2a/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr",
			want:  "/subscriptions/6f1c3e2a/providers/Microsoft.Authorization/roleDefinitions/" + acrPullRoleID,
		},
		{
			scope: "/SUBSCRIPTIONS/6f1c3e2a/resourceGroups/rg",
			want:  "/subscriptions/6f1c3e2a/providers/Microsoft.Authorization/roleDefinitions/" + acrPullRoleID,
		},
		{scope: "/resourceGroups/rg", wantErr: "no /subscriptions/<id> segment"},
		{scope: "/subscriptions/", wantErr: "no /subscriptions/<id> segment"},
		{scope: "", wantErr: "no /subscriptions/<id> segment"},
	}
	for _, tt := range tests {
		got, err := roleDefinitionID(tt.scope, acrPullRoleID)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("roleDefinitionID(%q) error = %v, want one containing %q", tt.scope, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("roleDefinitionID(%q) = %q, %v; want %q, nil", tt.scope, got, err, tt.want)
		}
	}
}
