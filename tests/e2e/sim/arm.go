// arm.go: what the simulated Azure Resource Manager knows about each resource type it
// serves: ids, names, which changes replace, and the outputs it computes.

package sim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// armKind describes one ARM resource type. Behaviour keys on it, not on the Pulumi
// token, so any API version of a type is served alike.
type armKind struct {
	Kind string
	// ARMType is the ARM type, e.g. Microsoft.ContainerRegistry/registries.
	ARMType string
	// NameProp is the input naming the resource; autonaming fills it.
	NameProp string
	// ForceNew lists inputs whose change replaces the resource; AllForceNew says
	// every input does (ARM refuses to update a role assignment).
	ForceNew    []string
	AllForceNew bool
	// Required lists inputs ARM cannot do without.
	Required []string
	// Computed lists output paths only ARM knows: unknown in a preview of a create.
	Computed [][]string
}

// armKinds, by "<module>:<Type>" of the Pulumi token with the API version removed.
var armKinds = map[string]*armKind{
	"resources:ResourceGroup": {
		Kind: KindResourceGroup, ARMType: "Microsoft.Resources/resourceGroups",
		NameProp: "resourceGroupName", ForceNew: []string{"resourceGroupName", "location"},
		Required: []string{"location"},
		Computed: [][]string{{"name"}, {"type"}, {"properties"}},
	},
	"containerregistry:Registry": {
		Kind: KindRegistry, ARMType: "Microsoft.ContainerRegistry/registries",
		NameProp: "registryName", ForceNew: []string{"registryName", "resourceGroupName", "location"},
		Required: []string{"resourceGroupName", "sku"},
		Computed: [][]string{{"name"}, {"type"}, {"loginServer"}, {"provisioningState"}, {"creationDate"}},
	},
	"containerregistry:CacheRule": {
		Kind: KindCacheRule, ARMType: "Microsoft.ContainerRegistry/registries/cacheRules",
		NameProp: "cacheRuleName", ForceNew: []string{"cacheRuleName", "registryName", "resourceGroupName", "sourceRepository"},
		Required: []string{"resourceGroupName", "registryName", "sourceRepository", "targetRepository"},
		Computed: [][]string{{"name"}, {"type"}, {"provisioningState"}, {"creationDate"}},
	},
	"managedidentity:UserAssignedIdentity": {
		Kind: KindIdentity, ARMType: "Microsoft.ManagedIdentity/userAssignedIdentities",
		NameProp: "resourceName", ForceNew: []string{"resourceName", "resourceGroupName", "location"},
		Required: []string{"resourceGroupName"},
		Computed: [][]string{{"name"}, {"type"}, {"principalId"}, {"clientId"}, {"tenantId"}},
	},
	"authorization:RoleAssignment": {
		Kind: KindRoleAssignment, ARMType: "Microsoft.Authorization/roleAssignments",
		NameProp: "roleAssignmentName", AllForceNew: true,
		Required: []string{"scope", "principalId", "roleDefinitionId"},
		Computed: [][]string{{"name"}, {"type"}, {"createdOn"}, {"updatedOn"}, {"createdBy"}, {"updatedBy"}},
	},
	"containerservice:ManagedCluster": {
		Kind: KindCluster, ARMType: "Microsoft.ContainerService/managedClusters",
		NameProp: "resourceName", ForceNew: []string{"resourceName", "resourceGroupName", "location", "dnsPrefix"},
		Required: []string{"resourceGroupName"},
		Computed: [][]string{
			{"name"}, {"type"}, {"fqdn"}, {"azurePortalFQDN"}, {"provisioningState"}, {"powerState"},
			{"currentKubernetesVersion"}, {"nodeResourceGroup"}, {"oidcIssuerProfile", "issuerURL"},
			{"maxAgentPools"}, {"identity"},
		},
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
	if k.AllForceNew {
		return true
	}
	for _, f := range k.ForceNew {
		if f == key {
			return true
		}
	}
	return false
}

// rgID is the ARM id of resource group rg.
func rgID(rg string) string {
	return "/subscriptions/" + SubscriptionID + "/resourceGroups/" + rg
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
	}
	return rgID(str(in, "resourceGroupName")) + "/providers/" + k.ARMType + "/" + name
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

// The built-in role AKS requires the control-plane identity to hold on a
// pre-created kubelet identity.
const managedIdentityOperatorRole = "f1a07417-d97a-45cb-824c-7a7467783830"

// validate makes ARM's checks of a PUT that creates r in s.
func (k *armKind) validate(s *cloudState, r *Resource) error {
	in := r.Inputs
	if k.Kind != KindResourceGroup && k.Kind != KindRoleAssignment {
		if g := s.find(rgID(r.ResourceGroup)); g == nil || g.ProvisioningState == StateDeleting {
			return errResourceGroupNotFound(r.ResourceGroup)
		}
	}
	switch k.Kind {
	case KindRegistry:
		if !validRegistryName(r.Name) {
			return armError(400, "InvalidResourceName", fmt.Sprintf(
				"Resource name '%s' is invalid: registry names may contain alpha numeric characters only and must be between 5 and 50 characters.", r.Name))
		}
		for _, o := range s.Resources {
			if o.Kind == KindRegistry && strings.EqualFold(o.Name, r.Name) {
				return armError(409, "AlreadyInUse", fmt.Sprintf("The registry DNS name %s.azurecr.io is already in use.", strings.ToLower(r.Name)))
			}
		}
	case KindRoleAssignment:
		return validateRoleAssignment(s, r)
	case KindCacheRule:
		registryID := strings.TrimSuffix(r.ID, "/cacheRules/"+r.Name)
		if reg := s.find(registryID); reg == nil || reg.ProvisioningState == StateDeleting {
			return errResourceNotFound(registryID)
		}
		for _, o := range s.Resources {
			if o.Kind == KindCacheRule && strings.HasPrefix(o.ID, registryID+"/") && str(o.Inputs, "targetRepository") == str(in, "targetRepository") {
				return armError(409, "CacheRuleTargetRepositoryConflict", fmt.Sprintf(
					"Cache rule %s already maps target repository %s.", o.Name, str(in, "targetRepository")))
			}
		}
	case KindCluster:
		return validateCluster(s, in)
	}
	return nil
}

func validRegistryName(n string) bool {
	if len(n) < 5 || len(n) > 50 {
		return false
	}
	for _, c := range n {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func validateRoleAssignment(s *cloudState, r *Resource) error {
	in := r.Inputs
	if _, err := uuid.Parse(r.Name); err != nil {
		return armError(400, "InvalidRoleAssignmentId", fmt.Sprintf(
			"The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", r.Name))
	}
	scope := str(in, "scope")
	if rg := resourceGroupOf(scope); rg != "" {
		if s.find(rgID(rg)) == nil {
			return errResourceGroupNotFound(rg)
		}
		if s.find(scope) == nil {
			return errResourceNotFound(scope)
		}
	}
	principal := str(in, "principalId")
	// ARM checks a given principalType against the directory's.
	principalType := str(in, "principalType")
	mismatch := func(actual string) error {
		if principalType == "" || principalType == actual {
			return nil
		}
		return armError(400, "UnmatchedPrincipalType", fmt.Sprintf(
			"The PrincipalId '%s' has type '%s' , which is different from specified PrincipalType '%s'.",
			strings.ReplaceAll(principal, "-", ""), actual, principalType))
	}
	known := false
	if actual, ok := Directory[strings.ToLower(principal)]; ok {
		known = true
		if err := mismatch(actual); err != nil {
			return err
		}
	}
	for _, o := range s.Resources {
		if known || o.Kind != KindIdentity {
			continue
		}
		if strings.EqualFold(str(o.Outputs, "principalId"), principal) {
			known = true
			if err := mismatch("ServicePrincipal"); err != nil {
				return err
			}
			break
		}
		if strings.EqualFold(str(o.Outputs, "clientId"), principal) {
			// ARM takes a client id where an object id belongs (with principalType
			// set it does not look the principal up), and the grant then does nothing.
			known = true
			r.Note = fmt.Sprintf("principalId %s is the client id of identity %s, not its object id: the assignment grants nothing", principal, o.ID)
			break
		}
	}
	if !known {
		return armError(400, "PrincipalNotFound", fmt.Sprintf(
			"Principal %s does not exist in the directory %s. Check that you have the correct principal ID.",
			strings.ReplaceAll(principal, "-", ""), TenantID))
	}
	role := roleGUID(str(in, "roleDefinitionId"))
	for _, o := range s.Resources {
		if o.Kind == KindRoleAssignment && strings.EqualFold(str(o.Inputs, "scope"), scope) &&
			strings.EqualFold(str(o.Inputs, "principalId"), principal) &&
			strings.EqualFold(roleGUID(str(o.Inputs, "roleDefinitionId")), role) {
			return armError(409, "RoleAssignmentExists", fmt.Sprintf(
				"The role assignment already exists. The ID of the existing role assignment is %s.", strings.ReplaceAll(o.Name, "-", "")))
		}
	}
	return nil
}

// roleGUID returns the GUID at the end of a role definition id.
func roleGUID(id string) string {
	return id[strings.LastIndex(id, "/")+1:]
}

// validateCluster makes AKS's check of a pre-created kubelet identity: the
// control-plane identity must hold Managed Identity Operator on it.
func validateCluster(s *cloudState, in map[string]any) error {
	profile, _ := in["identityProfile"].(map[string]any)
	kubelet, _ := profile["kubeletidentity"].(map[string]any)
	kubeletID := str(kubelet, "resourceId")
	if kubeletID == "" {
		return nil
	}
	if s.find(kubeletID) == nil {
		return armError(400, "CustomKubeletIdentityNotFound", fmt.Sprintf("The kubelet identity %s could not be found.", kubeletID))
	}
	identity, _ := in["identity"].(map[string]any)
	for _, cpID := range userAssignedIDs(identity) {
		cp := s.find(cpID)
		if cp == nil {
			return armError(400, "InvalidUserAssignedIdentity", fmt.Sprintf("The user assigned identity %s could not be found.", cpID))
		}
		cpPrincipal := str(cp.Outputs, "principalId")
		if !s.granted(cpPrincipal, managedIdentityOperatorRole, kubeletID) {
			return armError(400, "CustomKubeletIdentityMissingPermissionError", fmt.Sprintf(
				"The cluster using user-assigned managed identity must be granted 'Managed Identity Operator' role to assign kubelet identity. "+
					"You can run 'az role assignment create --assignee %s --role 'Managed Identity Operator' --scope %s' to grant the permission.",
				cpPrincipal, kubeletID))
		}
	}
	return nil
}

// granted reports whether principal holds role on target, through an assignment
// on target or on a scope containing it.
func (s *cloudState) granted(principal, role, target string) bool {
	for _, ra := range s.Resources {
		if ra.Kind == KindRoleAssignment && ra.ProvisioningState != StateDeleting &&
			strings.EqualFold(str(ra.Inputs, "principalId"), principal) &&
			strings.EqualFold(roleGUID(str(ra.Inputs, "roleDefinitionId")), role) &&
			under(target, str(ra.Inputs, "scope")) {
			return true
		}
	}
	return false
}

// userAssignedIDs returns the identity ids of a cluster's identity input: the SDK
// sends an array, ARM answers with a map keyed by id.
func userAssignedIDs(identity map[string]any) []string {
	var ids []string
	switch v := identity["userAssignedIdentities"].(type) {
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				ids = append(ids, s)
			}
		}
	case map[string]any:
		for id := range v {
			ids = append(ids, id)
		}
	}
	return ids
}

// outputs returns what ARM answers for a resource of this kind with inputs in: the
// inputs echoed plus what ARM computes. Values computed before (prev, the previous
// outputs of an update) are kept: an update never changes an identity's principal
// id or a cluster's FQDN.
func (k *armKind) outputs(s *cloudState, r *Resource, prev map[string]any, now time.Time) map[string]any {
	in := r.Inputs
	out := clonePlain(in)
	keep := func(key string, fresh func() any) {
		if v, ok := prev[key]; ok && v != nil {
			out[key] = v
		} else {
			out[key] = fresh()
		}
	}
	out["name"] = r.Name
	out["type"] = k.ARMType
	switch k.Kind {
	case KindResourceGroup:
		out["properties"] = map[string]any{"provisioningState": r.ProvisioningState}
	case KindCacheRule:
		out["provisioningState"] = r.ProvisioningState
		keep("creationDate", func() any { return now.UTC().Format(time.RFC3339Nano) })
	case KindRegistry:
		out["loginServer"] = strings.ToLower(r.Name) + ".azurecr.io"
		out["provisioningState"] = r.ProvisioningState
		keep("creationDate", func() any { return now.UTC().Format(time.RFC3339Nano) })
		if sku, ok := in["sku"].(map[string]any); ok {
			sku = clonePlain(sku)
			sku["tier"] = sku["name"]
			out["sku"] = sku
		}
	case KindIdentity:
		keep("principalId", func() any { return uuid.NewString() })
		keep("clientId", func() any { return uuid.NewString() })
		out["tenantId"] = TenantID
	case KindRoleAssignment:
		keep("createdOn", func() any { return now.UTC().Format(time.RFC3339Nano) })
		out["updatedOn"] = now.UTC().Format(time.RFC3339Nano)
		out["createdBy"] = AADTokenPrincipal
		out["updatedBy"] = AADTokenPrincipal
	case KindCluster:
		location := str(in, "location")
		keep("fqdn", func() any { return fmt.Sprintf("%s-%s.hcp.%s.azmk8s.io", str(in, "dnsPrefix"), randomHex(4), location) })
		out["azurePortalFQDN"] = strings.Replace(out["fqdn"].(string), ".hcp.", ".portal.hcp.", 1)
		out["provisioningState"] = r.ProvisioningState
		out["powerState"] = map[string]any{"code": "Running"}
		version := str(in, "kubernetesVersion")
		if version == "" {
			version = defaultKubernetesVersion
		}
		out["currentKubernetesVersion"] = version
		out["nodeResourceGroup"] = fmt.Sprintf("MC_%s_%s_%s", r.ResourceGroup, r.Name, location)
		out["maxAgentPools"] = float64(100)
		oidc, _ := in["oidcIssuerProfile"].(map[string]any)
		if oidc != nil {
			oidc = clonePlain(oidc)
		} else {
			oidc = map[string]any{}
		}
		if prevOIDC, ok := prev["oidcIssuerProfile"].(map[string]any); ok && prevOIDC["issuerURL"] != nil {
			oidc["issuerURL"] = prevOIDC["issuerURL"]
		} else {
			oidc["issuerURL"] = fmt.Sprintf("https://%s.oic.prod-aks.azure.com/%s/%s/", location, TenantID, uuid.NewString())
		}
		out["oidcIssuerProfile"] = oidc
		if identity, ok := in["identity"].(map[string]any); ok {
			out["identity"] = clusterIdentity(s, identity)
		}
	}
	return out
}

// AADTokenPrincipal is the object id of the deploying identity, the one AADToken
// stands for: role assignments record it as their creator.
const AADTokenPrincipal = "9a4e1c7b-2d3f-4b8a-8e6d-0f1a2b3c4d5e"

// Directory is the simulated Entra ID's principals that exist before any deploy,
// by object id: the deploying identity, a service principal as in CI.
var Directory = map[string]string{AADTokenPrincipal: "ServicePrincipal"}

// The built-in roles of Azure RBAC for Kubernetes authorization that let the
// holder create the app's objects.
const aksRBACClusterAdminRole = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"

// defaultKubernetesVersion is the version AKS picks when none is asked for.
const defaultKubernetesVersion = "1.33.5"

// clusterIdentity answers a cluster's identity the way ARM does: user-assigned
// identities as a map from id to their client and principal ids.
func clusterIdentity(s *cloudState, identity map[string]any) map[string]any {
	out := clonePlain(identity)
	ids := userAssignedIDs(identity)
	if ids == nil {
		return out
	}
	m := map[string]any{}
	for _, id := range ids {
		entry := map[string]any{}
		if r := s.find(id); r != nil {
			entry["clientId"] = str(r.Outputs, "clientId")
			entry["principalId"] = str(r.Outputs, "principalId")
		}
		m[id] = entry
	}
	out["userAssignedIdentities"] = m
	return out
}

// setProvisioningState sets r's state and the output that reports it.
func setProvisioningState(r *Resource, state string) {
	r.ProvisioningState = state
	if r.Outputs == nil {
		return
	}
	switch r.Kind {
	case KindResourceGroup:
		r.Outputs["properties"] = map[string]any{"provisioningState": state}
	case KindRegistry, KindCluster, KindCacheRule:
		r.Outputs["provisioningState"] = state
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
