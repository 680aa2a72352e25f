// arm.go: what the simulated Azure Resource Manager knows about each resource type it
// serves: ids, names, which changes replace, and ARM's errors.

package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// armKind describes one ARM resource type. Behaviour keys on it, not on the Pulumi
// token, so any API version of a type is served alike.
type armKind struct {
	Kind string
	// ARMType is the ARM type, e.g. Microsoft.ContainerRegistry/registries.
	ARMType string
	// NameProp is the input naming the resource; autonaming fills it.
	NameProp string
	// ForceNew lists the top-level inputs whose change makes azure-native
	// replace the resource rather than update it (see forceNew).
	ForceNew []string
	// Required lists inputs ARM cannot do without.
	Required []string
	// Computed lists output paths only ARM knows (read-only properties): unknown
	// in a preview of a create, and left out when a refresh projects outputs
	// back onto inputs.
	Computed [][]string
}

// forceNew is azure-native v2's replace rule for a type: the path parameters of
// the resource's PUT (its name, resource group, parent and scope), the properties
// the Azure REST specs mark create-only (x-ms-mutability without "update"), and
// the provider's own forceNewMap (pulumi/pulumi-azure-native
// provider/pkg/gen, forceNewMap: RoleAssignment principalId and scope;
// ManagedCluster diskEncryptionSetID, dnsPrefix, fqdnSubdomain, linuxProfile,
// location, networkProfile, nodeResourceGroup, windowsProfile; ResourceGroup
// location). The provider's generated metadata holds the union; it ships inside
// the provider binary, which the module proxy does not serve, so it is copied
// here for the types the program uses, with where each entry comes from.
var forceNew = map[string][]string{
	KindResourceGroup: {"resourceGroupName" /* path */, "location" /* forceNewMap */},
	KindRegistry:      {"registryName", "resourceGroupName" /* path */, "location" /* create-only */},
	KindCacheRule: {"cacheRuleName", "registryName", "resourceGroupName", /* path */
		"sourceRepository", "targetRepository" /* create-only (CacheRuleProperties) */},
	KindIdentity:       {"resourceName", "resourceGroupName" /* path */, "location" /* create-only */},
	KindRoleAssignment: {"roleAssignmentName", "scope" /* path */, "principalId" /* forceNewMap */},
	KindCluster: {"resourceName", "resourceGroupName", /* path */
		"diskEncryptionSetID", "dnsPrefix", "fqdnSubdomain", "linuxProfile", "location", "networkProfile",
		"nodeResourceGroup", "windowsProfile" /* forceNewMap */},
	// The agent pool's vmSize, zones and OS disk are create-only in AKS (it
	// refuses a change), but azure-native marks none of them forceNew: the
	// program replaces the pool itself (replaceOnChanges).
	KindAgentPool:   {"agentPoolName", "resourceName", "resourceGroupName" /* path */},
	KindMaintenance: {"configName", "resourceName", "resourceGroupName" /* path */},
	KindWorkspace:   {"workspaceName", "resourceGroupName" /* path */, "location" /* create-only */},
	KindDCR:         {"dataCollectionRuleName", "resourceGroupName" /* path */, "location" /* create-only */},
	KindDCRA:        {"associationName", "resourceUri" /* path */},
	KindDiagnostics: {"name", "resourceUri" /* path */},
}

// armKinds, by "<module>:<Type>" of the Pulumi token with the API version removed.
var armKinds = map[string]*armKind{
	"resources:ResourceGroup": {
		Kind: KindResourceGroup, ARMType: "Microsoft.Resources/resourceGroups",
		NameProp: "resourceGroupName", ForceNew: forceNew[KindResourceGroup],
		Required: []string{"location"},
		Computed: [][]string{{"name"}, {"type"}, {"properties"}},
	},
	"containerregistry:Registry": {
		Kind: KindRegistry, ARMType: "Microsoft.ContainerRegistry/registries",
		NameProp: "registryName", ForceNew: forceNew[KindRegistry],
		Required: []string{"resourceGroupName", "sku"},
		Computed: [][]string{{"name"}, {"type"}, {"loginServer"}, {"provisioningState"}, {"creationDate"}, {"status"}, {"dataEndpointHostNames"}},
	},
	"containerregistry:CacheRule": {
		Kind: KindCacheRule, ARMType: "Microsoft.ContainerRegistry/registries/cacheRules",
		NameProp: "cacheRuleName", ForceNew: forceNew[KindCacheRule],
		Required: []string{"resourceGroupName", "registryName", "sourceRepository", "targetRepository"},
		Computed: [][]string{{"name"}, {"type"}, {"provisioningState"}, {"creationDate"}},
	},
	"managedidentity:UserAssignedIdentity": {
		Kind: KindIdentity, ARMType: "Microsoft.ManagedIdentity/userAssignedIdentities",
		NameProp: "resourceName", ForceNew: forceNew[KindIdentity],
		Required: []string{"resourceGroupName"},
		Computed: [][]string{{"name"}, {"type"}, {"principalId"}, {"clientId"}, {"tenantId"}},
	},
	"authorization:RoleAssignment": {
		Kind: KindRoleAssignment, ARMType: "Microsoft.Authorization/roleAssignments",
		NameProp: "roleAssignmentName", ForceNew: forceNew[KindRoleAssignment],
		Required: []string{"scope", "principalId", "roleDefinitionId"},
		Computed: [][]string{{"name"}, {"type"}, {"createdOn"}, {"updatedOn"}, {"createdBy"}, {"updatedBy"}},
	},
	"containerservice:ManagedCluster": {
		Kind: KindCluster, ARMType: "Microsoft.ContainerService/managedClusters",
		NameProp: "resourceName", ForceNew: forceNew[KindCluster],
		Required: []string{"resourceGroupName"},
		Computed: [][]string{
			{"name"}, {"type"}, {"fqdn"}, {"azurePortalFQDN"}, {"provisioningState"}, {"powerState"},
			{"currentKubernetesVersion"}, {"maxAgentPools"}, {"identity"}, {"oidcIssuerProfile", "issuerURL"},
		},
	},
	"containerservice:AgentPool": {
		Kind: KindAgentPool, ARMType: "Microsoft.ContainerService/managedClusters/agentPools",
		NameProp: "agentPoolName", ForceNew: forceNew[KindAgentPool],
		Required: []string{"resourceGroupName", "resourceName"},
		Computed: [][]string{{"name"}, {"type"}, {"provisioningState"}, {"currentOrchestratorVersion"}, {"nodeImageVersion"}, {"powerState"}},
	},
	"containerservice:MaintenanceConfiguration": {
		Kind: KindMaintenance, ARMType: "Microsoft.ContainerService/managedClusters/maintenanceConfigurations",
		NameProp: "configName", ForceNew: forceNew[KindMaintenance],
		Required: []string{"resourceGroupName", "resourceName"},
		Computed: [][]string{{"name"}, {"type"}, {"systemData"}},
	},
	"operationalinsights:Workspace": {
		Kind: KindWorkspace, ARMType: "Microsoft.OperationalInsights/workspaces",
		NameProp: "workspaceName", ForceNew: forceNew[KindWorkspace],
		Required: []string{"resourceGroupName"},
		Computed: [][]string{{"name"}, {"type"}, {"customerId"}, {"provisioningState"}, {"createdDate"}, {"modifiedDate"}},
	},
	"insights:DataCollectionRule": {
		Kind: KindDCR, ARMType: "Microsoft.Insights/dataCollectionRules",
		NameProp: "dataCollectionRuleName", ForceNew: forceNew[KindDCR],
		Required: []string{"resourceGroupName"},
		Computed: [][]string{{"name"}, {"type"}, {"immutableId"}, {"provisioningState"}},
	},
	"insights:DataCollectionRuleAssociation": {
		Kind: KindDCRA, ARMType: "Microsoft.Insights/dataCollectionRuleAssociations",
		NameProp: "associationName", ForceNew: forceNew[KindDCRA],
		Required: []string{"resourceUri"},
		Computed: [][]string{{"name"}, {"type"}, {"provisioningState"}},
	},
	"insights:DiagnosticSetting": {
		Kind: KindDiagnostics, ARMType: "Microsoft.Insights/diagnosticSettings",
		NameProp: "name", ForceNew: forceNew[KindDiagnostics],
		Required: []string{"resourceUri"},
		Computed: [][]string{{"type"}},
	},
}

// splitToken splits "pkg:module/version:Member" into module (without version) and member.
func splitToken(tok string) (pkg, module, member string, ok bool) {
	parts := strings.Split(tok, ":")
	if len(parts) != 3 {
		return "", "", "", false
	}
	module, _, _ = strings.Cut(parts[1], "/")
	return parts[0], module, parts[2], true
}

// kindOf returns the ARM kind a resource token creates.
func kindOf(tok string) (*armKind, error) {
	pkg, module, member, ok := splitToken(tok)
	if ok && pkg == "azure-native" {
		if k := armKinds[module+":"+member]; k != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("the simulated azure-native provider does not know resource type %s: "+
		"teach tests/e2e/sim what Azure would do with it", tok)
}

// replaces reports whether a change of top-level input key replaces the resource.
func (k *armKind) replaces(key string) bool {
	return slices.Contains(k.ForceNew, key)
}

// rgID is the ARM id of resource group rg.
func rgID(rg string) string {
	return subscriptionScope + "/resourceGroups/" + rg
}

// idOf is the ARM id of a resource of this kind with these inputs.
func (k *armKind) idOf(in map[string]any) string {
	name := str(in, k.NameProp)
	switch k.Kind {
	case KindResourceGroup:
		return rgID(name)
	case KindRoleAssignment:
		return strings.TrimSuffix(str(in, "scope"), "/") + "/providers/" + k.ARMType + "/" + name
	case KindCacheRule:
		return rgID(str(in, "resourceGroupName")) + "/providers/Microsoft.ContainerRegistry/registries/" + str(in, "registryName") + "/cacheRules/" + name
	case KindAgentPool, KindMaintenance:
		child := map[string]string{KindAgentPool: "agentPools", KindMaintenance: "maintenanceConfigurations"}[k.Kind]
		return clusterIDOf(in) + "/" + child + "/" + name
	case KindDCRA, KindDiagnostics:
		// Extension resources: under the resource they watch.
		return strings.TrimSuffix(str(in, "resourceUri"), "/") + "/providers/" + k.ARMType + "/" + name
	}
	return rgID(str(in, "resourceGroupName")) + "/providers/" + k.ARMType + "/" + name
}

// clusterIDOf is the ARM id of the managed cluster a child resource's inputs name.
func clusterIDOf(in map[string]any) string {
	return rgID(str(in, "resourceGroupName")) + "/providers/Microsoft.ContainerService/managedClusters/" + str(in, "resourceName")
}

// resourceGroupOf returns the resource group an ARM id lies in, if any.
func resourceGroupOf(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

// armError formats an ARM error response the way azure-native reports it.
func armError(status int, code, message string) error {
	return fmt.Errorf("autorest/azure: Service returned an error. Status=%d Code=%q Message=%q", status, code, message)
}

func errResourceGroupNotFound(rg string) error {
	return armError(404, "ResourceGroupNotFound", fmt.Sprintf("Resource group '%s' could not be found.", rg))
}

func errResourceNotFound(id string) error {
	armType, name := typeAndName(id)
	return armError(404, "ResourceNotFound", fmt.Sprintf(
		"The Resource '%s/%s' under resource group '%s' was not found. (id: %s) For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		armType, name, resourceGroupOf(id), id))
}

// errAuthorizationFailed is ARM's 403 for a caller without the permission.
func errAuthorizationFailed(principal, action, scope string) error {
	return armError(403, "AuthorizationFailed", fmt.Sprintf(
		"The client '%[1]s' with object id '%[1]s' does not have authorization to perform action '%s' over scope '%s' "+
			"or the scope is invalid. If access was recently granted, please refresh your credentials.", principal, action, scope))
}

// errAnotherOperation is the 409 ARM answers a PUT while an operation on the
// resource is still running (AKS: "Operation is not allowed because there's an
// in progress ... operation").
func errAnotherOperation(r *Resource) error {
	return armError(409, "OperationNotAllowed", fmt.Sprintf(
		"Operation is not allowed because there's an in progress %s operation on %s %s started at %s. Please wait for it to complete.",
		strings.ToLower(r.ProvisioningState), r.Type, r.Name, r.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")))
}

// typeAndName returns the last "<namespace>/<type>" and name of an ARM id.
func typeAndName(id string) (string, string) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.EqualFold(parts[i], "providers") && i+3 < len(parts) {
			last := parts[i+1:]
			return strings.Join(last[:len(last)-1], "/"), last[len(last)-1]
		}
	}
	return "Microsoft.Resources/resourceGroups", parts[len(parts)-1]
}

// deployer is who calls ARM: the identity the provider is signed in as.
const deployer = tenant.DeployerObjectID
