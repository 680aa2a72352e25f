package sim

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const (
	tokPool      = "azure-native:containerservice/v20241001:AgentPool"
	tokMaint     = "azure-native:containerservice/v20241001:MaintenanceConfiguration"
	tokWorkspace = "azure-native:operationalinsights:Workspace"
	tokDiag      = "azure-native:insights:DiagnosticSetting"
)

func userPool(s stack, edits func(map[string]any)) resource.PropertyMap {
	m := map[string]any{
		"resourceGroupName": s.rg, "resourceName": s.clusterName, "mode": "User", "vmSize": "Standard_D2s_v5",
		"count": 1, "minCount": 1, "maxCount": 3, "enableAutoScaling": true, "osDiskType": "Managed",
	}
	if edits != nil {
		edits(m)
	}
	return pm(m)
}

// TestBaselineARMErrors: what ARM refuses of the production baseline's types,
// each with Azure's code or words.
func TestBaselineARMErrors(t *testing.T) {
	p := NewAzureProvider(newCloud(t))
	s := deployAzure(t, p, true)
	wsID, _ := create(t, p, tokWorkspace, "guestbook-logs", pm(map[string]any{"resourceGroupName": s.rg, "retentionInDays": 30}))
	window := map[string]any{"schedule": map[string]any{"weekly": map[string]any{"dayOfWeek": "Sunday", "intervalWeeks": 1}},
		"startTime": "01:00", "durationHours": 4, "utcOffset": "+09:00"}
	tests := []struct {
		name, typ string
		ins       resource.PropertyMap
		want      string
	}{
		{"pool name with a hyphen", tokPool, userPool(s, func(m map[string]any) { m["agentPoolName"] = "user-pool" }), `Code="InvalidResourceName"`},
		{"pool name too long", tokPool, userPool(s, func(m map[string]any) { m["agentPoolName"] = "user12345678x" }), `Code="InvalidResourceName"`},
		{"pool of a missing cluster", tokPool, userPool(s, func(m map[string]any) { m["resourceName"] = "nope" }), `Code="ResourceNotFound"`},
		{"pool named like the system pool", tokPool, userPool(s, func(m map[string]any) { m["agentPoolName"] = "system" }), `Code="AgentPoolAlreadyExists"`},
		{"ephemeral OS disk without a temp disk", tokPool, userPool(s, func(m map[string]any) { m["osDiskType"] = "Ephemeral" }),
			`VM size Standard_D2s_v5 does not support ephemeral OS disks`},
		{"ephemeral OS disk larger than the temp disk", tokPool, userPool(s, func(m map[string]any) {
			m["osDiskType"], m["vmSize"] = "Ephemeral", "Standard_D2ds_v5"
		}), `OS disk size 128 GB exceeds the 75 GB`},
		{"window of no channel", tokMaint, pm(map[string]any{"resourceGroupName": s.rg, "resourceName": s.clusterName,
			"configName": "weekend", "maintenanceWindow": window}), `is not one of default, aksManagedAutoUpgradeSchedule`},
		{"window under four hours", tokMaint, pm(map[string]any{"resourceGroupName": s.rg, "resourceName": s.clusterName,
			"configName": "aksManagedAutoUpgradeSchedule", "maintenanceWindow": edit(pm(window), func(m map[string]any) { m["durationHours"] = 2 }).Mappable()}),
			`durationHours 2 must be between 4 and 24`},
		{"workspace retention", tokWorkspace, pm(map[string]any{"resourceGroupName": s.rg, "retentionInDays": 7}), `out of the allowed range 30-730`},
		{"unknown log category", tokDiag, pm(map[string]any{"resourceUri": s.clusterID, "workspaceId": wsID,
			"logs": []any{map[string]any{"category": "kube-audit-everything", "enabled": true}}}), `Category 'kube-audit-everything' is not supported.`},
		{"cluster log category on the registry", tokDiag, pm(map[string]any{"resourceUri": s.registryID, "workspaceId": wsID,
			"logs": []any{map[string]any{"category": "kube-apiserver", "enabled": true}}}), `Category 'kube-apiserver' is not supported.`},
		{"missing workspace", tokDiag, pm(map[string]any{"resourceUri": s.registryID, "workspaceId": wsID + "x",
			"logs": []any{map[string]any{"category": "ContainerRegistryLoginEvents", "enabled": true}}}), `was not found`},
		{"monitoring add-on of a missing workspace", tokCluster, edit(clusterInputs(s, 3), func(m map[string]any) {
			m["addonProfiles"] = map[string]any{"omsagent": map[string]any{"enabled": true, "config": map[string]any{"logAnalyticsWorkspaceResourceID": wsID + "x"}}}
		}), `of the monitoring add-on was not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tryCreate(t, p, tt.typ, "x", tt.ins)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Create: %v, want %s", err, tt.want)
			}
		})
	}
}

// TestClusterListsEveryPool: a refresh of the cluster sees the user pool in its
// agentPoolProfiles, as AKS lists it; a PUT that introduces a pool, or moves a
// pool's VM size, is refused; one that leaves the user pool out keeps it.
func TestClusterListsEveryPool(t *testing.T) {
	p := NewAzureProvider(newCloud(t))
	s := deployAzure(t, p, true)
	poolID, _ := create(t, p, tokPool, "user", userPool(s, nil))
	read := func() resource.PropertyMap {
		resp, err := p.Read(context.Background(), &pulumirpc.ReadRequest{Id: s.clusterID, Urn: urnOf(tokCluster, "aks"), Type: tokCluster,
			Inputs: wireOf(t, clusterInputs(s, 3)), Properties: wireOf(t, clusterInputs(s, 3))})
		if err != nil {
			t.Fatal(err)
		}
		return propsOf(t, resp.GetInputs())
	}
	ins := read()
	pools := ins["agentPoolProfiles"].ArrayValue()
	if len(pools) != 2 || pools[1].ObjectValue()["name"].StringValue() != poolNameOf(poolID) {
		t.Fatalf("refreshed agentPoolProfiles = %v, want the system pool and %s", pools, poolNameOf(poolID))
	}
	update := func(news resource.PropertyMap) error {
		_, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
			Id: s.clusterID, Urn: urnOf(tokCluster, "aks"), Type: tokCluster,
			Olds: wireOf(t, ins), OldInputs: wireOf(t, ins), News: wireOf(t, news),
		})
		return err
	}
	newPool := edit(clusterInputs(s, 3), func(m map[string]any) {
		m["agentPoolProfiles"] = append(m["agentPoolProfiles"].([]any), map[string]any{"name": "extra", "mode": "User", "vmSize": "Standard_D2s_v5"})
	})
	if err := update(newPool); err == nil || !strings.Contains(err.Error(), "A new agent pool was introduced") {
		t.Errorf("cluster PUT with a new pool: %v, want AKS's refusal", err)
	}
	resized := edit(ins, func(m map[string]any) {
		m["agentPoolProfiles"].([]any)[1].(map[string]any)["vmSize"] = "Standard_D4s_v5"
	})
	if err := update(resized); err == nil || !strings.Contains(err.Error(), "Changing property 'agentPoolProfile.vmSize' is not allowed.") {
		t.Errorf("cluster PUT moving the user pool's VM size: %v, want PropertyChangeNotAllowed", err)
	}
	if err := update(clusterInputs(s, 3)); err != nil {
		t.Fatalf("cluster PUT without the user pool: %v", err)
	}
	if pools := read()["agentPoolProfiles"].ArrayValue(); len(pools) != 2 {
		t.Errorf("after a PUT without it, agentPoolProfiles = %v, want the user pool kept", pools)
	}
}

func poolNameOf(id string) string { return id[strings.LastIndex(id, "/")+1:] }
