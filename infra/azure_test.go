package infra

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// admins are the Entra principals granted cluster admin: a user and the CI identity.
var admins = []Principal{
	{ObjectID: "3f6c2a9e-8b1d-4c7e-9a2f-5d4e3c2b1a09", Type: "User"},
	{ObjectID: "0b7d4e2a-1c3f-4a5b-8d6e-7f8091a2b3c4", Type: "ServicePrincipal"},
}

var devArgs = AzureArgs{
	Location:      "japaneast",
	RegistrySku:   "Basic",
	SystemPool:    NodePool{VMSize: "Standard_D2s_v5", MinCount: 1, MaxCount: 2, OSDiskType: "Managed"},
	NodePool:      NodePool{VMSize: "Standard_D2s_v5", MinCount: 2, MaxCount: 3, OSDiskType: "Managed"},
	Tier:          "Free",
	ClusterAdmins: admins,
}

// prodArgs are what Pulumi.prod.yaml gives the layer.
var prodArgs = AzureArgs{
	Location:    "japaneast",
	RegistrySku: "Premium",
	SystemPool: NodePool{VMSize: "Standard_D4ds_v5", MinCount: 3, MaxCount: 4, Zones: []string{"1", "2", "3"},
		OSDiskType: "Ephemeral", OSDiskSizeGB: 128},
	NodePool: NodePool{VMSize: "Standard_D4ds_v5", MinCount: 3, MaxCount: 6, Zones: []string{"1", "2", "3"},
		OSDiskType: "Ephemeral", OSDiskSizeGB: 128},
	Tier:                  "Standard",
	AzurePolicy:           true,
	Monitoring:            &Monitoring{RetentionDays: 90},
	Maintenance:           Maintenance{AutoUpgrade: &sunday, NodeOS: &saturday},
	ClusterAdmins:         admins,
	AuthorizedIPRanges:    []string{"203.0.113.0/24"},
	Protect:               true,
	RegistryZoneRedundant: true,
}

var (
	sunday   = Window{DayOfWeek: "Sunday", StartTime: "01:00", DurationHours: 4, UTCOffset: "+09:00"}
	saturday = Window{DayOfWeek: "Saturday", StartTime: "02:30", DurationHours: 6, UTCOffset: "-05:00"}
)

// runAzure declares the Azure layer under mocks, as an update or a preview, and
// returns what the engine received.
func runAzure(t *testing.T, mocks *stacktest.Mocks, args AzureArgs) (*stacktest.Graph, error) {
	t.Helper()
	return stacktest.Run(func(ctx *pulumi.Context) error {
		_, err := NewAzure(ctx, "guestbook", &args)
		return err
	}, mocks)
}

func mustRun(t *testing.T, dryRun bool, args AzureArgs) *stacktest.Graph {
	t.Helper()
	g, err := runAzure(t, stacktest.NewMocks("guestbook", "test", dryRun), args)
	if err != nil {
		t.Fatalf("NewAzure under mocks (dryRun=%v): %v", dryRun, err)
	}
	return g
}

func output(t *testing.T, r *stacktest.Resource, key string) string {
	t.Helper()
	if key == "id" {
		return r.ID
	}
	v, ok := stacktest.String(r.Outputs, key)
	if !ok {
		t.Fatalf("%s has no known output %q", r, key)
	}
	return v
}

func TestAzureInputs(t *testing.T) {
	g := mustRun(t, false, devArgs)
	rg := g.Get(t, stacktest.TypeResourceGroup, "guestbook-rg")
	registry := g.Get(t, stacktest.TypeRegistry, "guestbookacr")
	controlPlane := g.Get(t, stacktest.TypeIdentity, "guestbook-control-plane")
	kubelet := g.Get(t, stacktest.TypeIdentity, "guestbook-kubelet")
	operator := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-mi-operator")
	acrPull := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull")
	reader := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-repository-reader")
	cluster := g.Get(t, stacktest.TypeCluster, "guestbook-aks")
	userPool := g.Get(t, stacktest.TypeAgentPool, "user")

	roleDef := func(role string) string {
		return "/subscriptions/" + tenant.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + role
	}
	tests := []struct {
		r    *stacktest.Resource
		path string
		want any
	}{
		{rg, "location", "japaneast"},

		{registry, "resourceGroupName", output(t, rg, "name")},
		{registry, "sku.name", "Basic"},
		{registry, "adminUserEnabled", false},
		{registry, "zoneRedundancy", "Disabled"},

		{controlPlane, "resourceGroupName", output(t, rg, "name")},
		{kubelet, "resourceGroupName", output(t, rg, "name")},

		{operator, "scope", kubelet.ID},
		{operator, "principalId", output(t, controlPlane, "principalId")},
		{operator, "principalType", "ServicePrincipal"},
		{operator, "roleDefinitionId", roleDef("f1a07417-d97a-45cb-824c-7a7467783830")},
		{operator, "roleAssignmentName", assignmentName(kubelet.ID, output(t, controlPlane, "principalId"), roleDef("f1a07417-d97a-45cb-824c-7a7467783830"))},

		{acrPull, "scope", registry.ID},
		{acrPull, "principalId", output(t, kubelet, "principalId")},
		{acrPull, "principalType", "ServicePrincipal"},
		{acrPull, "roleDefinitionId", roleDef("7f951dda-4ed3-4680-a7ca-43fe172d538d")},
		{acrPull, "roleAssignmentName", assignmentName(registry.ID, output(t, kubelet, "principalId"), roleDef("7f951dda-4ed3-4680-a7ca-43fe172d538d"))},

		// The registry's ABAC repository-permissions mode honours this one instead of AcrPull.
		{reader, "scope", registry.ID},
		{reader, "principalId", output(t, kubelet, "principalId")},
		{reader, "principalType", "ServicePrincipal"},
		{reader, "roleDefinitionId", roleDef("b93aa761-3e63-49ed-ac28-beffa264f7ac")},
		{reader, "roleAssignmentName", assignmentName(registry.ID, output(t, kubelet, "principalId"), roleDef("b93aa761-3e63-49ed-ac28-beffa264f7ac"))},

		{cluster, "resourceGroupName", output(t, rg, "name")},
		{cluster, "identity.type", "UserAssigned"},
		{cluster, "identity.userAssignedIdentities", []any{controlPlane.ID}},
		{cluster, "identityProfile.kubeletidentity.resourceId", kubelet.ID},
		{cluster, "identityProfile.kubeletidentity.clientId", output(t, kubelet, "clientId")},
		{cluster, "identityProfile.kubeletidentity.objectId", output(t, kubelet, "principalId")},
		{cluster, "enableRBAC", true},
		{cluster, "aadProfile.managed", true},
		{cluster, "aadProfile.enableAzureRBAC", true},
		{cluster, "disableLocalAccounts", true},
		{cluster, "oidcIssuerProfile.enabled", true},
		{cluster, "securityProfile.workloadIdentity.enabled", true},
		{cluster, "sku.tier", "Free"},
		{cluster, "apiServerAccessProfile.disableRunCommand", true},
		{cluster, "addonProfiles.azurepolicy.enabled", false},
		{cluster, "agentPoolProfiles[0].mode", "System"},
		{cluster, "agentPoolProfiles[0].vmSize", "Standard_D2s_v5"},
		{cluster, "agentPoolProfiles[0].count", 1.0},
		{cluster, "agentPoolProfiles[0].enableAutoScaling", true},
		{cluster, "agentPoolProfiles[0].minCount", 1.0},
		{cluster, "agentPoolProfiles[0].maxCount", 2.0},
		{cluster, "agentPoolProfiles[0].osDiskType", "Managed"},
		{cluster, "agentPoolProfiles[0].nodeTaints", []any{"CriticalAddonsOnly=true:NoSchedule"}},
		{cluster, "agentPoolProfiles[0].maxPods", 250.0},
		{userPool, "maxPods", 250.0},

		{userPool, "resourceGroupName", output(t, rg, "name")},
		{userPool, "resourceName", output(t, cluster, "name")},
		{userPool, "mode", "User"},
		{userPool, "vmSize", "Standard_D2s_v5"},
		{userPool, "count", 2.0},
		{userPool, "enableAutoScaling", true},
		{userPool, "minCount", 2.0},
		{userPool, "maxCount", 3.0},
		{userPool, "osDiskType", "Managed"},
		{cluster, "autoUpgradeProfile.upgradeChannel", "patch"},
		{cluster, "autoUpgradeProfile.nodeOSUpgradeChannel", "NodeImage"},
		{cluster, "networkProfile.networkPlugin", "azure"},
		{cluster, "networkProfile.networkPluginMode", "overlay"},
		{cluster, "networkProfile.networkPolicy", "cilium"},
		{cluster, "networkProfile.networkDataplane", "cilium"},
	}
	for _, tt := range tests {
		t.Run(tt.r.Name+"/"+tt.path, func(t *testing.T) {
			got, ok := stacktest.Value(tt.r.Inputs, tt.path)
			if !ok {
				t.Fatalf("%s: input %s is missing or unknown, want %v", tt.r, tt.path, tt.want)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: input %s = %#v, want %#v", tt.r, tt.path, got, tt.want)
			}
		})
	}

	for i, admin := range admins {
		grant := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-cluster-admin-"+admin.ObjectID)
		clusterAdmin := roleDef("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b")
		for _, tt := range []struct {
			path string
			want any
		}{
			{"scope", rg.ID},
			{"principalId", admin.ObjectID},
			{"principalType", admin.Type},
			{"roleDefinitionId", clusterAdmin},
			{"roleAssignmentName", assignmentName(rg.ID, admin.ObjectID, clusterAdmin)},
		} {
			if got, _ := stacktest.Value(grant.Inputs, tt.path); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cluster admin %d: input %s = %#v, want %#v", i, tt.path, got, tt.want)
			}
		}
	}
	t.Run("dev: no zones, an open API server, no monitoring, nothing protected", func(t *testing.T) {
		for _, path := range []string{"agentPoolProfiles[0].availabilityZones", "apiServerAccessProfile.authorizedIPRanges", "addonProfiles.omsagent"} {
			if v, ok := stacktest.Value(cluster.Inputs, path); ok {
				t.Errorf("cluster %s = %v, want it unset", path, v)
			}
		}
		if v, ok := stacktest.Value(userPool.Inputs, "availabilityZones"); ok {
			t.Errorf("user pool availabilityZones = %v, want it unset", v)
		}
		for _, typ := range []string{stacktest.TypeWorkspace, stacktest.TypeDCR, stacktest.TypeDCRA, stacktest.TypeDiagnostics, stacktest.TypeMaintenance} {
			if rs := g.OfType(typ); len(rs) != 0 {
				t.Errorf("dev declares %v; want no %s unless configured", rs, typ)
			}
		}
		for _, r := range []*stacktest.Resource{rg, registry, cluster} {
			if r.Protect {
				t.Errorf("%s is protected in dev; want it free to destroy", r)
			}
		}
	})
	t.Run("kubelet identity is given by object id, not client id", func(t *testing.T) {
		if got, clientID := output(t, acrPull, "principalId"), output(t, kubelet, "clientId"); got == clientID {
			t.Errorf("AcrPull principalId = %s, the kubelet identity's client id: the assignment would grant nothing", got)
		}
	})
	t.Run("no Kubernetes version pinned by default", func(t *testing.T) {
		if v, ok := cluster.Inputs["kubernetesVersion"]; ok {
			t.Errorf("cluster kubernetesVersion = %v, want it unset (AKS default)", v)
		}
	})
	t.Run("cluster timeouts allow a real AKS create", func(t *testing.T) {
		want := stacktest.Timeouts{Create: "1h0m0s", Update: "1h0m0s", Delete: "1h0m0s"}
		if cluster.Timeouts != want {
			t.Errorf("cluster customTimeouts = %+v, want %+v", cluster.Timeouts, want)
		}
	})
	t.Run("what Azure moves by itself is not drift", func(t *testing.T) {
		// The autoscaler's counts, and with no version configured the versions
		// the patch channel raises.
		// The pools, with the autoscaler's count and the pools' versions: AKS
		// lists the user pool among them too, and a refresh brings it.
		want := []string{"agentPoolProfiles", "kubernetesVersion"}
		if !slices.Equal(cluster.IgnoreChanges, want) {
			t.Errorf("cluster ignoreChanges = %v, want %v", cluster.IgnoreChanges, want)
		}
		if want := []string{"count", "orchestratorVersion"}; !slices.Equal(userPool.IgnoreChanges, want) {
			t.Errorf("user pool ignoreChanges = %v, want %v", userPool.IgnoreChanges, want)
		}
	})
	t.Run("a new VM size, zone or OS disk replaces the user pool, never the cluster", func(t *testing.T) {
		if want := []string{"vmSize", "availabilityZones", "osDiskType", "osDiskSizeGB"}; !slices.Equal(userPool.ReplaceOnChanges, want) {
			t.Errorf("user pool replaceOnChanges = %v, want %v (AKS refuses those changes on an existing pool)", userPool.ReplaceOnChanges, want)
		}
		if v, ok := stacktest.Value(userPool.Inputs, "agentPoolName"); ok {
			t.Errorf("user pool agentPoolName = %v, want it autonamed: a replacement is created before the old pool goes", v)
		}
		if userPool.DeleteBeforeReplace {
			t.Error("user pool deleteBeforeReplace = true: the app would have no nodes while its new pool is made")
		}
		if len(cluster.ReplaceOnChanges) != 0 {
			t.Errorf("cluster replaceOnChanges = %v, want none", cluster.ReplaceOnChanges)
		}
	})
}

// TestAzureProd: what Pulumi.prod.yaml turns on reaches the engine, and nothing else changes.
func TestAzureProd(t *testing.T) {
	g := mustRun(t, false, prodArgs)
	cluster := g.Get(t, stacktest.TypeCluster, "guestbook-aks")
	registry := g.Get(t, stacktest.TypeRegistry, "guestbookacr")
	rg := g.Get(t, stacktest.TypeResourceGroup, "guestbook-rg")
	userPool := g.Get(t, stacktest.TypeAgentPool, "user")
	workspace := g.Get(t, stacktest.TypeWorkspace, "guestbook-logs")
	dcr := g.Get(t, stacktest.TypeDCR, "guestbook-ci-dcr")
	dcra := g.Get(t, stacktest.TypeDCRA, "guestbook-ci-dcra")
	clusterDiag := g.Get(t, stacktest.TypeDiagnostics, "guestbook-aks-diag")
	registryDiag := g.Get(t, stacktest.TypeDiagnostics, "guestbook-acr-diag")
	upgradeWindow := g.Get(t, stacktest.TypeMaintenance, "guestbook-maint-upgrade")
	nodeOSWindow := g.Get(t, stacktest.TypeMaintenance, "guestbook-maint-nodeos")
	categories := func(names ...string) []any {
		var logs []any
		for _, n := range names {
			logs = append(logs, map[string]any{"category": n, "enabled": true})
		}
		return logs
	}
	tests := []struct {
		r    *stacktest.Resource
		path string
		want any
	}{
		{cluster, "agentPoolProfiles[0].availabilityZones", []any{"1", "2", "3"}},
		{cluster, "agentPoolProfiles[0].minCount", 3.0},
		{cluster, "agentPoolProfiles[0].osDiskType", "Ephemeral"},
		{cluster, "agentPoolProfiles[0].osDiskSizeGB", 128.0},
		{cluster, "apiServerAccessProfile.authorizedIPRanges", []any{"203.0.113.0/24"}},
		{cluster, "disableLocalAccounts", true},
		{cluster, "sku.tier", "Standard"},
		{cluster, "addonProfiles.azurepolicy.enabled", true},
		{cluster, "addonProfiles.omsagent.enabled", true},
		{cluster, "addonProfiles.omsagent.config.logAnalyticsWorkspaceResourceID", workspace.ID},
		{cluster, "addonProfiles.omsagent.config.useAADAuth", "true"},
		{userPool, "availabilityZones", []any{"1", "2", "3"}},
		{userPool, "minCount", 3.0},
		{userPool, "maxCount", 6.0},
		{userPool, "osDiskType", "Ephemeral"},
		{userPool, "osDiskSizeGB", 128.0},
		{registry, "sku.name", "Premium"},
		{registry, "zoneRedundancy", "Enabled"},
		{workspace, "retentionInDays", 90.0},
		{workspace, "sku.name", "PerGB2018"},
		{dcr, "dataFlows[0].streams", []any{"Microsoft-ContainerInsights-Group-Default"}},
		{dcr, "destinations.logAnalytics[0].workspaceResourceId", workspace.ID},
		{dcr, "dataSources.extensions[0].extensionName", "ContainerInsights"},
		{dcra, "resourceUri", cluster.ID},
		{dcra, "dataCollectionRuleId", dcr.ID},
		{dcra, "associationName", "ContainerInsightsExtension"},
		{clusterDiag, "resourceUri", cluster.ID},
		{clusterDiag, "workspaceId", workspace.ID},
		{clusterDiag, "logAnalyticsDestinationType", "Dedicated"},
		{clusterDiag, "logs", categories("kube-audit-admin", "guard", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "cluster-autoscaler")},
		{clusterDiag, "metrics", []any{map[string]any{"category": "AllMetrics", "enabled": true}}},
		{registryDiag, "resourceUri", registry.ID},
		{registryDiag, "workspaceId", workspace.ID},
		{registryDiag, "logs", categories("ContainerRegistryLoginEvents", "ContainerRegistryRepositoryEvents")},
		{upgradeWindow, "configName", "aksManagedAutoUpgradeSchedule"},
		{upgradeWindow, "resourceName", output(t, cluster, "name")},
		{upgradeWindow, "maintenanceWindow", map[string]any{
			"schedule":  map[string]any{"weekly": map[string]any{"dayOfWeek": "Sunday", "intervalWeeks": 1.0}},
			"startTime": "01:00", "durationHours": 4.0, "utcOffset": "+09:00",
		}},
		{nodeOSWindow, "configName", "aksManagedNodeOSUpgradeSchedule"},
		{nodeOSWindow, "maintenanceWindow", map[string]any{
			"schedule":  map[string]any{"weekly": map[string]any{"dayOfWeek": "Saturday", "intervalWeeks": 1.0}},
			"startTime": "02:30", "durationHours": 6.0, "utcOffset": "-05:00",
		}},
	}
	for _, tt := range tests {
		if got, _ := stacktest.Value(tt.r.Inputs, tt.path); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: input %s = %#v, want %#v", tt.r, tt.path, got, tt.want)
		}
	}
	for _, r := range g.Resources {
		want := r == rg || r == registry || r == cluster
		if r.Protect != want {
			t.Errorf("%s protect = %v, want %v (only the resource group, registry and cluster)", r, r.Protect, want)
		}
	}
}

// TestAzureKubernetesVersion: a configured MAJOR.MINOR goes to the cluster and
// its pool, and is not ignored, so changing it upgrades.
func TestAzureKubernetesVersion(t *testing.T) {
	args := devArgs
	args.KubernetesVersion = "1.31"
	g := mustRun(t, false, args)
	cluster := g.Get(t, stacktest.TypeCluster, "guestbook-aks")
	for _, path := range []string{"kubernetesVersion", "agentPoolProfiles[0].orchestratorVersion"} {
		if got, _ := stacktest.String(cluster.Inputs, path); got != "1.31" {
			t.Errorf("cluster %s = %q, want %q", path, got, "1.31")
		}
	}
	if want := []string{"agentPoolProfiles"}; !slices.Equal(cluster.IgnoreChanges, want) {
		t.Errorf("cluster ignoreChanges = %v, want %v", cluster.IgnoreChanges, want)
	}
	userPool := g.Get(t, stacktest.TypeAgentPool, "user")
	if got, _ := stacktest.String(userPool.Inputs, "orchestratorVersion"); got != "1.31" {
		t.Errorf("user pool orchestratorVersion = %q, want %q", got, "1.31")
	}
	if want := []string{"count"}; !slices.Equal(userPool.IgnoreChanges, want) {
		t.Errorf("user pool ignoreChanges = %v, want %v", userPool.IgnoreChanges, want)
	}
}

// TestAzureBaselineGraph: the production baseline's resources sit off the
// deploy's critical path. The workspace comes before the cluster (its add-on
// names it); everything else that watches or schedules the cluster comes after
// it, and nothing the app needs waits for any of it but the user pool.
func TestAzureBaselineGraph(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("dryRun=%v", dryRun), func(t *testing.T) {
			g := mustRun(t, dryRun, prodArgs)
			cluster := g.Get(t, stacktest.TypeCluster, "guestbook-aks")
			workspace := g.Get(t, stacktest.TypeWorkspace, "guestbook-logs")
			provider := g.Get(t, stacktest.TypeK8sProvider, "guestbook-k8s")
			if deps := cluster.PropertyDependencies["addonProfiles"]; !slices.Contains(deps, workspace.URN) {
				t.Errorf("cluster addonProfiles dependencies = %v, want the workspace: the monitoring add-on names it", deps)
			}
			after := []*stacktest.Resource{
				g.Get(t, stacktest.TypeAgentPool, "user"),
				g.Get(t, stacktest.TypeDCRA, "guestbook-ci-dcra"),
				g.Get(t, stacktest.TypeDiagnostics, "guestbook-aks-diag"),
				g.Get(t, stacktest.TypeMaintenance, "guestbook-maint-upgrade"),
				g.Get(t, stacktest.TypeMaintenance, "guestbook-maint-nodeos"),
			}
			for _, r := range after {
				if !g.Waits(r, cluster) {
					t.Errorf("%s dependencies = %v, want the cluster", r, r.Dependencies)
				}
			}
			offPath := append(after[1:], g.Get(t, stacktest.TypeDCR, "guestbook-ci-dcr"), g.Get(t, stacktest.TypeDiagnostics, "guestbook-acr-diag"))
			for _, r := range append(offPath, after[0]) {
				for _, waiter := range []*stacktest.Resource{cluster, provider} {
					if path, ok := g.WaitsTransitively(waiter, r); ok {
						t.Errorf("%s waits for %s (%s): it must not be on the deploy's path", waiter, r, stacktest.Path(path))
					}
				}
			}
		})
	}
}

func TestAzureKubernetesProvider(t *testing.T) {
	g := mustRun(t, false, devArgs)
	provider := g.Get(t, stacktest.TypeK8sProvider, "guestbook-k8s")
	cluster := g.Get(t, stacktest.TypeCluster, "guestbook-aks")

	kubeconfig, ok := stacktest.String(provider.Inputs, "kubeconfig")
	if !ok {
		t.Fatal("provider kubeconfig is missing")
	}
	// What the provider authenticates with: kubelogin's Azure CLI login for the
	// cluster's tenant, never a prompt, never a credential of its own.
	var kc struct {
		Clusters []struct {
			Cluster struct{ Server string }
		}
		Users []struct {
			User map[string]struct {
				Command         string
				Args            []string
				InteractiveMode string `yaml:"interactiveMode"`
				InstallHint     string `yaml:"installHint"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(kubeconfig), &kc); err != nil {
		t.Fatalf("provider kubeconfig does not parse: %v\n%s", err, kubeconfig)
	}
	if len(kc.Clusters) != 1 || len(kc.Users) != 1 {
		t.Fatalf("provider kubeconfig has %d clusters and %d users, want one of each:\n%s", len(kc.Clusters), len(kc.Users), kubeconfig)
	}
	if got, want := kc.Clusters[0].Cluster.Server, "https://"+output(t, cluster, "fqdn")+":443"; got != want {
		t.Errorf("provider kubeconfig server = %q, want %q", got, want)
	}
	exec := kc.Users[0].User["exec"]
	wantArgs := []string{"get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630",
		"--tenant-id", tenant.TenantID, "--environment", "AzurePublicCloud"}
	if exec.Command != "kubelogin" || !slices.Equal(exec.Args, wantArgs) {
		t.Errorf("provider kubeconfig exec = %s %q, want kubelogin %q", exec.Command, exec.Args, wantArgs)
	}
	if exec.InteractiveMode != "Never" || !strings.Contains(exec.InstallHint, "az aks install-cli") {
		t.Errorf("provider kubeconfig exec interactiveMode = %q, installHint = %q; want Never and how to install kubelogin", exec.InteractiveMode, exec.InstallHint)
	}
	for _, banned := range []string{"devicecode", "token:", "client-key-data", "client-certificate-data", "password"} {
		if strings.Contains(kubeconfig, banned) {
			t.Errorf("provider kubeconfig holds %q:\n%s", banned, kubeconfig)
		}
	}
	if !g.Waits(provider, cluster) {
		t.Errorf("provider dependencies = %v, want them to include the cluster %s", provider.Dependencies, cluster.URN)
	}
	for _, admin := range admins {
		grant := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-cluster-admin-"+admin.ObjectID)
		if !g.Waits(provider, grant) {
			t.Errorf("provider dependencies = %v, want the cluster admin grant %s: its first call would be refused without it", provider.Dependencies, grant.URN)
		}
	}
	calls := g.InvokesOf(stacktest.InvokeListUserCredentials)
	if len(calls) != 1 {
		t.Fatalf("listManagedClusterUserCredentials called %d times, want once", len(calls))
	}
	if got, _ := stacktest.String(calls[0].Args, "resourceName"); got != output(t, cluster, "name") {
		t.Errorf("credentials listed for cluster %q, want %q", got, output(t, cluster, "name"))
	}
	if got, _ := stacktest.String(calls[0].Args, "format"); got != "exec" {
		t.Errorf("credentials listed in format %q, want exec (the azure auth-provider format is gone from client-go)", got)
	}
}

func TestAzureKubeconfigErrorsAreReturned(t *testing.T) {
	tests := []struct {
		name    string
		answer  resource.PropertyMap
		wantErr string
	}{
		{
			name: "not base64",
			answer: resource.PropertyMap{"kubeconfigs": resource.NewProperty([]resource.PropertyValue{
				resource.NewProperty(resource.PropertyMap{"name": resource.NewProperty("clusterUser"), "value": resource.NewProperty("%%% not base64")}),
			})},
			wantErr: `decoding kubeconfig "clusterUser" from AKS`,
		},
		{
			name:    "none returned",
			answer:  resource.PropertyMap{"kubeconfigs": resource.NewProperty([]resource.PropertyValue{})},
			wantErr: "AKS returned no user kubeconfig",
		},
		{
			name: "no cluster",
			answer: resource.PropertyMap{"kubeconfigs": resource.NewProperty([]resource.PropertyValue{
				resource.NewProperty(resource.PropertyMap{"name": resource.NewProperty("clusterUser"), "value": resource.NewProperty(
					base64.StdEncoding.EncodeToString([]byte("apiVersion: v1\nkind: Config\nclusters: []\n")))}),
			})},
			wantErr: "the kubeconfig AKS returned has 0 clusters",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mocks := stacktest.NewMocks("guestbook", "test", false)
			mocks.Invokes = map[string]func(resource.PropertyMap) (resource.PropertyMap, error){
				stacktest.InvokeListUserCredentials: func(resource.PropertyMap) (resource.PropertyMap, error) { return tt.answer, nil },
			}
			_, err := runAzure(t, mocks, devArgs)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewAzure with a kubeconfig that is %s: error = %v, want one containing %q", tt.name, err, tt.wantErr)
			}
		})
	}
	// The happy path decodes what AKS returns, so the error above is not a false alarm.
	if _, err := base64.StdEncoding.DecodeString("%%% not base64"); err == nil {
		t.Fatal("test input unexpectedly decodes")
	}
}

func TestAzureGraph(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("dryRun=%v", dryRun), func(t *testing.T) {
			g := mustRun(t, dryRun, devArgs)
			component := g.Get(t, "guestbook:infra:Azure", "guestbook")
			registry := g.Get(t, stacktest.TypeRegistry, "guestbookacr")
			operator := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-mi-operator")
			acrPull := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull")
			cluster := g.Get(t, stacktest.TypeCluster, "guestbook-aks")
			kubelet := g.Get(t, stacktest.TypeIdentity, "guestbook-kubelet")
			admin := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-cluster-admin-"+admins[0].ObjectID)

			// The kubelet identity reaches the cluster through the grant's
			// propagation wait: the dependency is data, on the identity profile.
			if deps := cluster.PropertyDependencies["identityProfile"]; !slices.Contains(deps, operator.URN) {
				t.Errorf("cluster identityProfile dependencies = %v, want the Managed Identity Operator assignment: AKS refuses the kubelet identity without it", deps)
			}
			if !g.Waits(acrPull, registry) || !g.Waits(acrPull, kubelet) {
				t.Errorf("AcrPull dependencies = %v, want the registry and the kubelet identity", acrPull.Dependencies)
			}
			forbidden := []struct{ from, to *stacktest.Resource }{
				{acrPull, cluster},
				{registry, cluster},
				{cluster, registry},
				{cluster, acrPull},
				// The admins' grants propagate while the cluster is created.
				{admin, cluster},
				{cluster, admin},
			}
			for _, f := range forbidden {
				if path, ok := g.WaitsTransitively(f.from, f.to); ok {
					t.Errorf("%s waits for %s (%s); it must not", f.from, f.to, stacktest.Path(path))
				}
			}
			for _, r := range g.Resources {
				if r != component && r.Type != "pulumi:pulumi:Stack" && r.Parent != component.URN {
					t.Errorf("%s has parent %q, want the Azure component", r, r.Parent)
				}
			}
		})
	}
	t.Run("preview registers the same graph as update", func(t *testing.T) {
		update, preview := mustRun(t, false, devArgs).EdgeList(), mustRun(t, true, devArgs).EdgeList()
		if !slices.Equal(preview, update) {
			t.Errorf("preview edges differ from update edges\npreview: %v\nupdate:  %v", preview, update)
		}
	})
}

func TestAzurePreviewHasUnknownOutputs(t *testing.T) {
	// In a first preview nothing computed is known: the role assignments' scope,
	// principal and name are unknown, and that must not stop the program.
	g := mustRun(t, true, devArgs)
	acrPull := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull")
	for _, key := range []string{"scope", "principalId", "roleAssignmentName"} {
		if v, ok := acrPull.Inputs[resource.PropertyKey(key)]; ok && !v.ContainsUnknowns() {
			t.Errorf("preview: AcrPull %s = %v, want unknown (the mocks made every computed output unknown)", key, v)
		}
	}
	if got, _ := stacktest.String(acrPull.Inputs, "principalType"); got != "ServicePrincipal" {
		t.Errorf("preview: AcrPull principalType = %q, want ServicePrincipal", got)
	}
	if n := len(g.InvokesOf(stacktest.InvokeListUserCredentials)); n != 0 {
		t.Errorf("preview listed cluster credentials %d times; the cluster does not exist yet", n)
	}
}

// TestGrantPropagation: the cluster's create waits until the Managed Identity
// Operator grant is GrantPropagation old, and the Kubernetes provider until each
// cluster-admin grant is, counted from ARM's createdOn, so a fresh grant is given
// its time and an old one costs nothing; a preview never waits.
func TestGrantPropagation(t *testing.T) {
	const wait = 10 * time.Minute
	tests := []struct {
		name     string
		dryRun   bool
		age      time.Duration // of the grant when the program sees it
		existing bool          // in a preview: the grant exists already
		wait     time.Duration
		sleeps   int // one for the MI Operator grant, one for each admin grant
		minSleep time.Duration
	}{
		{name: "fresh grants", wait: wait, sleeps: 1 + len(admins), minSleep: wait - time.Minute},
		{name: "grants four minutes old", age: 4 * time.Minute, wait: wait, sleeps: 1 + len(admins), minSleep: 5 * time.Minute},
		{name: "old grants", age: time.Hour, wait: wait},
		{name: "no wait configured", wait: 0},
		{name: "preview of a new stack", dryRun: true, wait: wait},
		{name: "preview with a fresh grant", dryRun: true, existing: true, wait: wait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var slept []time.Duration
			args := devArgs
			args.GrantPropagation = tt.wait
			args.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
			mocks := stacktest.NewMocks("guestbook", "test", tt.dryRun)
			mocks.CreatedOn = time.Now().Add(-tt.age)
			if tt.existing {
				mocks.Existing = map[string]stacktest.Existing{
					"guestbook-mi-operator": {ID: "operator", Outputs: resource.PropertyMap{
						"createdOn": resource.NewProperty(time.Now().UTC().Format(time.RFC3339Nano)),
					}},
					"guestbook-kubelet": {ID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kubelet"},
				}
			}
			g, err := runAzure(t, mocks, args)
			if err != nil {
				t.Fatalf("NewAzure: %v", err)
			}
			g.Get(t, stacktest.TypeCluster, "guestbook-aks")
			if len(slept) != tt.sleeps {
				t.Fatalf("the program waited %v; want %d waits", slept, tt.sleeps)
			}
			for _, d := range slept {
				if d < tt.minSleep || d > tt.wait {
					t.Errorf("the program waited %v; want each wait between %s and %s", slept, tt.minSleep, tt.wait)
				}
			}
		})
	}
	t.Run("the wait ends with the run", func(t *testing.T) {
		args := devArgs
		args.GrantPropagation = wait
		args.sleep = func(context.Context, time.Duration) error { return context.Canceled }
		_, err := runAzure(t, stacktest.NewMocks("guestbook", "test", false), args)
		if err == nil || !strings.Contains(err.Error(), "waiting for role assignment propagation") {
			t.Errorf("NewAzure with the wait interrupted: error = %v, want one saying the wait was interrupted", err)
		}
	})
}

func TestRemainingPropagation(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		createdOn string
		want      time.Duration
		wantErr   bool
	}{
		// ARM's createdOn has seven fractional digits.
		{"2026-12-03T11:58:00.0000000Z", 8 * time.Minute, false},
		{"2026-12-03T12:00:00Z", 10 * time.Minute, false},
		{"2026-12-03T11:40:00Z", 0, false},
		{"2026-12-03T13:00:00+01:00", 10 * time.Minute, false},
		{"yesterday", 0, true},
	}
	for _, tt := range tests {
		got, err := remainingPropagation(tt.createdOn, now, 10*time.Minute)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("remainingPropagation(%q) = %s, %v; want %s (error %v)", tt.createdOn, got, err, tt.want, tt.wantErr)
		}
	}
}
