// baseline.go: the production baseline's resource types: agent pools,
// maintenance configurations, the Log Analytics workspace, Container insights'
// data collection rule and its association, and diagnostic settings. What ARM
// checks of each, what it answers, and how a cluster lists its agent pools.

package sim

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

var (
	// agentPoolNameRE: "Linux agent pool names must start with a lowercase letter
	// and can only contain lowercase letters and numbers, up to 12 characters"
	// (https://learn.microsoft.com/azure/aks/create-node-pools#limitations).
	agentPoolNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	// workspaceNameRE: 4-63 letters, digits and hyphens, starting and ending
	// with a letter or digit (Microsoft.OperationalInsights naming rules).
	workspaceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$`)
)

// maintenanceNames are the configurations AKS accepts: the legacy default and
// one per upgrade channel
// (https://learn.microsoft.com/azure/aks/planned-maintenance#schedule-configuration-types-for-planned-maintenance).
var maintenanceNames = []string{"default", "aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule"}

// diagnosticCategories are the resource log categories each type has: a
// diagnostic setting naming another is refused
// (https://learn.microsoft.com/azure/aks/monitor-aks-reference#resource-logs,
// https://learn.microsoft.com/azure/container-registry/monitor-container-registry-reference#resource-logs).
var diagnosticCategories = map[string][]string{
	KindCluster: {"kube-apiserver", "kube-audit", "kube-audit-admin", "kube-controller-manager", "kube-scheduler",
		"cluster-autoscaler", "cloud-controller-manager", "guard", "csi-azuredisk-controller", "csi-azurefile-controller", "csi-snapshot-controller"},
	KindRegistry: {"ContainerRegistryRepositoryEvents", "ContainerRegistryLoginEvents"},
}

// errParentNotFound is ARM's 404 for a child whose parent does not exist.
func errParentNotFound(id string) error {
	return errResourceNotFound(id)
}

// liveParent returns the resource id in s that a child needs, or ARM's error:
// 404 when it does not exist, 409 while an operation on it runs (AKS refuses
// a pool or a window while the cluster is creating or updating).
func liveParent(s *cloudState, id string, now time.Time) (*Resource, error) {
	p := s.find(id)
	switch {
	case p == nil || p.ProvisioningState == StateDeleting:
		return nil, errParentNotFound(id)
	case p.ProvisioningState != StateSucceeded && now.Before(p.ReadyAt):
		return nil, errAnotherOperation(p)
	}
	return p, nil
}

// validateBaseline makes ARM's checks of a create of one of this file's kinds.
func validateBaseline(s *cloudState, k *armKind, r *Resource, now time.Time) error {
	in := r.Inputs
	switch k.Kind {
	case KindAgentPool:
		if err := validateName(r.Name, agentPoolNameRE, "agent pool",
			"Linux agent pool names must start with a lowercase letter, contain only lowercase letters and numbers, and be at most 12 characters long."); err != nil {
			return err
		}
		cluster, err := liveParent(s, clusterIDOf(in), now)
		if err != nil {
			return err
		}
		for _, p := range clusterPools(s, cluster) {
			if str(p, "name") == r.Name {
				return armError(409, "AgentPoolAlreadyExists", fmt.Sprintf("Agent pool %s already exists in managed cluster %s.", r.Name, cluster.Name))
			}
		}
		return validatePool("properties", in)
	case KindMaintenance:
		cluster, err := liveParent(s, clusterIDOf(in), now)
		if err != nil {
			return err
		}
		if !slices.Contains(maintenanceNames, r.Name) {
			return invalidParameter("configName", fmt.Sprintf("Maintenance configuration name %s is not one of %s.", r.Name, strings.Join(maintenanceNames, ", ")))
		}
		// A channel's window needs the channel, and AKS's managed windows at least
		// four hours (https://learn.microsoft.com/azure/aks/planned-maintenance).
		upgrade := obj(cluster.Inputs, "autoUpgradeProfile")
		switch {
		case r.Name == "aksManagedAutoUpgradeSchedule" && (str(upgrade, "upgradeChannel") == "" || str(upgrade, "upgradeChannel") == "none"):
			return armError(400, "InvalidParameter", "aksManagedAutoUpgradeSchedule needs an auto-upgrade channel on the cluster.")
		case r.Name == "aksManagedNodeOSUpgradeSchedule" && (str(upgrade, "nodeOSUpgradeChannel") == "" || str(upgrade, "nodeOSUpgradeChannel") == "None"):
			return armError(400, "InvalidParameter", "aksManagedNodeOSUpgradeSchedule needs a node OS upgrade channel on the cluster.")
		}
		w := obj(in, "maintenanceWindow")
		if r.Name != "default" {
			if h, _ := num(w, "durationHours"); h < 4 || h > 24 {
				return invalidParameter("maintenanceWindow.durationHours", fmt.Sprintf("durationHours %d must be between 4 and 24.", h))
			}
			if len(obj(w, "schedule")) == 0 {
				return invalidParameter("maintenanceWindow.schedule", "A schedule is required.")
			}
		}
	case KindWorkspace:
		if err := validateName(r.Name, workspaceNameRE, "workspace",
			"The workspace name must be 4 to 63 characters of letters, digits and hyphens, starting and ending with a letter or digit."); err != nil {
			return err
		}
		if d, ok := num(in, "retentionInDays"); ok && (d < 30 || d > 730) {
			return invalidParameter("retentionInDays", fmt.Sprintf("Retention %d days is out of the allowed range 30-730 for the PerGB2018 SKU.", d))
		}
	case KindDCR:
		for _, d := range sliceOf(obj(in, "destinations"), "logAnalytics") {
			ws := str(d.(map[string]any), "workspaceResourceId")
			if w := s.find(ws); w == nil || w.Kind != KindWorkspace {
				return armError(400, "InvalidPayload", fmt.Sprintf("Data collection rule destination workspace %s was not found.", ws))
			}
		}
	case KindDCRA:
		if _, err := liveParent(s, str(in, "resourceUri"), now); err != nil {
			return err
		}
		if rule := s.find(str(in, "dataCollectionRuleId")); rule == nil || rule.Kind != KindDCR {
			return armError(400, "InvalidPayload", fmt.Sprintf("Data collection rule %s was not found.", str(in, "dataCollectionRuleId")))
		}
	case KindDiagnostics:
		target, err := liveParent(s, str(in, "resourceUri"), now)
		if err != nil {
			return err
		}
		if ws := str(in, "workspaceId"); ws != "" {
			if w := s.find(ws); w == nil || w.Kind != KindWorkspace {
				return armError(400, "BadRequest", fmt.Sprintf("Log Analytics workspace %s was not found.", ws))
			}
		}
		for _, l := range sliceOf(in, "logs") {
			c := str(l.(map[string]any), "category")
			if !slices.Contains(diagnosticCategories[target.Kind], c) {
				return armError(400, "BadRequest", fmt.Sprintf("Category '%s' is not supported.", c))
			}
		}
	}
	return nil
}

// validateClusterAddons checks what a cluster's add-ons and tier refer to: the
// monitoring add-on's workspace must exist
// (https://learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable).
func validateClusterAddons(s *cloudState, in map[string]any) error {
	if tier := str(obj(in, "sku"), "tier"); tier != "" && tier != "Free" && tier != "Standard" && tier != "Premium" {
		return invalidParameter("sku.tier", fmt.Sprintf("Tier %s is not one of Free, Standard, Premium.", tier))
	}
	oms := obj(obj(in, "addonProfiles"), "omsagent")
	if on, _ := oms["enabled"].(bool); !on {
		return nil
	}
	ws := str(obj(oms, "config"), "logAnalyticsWorkspaceResourceID")
	if w := s.find(ws); w == nil || w.Kind != KindWorkspace || w.ProvisioningState == StateDeleting {
		return armError(400, "InvalidParameter", fmt.Sprintf("The Log Analytics workspace %q of the monitoring add-on was not found.", ws))
	}
	return nil
}

// baselineOutputs fills out for this file's kinds.
func baselineOutputs(k *armKind, r *Resource, prev, out map[string]any, now time.Time) {
	keep := func(key string, fresh func() any) {
		if v, ok := prev[key]; ok && v != nil {
			out[key] = v
		} else {
			out[key] = fresh()
		}
	}
	switch k.Kind {
	case KindAgentPool:
		poolDefaults(out, prev)
		out["provisioningState"] = r.ProvisioningState
	case KindWorkspace:
		keep("customerId", func() any { return uuid.NewString() })
		keep("createdDate", func() any { return armTime(now) })
		out["modifiedDate"] = armTime(now)
		setDefault(out, "retentionInDays", float64(30))
		out["provisioningState"] = r.ProvisioningState
	case KindDCR:
		keep("immutableId", func() any { return "dcr-" + strings.ReplaceAll(uuid.NewString(), "-", "") })
		out["provisioningState"] = r.ProvisioningState
	case KindDCRA:
		out["provisioningState"] = r.ProvisioningState
	}
}

// poolDefaults fills what AKS reports of a pool it was not told, and keeps the
// autoscaler's count: a PUT's count is where an autoscaled pool starts, not
// where it stays.
func poolDefaults(pool, old map[string]any) {
	setDefault(pool, "type", "VirtualMachineScaleSets")
	setDefault(pool, "osType", "Linux")
	setDefault(pool, "osDiskType", "Managed")
	setDefault(pool, "osDiskSizeGB", float64(128))
	setDefault(pool, "maxPods", float64(250))
	if auto, _ := pool["enableAutoScaling"].(bool); auto && old != nil && old["count"] != nil {
		pool["count"] = old["count"]
	}
	pool["nodeImageVersion"] = "AKSUbuntu-2204gen2containerd-202511.20.0"
	pool["powerState"] = map[string]any{"code": "Running"}
}

// clusterPools is every pool of cluster as AKS lists them in the cluster's
// agentPoolProfiles: the inline ones, then those made through the agentPools
// API (pulumi/pulumi-azure-native#1532: a refresh brings them into the
// cluster's state).
func clusterPools(s *cloudState, cluster *Resource) []map[string]any {
	separate := map[string]*Resource{}
	for _, r := range s.Resources {
		if r.Kind == KindAgentPool && r.ProvisioningState != StateDeleting && strings.EqualFold(clusterIDOf(r.Inputs), cluster.ID) {
			separate[r.Name] = r
		}
	}
	var pools []map[string]any
	for _, p := range sliceOf(cluster.Outputs, "agentPoolProfiles") {
		pool, _ := p.(map[string]any)
		if separate[str(pool, "name")] == nil {
			pools = append(pools, pool)
		}
	}
	for _, r := range s.Resources {
		if separate[r.Name] == r {
			pool := clonePlain(r.Outputs)
			for _, k := range []string{"resourceGroupName", "resourceName", "agentPoolName", "type", "id"} {
				delete(pool, k)
			}
			pool["name"] = r.Name
			pool["type"] = "VirtualMachineScaleSets"
			pools = append(pools, pool)
		}
	}
	return pools
}

// withPools is cluster's outputs as AKS answers a GET: every pool listed.
func withPools(s *cloudState, cluster *Resource) map[string]any {
	out := clonePlain(cluster.Outputs)
	var pools []any
	for _, p := range clusterPools(s, cluster) {
		pools = append(pools, p)
	}
	out["agentPoolProfiles"] = pools
	return out
}

// validatePoolsPut checks a cluster PUT's pools against the pools the cluster
// has: AKS refuses a new pool through the cluster ("A new agent pool was
// introduced. Adding agent pools to an existing cluster is not allowed through
// managed cluster operations", pulumi/pulumi-azure-native#579), and a pool's
// VM size, zones or OS disk changed (a new pool is the way). A pool left out
// of the PUT stays (pulumi/pulumi-azure-native#1686).
func validatePoolsPut(s *cloudState, cluster *Resource, news map[string]any) error {
	have := map[string]map[string]any{}
	for _, p := range clusterPools(s, cluster) {
		have[str(p, "name")] = p
	}
	for _, p := range sliceOf(news, "agentPoolProfiles") {
		pool, _ := p.(map[string]any)
		old, ok := have[str(pool, "name")]
		if !ok {
			return armError(400, "BadRequest", "A new agent pool was introduced. Adding agent pools to an existing cluster is not allowed through managed cluster operations. "+
				"For agent pool specific change, please use per agent pool operations: https://aka.ms/agent-pool-rest-api")
		}
		for _, prop := range poolImmutable {
			if v, set := pool[prop]; set && fmt.Sprint(old[prop]) != fmt.Sprint(v) {
				return armError(400, "PropertyChangeNotAllowed", fmt.Sprintf("Changing property 'agentPoolProfile.%s' is not allowed.", prop))
			}
		}
	}
	return nil
}

// poolImmutable are a pool's properties AKS fixes when it makes the pool:
// "use a new node pool" (https://learn.microsoft.com/azure/aks/resize-node-pool).
var poolImmutable = []string{"vmSize", "availabilityZones", "osDiskType", "osDiskSizeGB", "osType", "vnetSubnetID", "maxPods"}

// withPoolsOf is r's outputs as a GET answers them: a cluster's with every pool.
func withPoolsOf(s *cloudState, r *Resource) map[string]any {
	if r.Kind == KindCluster {
		return withPools(s, r)
	}
	return r.Outputs
}

// located says whether resources of kind k have a location: child and
// extension resources, and role assignments, do not.
func (k *armKind) located() bool {
	switch k.Kind {
	case KindRoleAssignment, KindAgentPool, KindMaintenance, KindDCRA, KindDiagnostics:
		return false
	}
	return true
}
