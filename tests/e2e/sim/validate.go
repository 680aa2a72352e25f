// validate.go: the checks Azure makes of a PUT before it accepts it, with Azure's
// error codes: names, the caller's permissions, principals, AKS's rules for a
// cluster and its pre-created kubelet identity, the cache rule's upstream, and
// what an update may not change.

package sim

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// validate makes ARM's checks of a PUT that creates r in s at now.
func (k *armKind) validate(s *cloudState, r *Resource, now time.Time, lat Latency) error {
	if k.Kind != KindResourceGroup && k.Kind != KindRoleAssignment {
		if g := s.find(rgID(r.ResourceGroup)); g == nil || g.ProvisioningState == StateDeleting {
			return errResourceGroupNotFound(r.ResourceGroup)
		}
	}
	switch k.Kind {
	case KindResourceGroup:
		return validateName(r.Name, resourceGroupNameRE, "resource group",
			"Resource group names only allow up to 90 characters and can only include alphanumeric, underscore, parentheses, hyphen, period (except at end), and Unicode characters that match the allowed characters.")
	case KindIdentity:
		return validateName(r.Name, identityNameRE, "user assigned identity",
			"The name must be 3 to 128 characters long, start with a letter or number, and contain only letters, numbers, hyphens and underscores.")
	case KindRegistry:
		return validateRegistry(s, r)
	case KindRoleAssignment:
		return validateRoleAssignment(s, r, now, lat)
	case KindCacheRule:
		return validateCacheRule(s, r)
	case KindCluster:
		if err := validateName(r.Name, clusterNameRE, "managed cluster",
			"The name can contain only letters, numbers, underscores and hyphens, must start and end with a letter or number, and be 1 to 63 characters long."); err != nil {
			return err
		}
		if err := validateClusterSpec(r.Inputs); err != nil {
			return err
		}
		if err := validateClusterAddons(s, r.Inputs); err != nil {
			return err
		}
		return validateKubeletIdentity(s, r.Inputs, now, lat)
	case KindAgentPool, KindMaintenance, KindWorkspace, KindDCR, KindDCRA, KindDiagnostics:
		return validateBaseline(s, k, r, now)
	}
	return nil
}

var (
	resourceGroupNameRE = regexp.MustCompile(`^[-\w._()]{0,89}[-\w_()]$`)
	identityNameRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$`)
	clusterNameRE       = regexp.MustCompile(`^[A-Za-z0-9]$|^[A-Za-z0-9][-_A-Za-z0-9]{0,61}[A-Za-z0-9]$`)
	registryNameRE      = regexp.MustCompile(`^[A-Za-z0-9]{5,50}$`)
	// dnsPrefixRE is AKS's rule for dnsPrefix: 1-54 letters, digits and hyphens,
	// beginning and ending with a letter or digit.
	// The pattern of ManagedClusterProperties.dnsPrefix in the AKS REST API spec
	// (azure-rest-api-specs, containerservice managedClusters.json) and the naming
	// rules, https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftcontainerservice.
	dnsPrefixRE = regexp.MustCompile(`^[A-Za-z0-9]$|^[A-Za-z0-9][-A-Za-z0-9]{0,52}[A-Za-z0-9]$`)
)

func validateName(name string, re *regexp.Regexp, what, rule string) error {
	if !re.MatchString(name) {
		return armError(400, "InvalidResourceName", fmt.Sprintf("The %s name '%s' is invalid. %s", what, name, rule))
	}
	return nil
}

func validateRegistry(s *cloudState, r *Resource) error {
	// Registry names: 5-50 alphanumerics, globally unique (resource-name-rules#microsoftcontainerregistry;
	// https://learn.microsoft.com/azure/container-registry/container-registry-get-started-portal).
	if !registryNameRE.MatchString(r.Name) {
		return armError(400, "InvalidResourceName", fmt.Sprintf(
			"Resource name '%s' is invalid: registry names may contain alpha numeric characters only and must be between 5 and 50 characters.", r.Name))
	}
	for _, o := range s.Resources {
		if o.Kind == KindRegistry && strings.EqualFold(o.Name, r.Name) {
			return armError(409, "AlreadyInUse", fmt.Sprintf("The registry DNS name %s.azurecr.io is already in use.", strings.ToLower(r.Name)))
		}
	}
	sku := str(obj(r.Inputs, "sku"), "name")
	if !slices.Contains([]string{"Basic", "Standard", "Premium"}, sku) {
		return armError(400, "InvalidSku", fmt.Sprintf("The SKU '%s' is not valid. Valid SKUs are Basic, Standard, Premium.", sku))
	}
	// Zone redundancy is a Premium feature, set at create only
	// (https://learn.microsoft.com/azure/container-registry/zone-redundancy).
	if str(r.Inputs, "zoneRedundancy") == "Enabled" && sku != "Premium" {
		return armError(400, "ZoneRedundancyNotSupportedForSku", "Zone redundancy is supported only for registries of the Premium SKU.")
	}
	return nil
}

// validateRoleAssignment is ARM's checks of a new role assignment: the caller
// may assign roles at the scope, the scope exists, the principal is known to
// the directory (a managed identity only once replicated, unless principalType
// says what it is, which skips the look-up), a given principalType is the
// principal's, and no other assignment grants the same role to the same
// principal at the same scope.
func validateRoleAssignment(s *cloudState, r *Resource, now time.Time, lat Latency) error {
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
	if ok, _ := s.holds(deployer, mayAssignRoles, scope, now, lat); !ok {
		return errAuthorizationFailed(deployer, "Microsoft.Authorization/roleAssignments/write", r.ID)
	}
	principal := str(in, "principalId")
	principalType := str(in, "principalType")
	known, actual, identity := s.principalKnown(principal, now, lat)
	switch {
	case identity != nil && strings.EqualFold(str(identity.Outputs, "clientId"), principal):
		// ARM takes a client id where an object id belongs (with principalType
		// set it does not look the principal up), and the grant then does nothing.
		r.Note = fmt.Sprintf("principalId %s is the client id of identity %s, not its object id: the assignment grants nothing", principal, identity.ID)
	case identity != nil && principalType != "":
		// "If you create a new service principal and immediately try to assign a
		// role to it ... set the principalType property" (Azure RBAC docs,
		// role-assignments-template#new-service-principal): no look-up is made.
		if principalType != actual {
			return errUnmatchedPrincipalType(principal, actual, principalType)
		}
	case !known:
		return armError(400, "PrincipalNotFound", fmt.Sprintf(
			"Principal %s does not exist in the directory %s. Check that you have the correct principal ID. "+
				"If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. "+
				"In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.",
			strings.ReplaceAll(principal, "-", ""), tenant.TenantID))
	case principalType != "" && principalType != actual:
		return errUnmatchedPrincipalType(principal, actual, principalType)
	}
	// One assignment per principal, role and scope: RoleAssignmentExists
	// (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting,
	// "The role assignment already exists").
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

func errUnmatchedPrincipalType(principal, actual, given string) error {
	return armError(400, "UnmatchedPrincipalType", fmt.Sprintf(
		"The PrincipalId '%s' has type '%s' , which is different from specified PrincipalType '%s'.",
		strings.ReplaceAll(principal, "-", ""), actual, given))
}

// dockerHubHosts are Docker Hub's names in a cache rule's source repository.
var dockerHubHosts = []string{"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

func validateCacheRule(s *cloudState, r *Resource) error {
	in := r.Inputs
	registryID := strings.TrimSuffix(r.ID, "/cacheRules/"+r.Name)
	if reg := s.find(registryID); reg == nil || reg.ProvisioningState == StateDeleting {
		return errResourceNotFound(registryID)
	}
	host, _, _ := strings.Cut(str(in, "sourceRepository"), "/")
	if slices.Contains(dockerHubHosts, strings.ToLower(host)) && str(in, "credentialSetResourceId") == "" {
		// The answer a real acceptance run got (hashicorp/terraform-provider-azurerm
		// PR #27983): Docker Hub supports authenticated pulls only.
		return armError(400, "EnforceDockerAuthentication",
			"Cannot create cache rule pointing to Docker Hub without credentials. Please add a credential set to cache rule.")
	}
	// A registry maps each target repository once
	// (https://learn.microsoft.com/azure/container-registry/artifact-cache-overview).
	for _, o := range s.Resources {
		if o.Kind == KindCacheRule && strings.HasPrefix(o.ID, registryID+"/") && str(o.Inputs, "targetRepository") == str(in, "targetRepository") {
			return armError(409, "CacheRuleTargetRepositoryConflict", fmt.Sprintf(
				"Cache rule %s already maps target repository %s.", o.Name, str(in, "targetRepository")))
		}
	}
	return nil
}

// supportedKubernetesMinors are the minor versions AKS offers in the simulated
// region, newest last; each has patchesOf patch releases (defaultKubernetesPatch
// and the ones before it).
var supportedKubernetesMinors = []string{"1.31", "1.32", "1.33"}

const (
	defaultKubernetesMinor = "1.33"
	defaultKubernetesPatch = 5
)

var versionRE = regexp.MustCompile(`^([0-9]+\.[0-9]+)(?:\.([0-9]+))?$`)

// invalidParameter is AKS's 400 for a value it does not accept.
func invalidParameter(param, why string) error {
	return armError(400, "InvalidParameter", fmt.Sprintf("The value of parameter %s is invalid. %s", param, why))
}

// validatePool is AKS's checks of one node pool, inline in a cluster or an
// agentPools resource: the autoscaler's counts, the zones and the OS disk.
func validatePool(param string, pool map[string]any) error {
	invalid := invalidParameter
	count, hasCount := num(pool, "count")
	// The autoscaler's bounds and count (https://learn.microsoft.com/azure/aks/cluster-autoscaler:
	// minCount and maxCount are required with it, and count must lie between them).
	if auto, _ := pool["enableAutoScaling"].(bool); auto {
		lo, okLo := num(pool, "minCount")
		hi, okHi := num(pool, "maxCount")
		switch {
		case !okLo || !okHi:
			return invalid(param, "minCount and maxCount are required when enableAutoScaling is true.")
		case lo < 1 && str(pool, "mode") == "System":
			return invalid(param+".minCount", "A system pool needs at least one node.")
		case hi < lo || hi > 1000:
			return invalid(param+".maxCount", fmt.Sprintf("maxCount %d must be between minCount %d and 1000.", hi, lo))
		case hasCount && (count < lo || count > hi):
			return invalid(param+".count", fmt.Sprintf("count %d must be between minCount %d and maxCount %d.", count, lo, hi))
		}
	} else if hasCount && (count < 0 || count > 1000) {
		return invalid(param+".count", "count must be between 0 and 1000.")
	}
	if zones, _ := pool["availabilityZones"].([]any); len(zones) > 0 {
		for _, z := range zones {
			if zs, _ := z.(string); zs != "1" && zs != "2" && zs != "3" {
				return invalid(param+".availabilityZones", fmt.Sprintf("Zone %v does not exist in this region.", z))
			}
		}
	}
	return validateOSDisk(param, pool)
}

// ephemeralCapacityGB is the temp disk or cache, in GiB, of the VM sizes the
// simulated region can give an ephemeral OS disk; a size not listed has neither
// (Dsv5 and Dasv5 have no temp disk). The Ddsv5 and Edsv5 series pages
// (https://learn.microsoft.com/azure/virtual-machines/sizes/general-purpose/ddsv5-series)
// and AKS's storage concepts (https://learn.microsoft.com/azure/aks/concepts-storage#ephemeral-os-disk:
// the OS disk must fit the VM's cache or temp disk).
var ephemeralCapacityGB = map[string]int{
	"Standard_D2ds_v5": 75, "Standard_D4ds_v5": 150, "Standard_D8ds_v5": 300, "Standard_D16ds_v5": 600,
	"Standard_E2ds_v5": 75, "Standard_E4ds_v5": 150, "Standard_DS2_v2": 86, "Standard_DS3_v2": 172,
}

// validateOSDisk refuses an ephemeral OS disk the VM size cannot hold: AKS
// defaults the disk to 128 GB and checks it fits.
func validateOSDisk(param string, pool map[string]any) error {
	if str(pool, "osDiskType") != "Ephemeral" {
		return nil
	}
	size := str(pool, "vmSize")
	capacity, ok := ephemeralCapacityGB[size]
	want, set := num(pool, "osDiskSizeGB")
	if !set {
		want = 128
	}
	switch {
	case !ok:
		return invalidParameter(param+".osDiskType", fmt.Sprintf("VM size %s does not support ephemeral OS disks: it has no cache or temp disk.", size))
	case want > capacity:
		return invalidParameter(param+".osDiskSizeGB", fmt.Sprintf(
			"OS disk size %d GB exceeds the %d GB that VM size %s can hold for an ephemeral OS disk.", want, capacity, size))
	}
	return nil
}

// validateClusterSpec is AKS's checks of a managed cluster's spec, each with
// the code AKS gives it: the DNS prefix, the Kubernetes version, the node
// pools' counts, the network plugin, mode, dataplane and policy together, and
// what Entra integration and local accounts need.
func validateClusterSpec(in map[string]any) error {
	invalid := invalidParameter
	if p := str(in, "dnsPrefix"); !dnsPrefixRE.MatchString(p) && str(in, "fqdnSubdomain") == "" {
		return armError(400, "InvalidDNSPrefix", fmt.Sprintf(
			"DNS prefix '%s' is invalid: it must contain between 1 and 54 characters, only letters, numbers and hyphens, and start and end with a letter or number.", p))
	}
	// Only the region's supported versions, MAJOR.MINOR or a full patch
	// (https://learn.microsoft.com/azure/aks/supported-kubernetes-versions; API reference of
	// kubernetesVersion: "When <major.minor> is specified, the latest supported GA patch
	// version is chosen automatically").
	if v := str(in, "kubernetesVersion"); v != "" {
		m := versionRE.FindStringSubmatch(v)
		if m == nil || !slices.Contains(supportedKubernetesMinors, m[1]) {
			return armError(400, "K8sVersionNotSupported", fmt.Sprintf(
				"Version %s is not supported in this region. Supported versions: %s (MAJOR.MINOR picks the latest patch).", v, strings.Join(supportedKubernetesMinors, ", ")))
		}
	}
	pools, _ := in["agentPoolProfiles"].([]any)
	if len(pools) == 0 {
		return invalid("agentPoolProfiles", "A cluster needs at least one agent pool.")
	}
	system := 0
	for i, p := range pools {
		pool, _ := p.(map[string]any)
		if str(pool, "mode") == "System" {
			system++
		}
		if err := validatePool(fmt.Sprintf("agentPoolProfiles[%d]", i), pool); err != nil {
			return err
		}
	}
	// https://learn.microsoft.com/azure/aks/use-system-pools: "every AKS cluster must
	// contain at least one system node pool".
	if system == 0 {
		return armError(400, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool.")
	}
	// Overlay and the Cilium dataplane need Azure CNI, and Cilium enforces policy itself
	// (https://learn.microsoft.com/azure/aks/azure-cni-overlay,
	// https://learn.microsoft.com/azure/aks/azure-cni-powered-by-cilium).
	net := obj(in, "networkProfile")
	plugin, mode, dataplane, policy := str(net, "networkPlugin"), str(net, "networkPluginMode"), str(net, "networkDataplane"), str(net, "networkPolicy")
	switch {
	case mode == "overlay" && plugin != "azure":
		return invalid("networkProfile.networkPluginMode", "networkPluginMode overlay requires networkPlugin azure.")
	case dataplane == "cilium" && plugin != "azure":
		return invalid("networkProfile.networkDataplane", "networkDataplane cilium requires networkPlugin azure.")
	case dataplane == "cilium" && policy != "" && policy != "cilium" && policy != "none":
		return invalid("networkProfile.networkPolicy", fmt.Sprintf("networkPolicy %s cannot be used with networkDataplane cilium: use cilium.", policy))
	case policy == "cilium" && dataplane != "cilium":
		return invalid("networkProfile.networkPolicy", "networkPolicy cilium requires networkDataplane cilium.")
	}
	// Azure RBAC for Kubernetes needs managed Entra integration
	// (https://learn.microsoft.com/azure/aks/manage-azure-rbac), and so do disabled local
	// accounts (https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad).
	aad := obj(in, "aadProfile")
	managed, _ := aad["managed"].(bool)
	if azureRBAC, _ := aad["enableAzureRBAC"].(bool); azureRBAC && !managed {
		return invalid("aadProfile.enableAzureRBAC", "Azure RBAC for Kubernetes authorization requires managed Microsoft Entra integration (aadProfile.managed).")
	}
	if disabled, _ := in["disableLocalAccounts"].(bool); disabled && !managed {
		return armError(400, "BadRequest", "Local accounts can be disabled only on a cluster with managed Microsoft Entra integration.")
	}
	for i, r := range sliceOf(obj(in, "apiServerAccessProfile"), "authorizedIPRanges") {
		if _, err := netip.ParsePrefix(fmt.Sprint(r)); err != nil {
			return invalid(fmt.Sprintf("apiServerAccessProfile.authorizedIPRanges[%d]", i), fmt.Sprintf("%v is not a CIDR.", r))
		}
	}
	return nil
}

// validateKubeletIdentity is AKS's check of a pre-created kubelet identity: it
// exists, the ids given for it are its own, and the control-plane identity holds
// Managed Identity Operator on it, in effect when the PUT arrives.
func validateKubeletIdentity(s *cloudState, in map[string]any, now time.Time, lat Latency) error {
	kubelet := obj(obj(in, "identityProfile"), "kubeletidentity")
	kubeletID := str(kubelet, "resourceId")
	if kubeletID == "" {
		return nil
	}
	identity := s.find(kubeletID)
	if identity == nil {
		return armError(400, "CustomKubeletIdentityNotFound", fmt.Sprintf("The kubelet identity %s could not be found.", kubeletID))
	}
	for _, f := range []struct{ input, output string }{{"objectId", "principalId"}, {"clientId", "clientId"}} {
		if got := str(kubelet, f.input); got != "" && !strings.EqualFold(got, str(identity.Outputs, f.output)) {
			return armError(400, "InvalidParameter", fmt.Sprintf(
				"The value of parameter identityProfile.kubeletidentity.%s is invalid. %s is not the %s of identity %s (%s).",
				f.input, got, f.output, kubeletID, str(identity.Outputs, f.output)))
		}
	}
	for _, cpID := range userAssignedIDs(obj(in, "identity")) {
		cp := s.find(cpID)
		if cp == nil {
			return armError(400, "InvalidUserAssignedIdentity", fmt.Sprintf("The user assigned identity %s could not be found.", cpID))
		}
		cpPrincipal := str(cp.Outputs, "principalId")
		if ok, why := s.holds(cpPrincipal, []string{RoleManagedIdentityOperator, RoleOwner}, kubeletID, now, lat); !ok {
			// The message as AKS gives it (Azure/azure-service-operator#3267); why is
			// the simulator's account of the grant, for whoever reads the log.
			return armError(400, "CustomKubeletIdentityMissingPermissionError", fmt.Sprintf(
				"The cluster using user-assigned managed identity must be granted 'Managed Identity Operator' role to assign kubelet identity. "+
					"You can run 'az role assignment create --assignee %s --role 'Managed Identity Operator' --scope %s' to grant the permission. "+
					"See https://learn.microsoft.com/en-us/azure/aks/use-managed-identity#add-role-assignment (simulator: %s)",
				cpPrincipal, kubeletID, why))
		}
	}
	return nil
}

// validateUpdate makes ARM's checks of a PUT that changes r, whose inputs were
// olds, to news: no other operation may be running on it, and what Azure cannot
// change in place is refused (azure-native sends these as updates, as its
// replace rules do not cover them).
func (k *armKind) validateUpdate(s *cloudState, r *Resource, olds, news map[string]any, now time.Time, lat Latency) error {
	// One operation at a time on a resource: AKS answers OperationNotAllowed "Another
	// operation (...) is in progress" (https://aka.ms/aks-pending-operation,
	// https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/operationnotallowed).
	if r.ProvisioningState != StateSucceeded && now.Before(r.ReadyAt) {
		return errAnotherOperation(r)
	}
	notAllowed := func(property string) error {
		return armError(400, "PropertyChangeNotAllowed", fmt.Sprintf("Changing property '%s' is not allowed.", property))
	}
	switch k.Kind {
	case KindAgentPool:
		if _, err := liveParent(s, clusterIDOf(news), now); err != nil {
			return err
		}
		for _, prop := range poolImmutable {
			if v, set := news[prop]; set && fmt.Sprint(r.Outputs[prop]) != fmt.Sprint(v) {
				return notAllowed(prop)
			}
		}
		return validatePool("properties", news)
	case KindMaintenance, KindWorkspace, KindDCR, KindDCRA, KindDiagnostics:
		probe := *r
		probe.Inputs = news
		return validateBaseline(s, k, &probe, now)
	case KindRoleAssignment:
		// ARM refuses changing an assignment in place with RoleAssignmentUpdateNotPermitted
		// "Tenant ID, application ID, principal ID, and scope are not allowed to be updated"
		// (seen in ARM template deployments, e.g. jasonmasten.com 2021-04-13).
		if !strings.EqualFold(roleGUID(str(olds, "roleDefinitionId")), roleGUID(str(news, "roleDefinitionId"))) {
			return armError(400, "RoleAssignmentUpdateNotPermitted",
				"Tenant ID, application ID, principal ID, and scope are not allowed to be updated. The role definition of an assignment cannot change either: delete it and create another.")
		}
	case KindRegistry:
		if str(olds, "zoneRedundancy") != str(news, "zoneRedundancy") && !(str(olds, "zoneRedundancy") == "" && str(news, "zoneRedundancy") == "Disabled") {
			return notAllowed("zoneRedundancy")
		}
	case KindCluster:
		if err := validateClusterSpec(news); err != nil {
			return err
		}
		if err := validateClusterAddons(s, news); err != nil {
			return err
		}
		// A pool's VM size, zones and OS disk are fixed when it is made: AKS
		// refuses the change ("use a new node pool"); resizing means a new pool.
		if err := validatePoolsPut(s, r, news); err != nil {
			return err
		}
		// "You can't disable managed Microsoft Entra integration once it's enabled"
		// (https://learn.microsoft.com/azure/aks/enable-authentication-microsoft-entra-id).
		if was, _ := obj(olds, "aadProfile")["managed"].(bool); was {
			if still, _ := obj(news, "aadProfile")["managed"].(bool); !still {
				return armError(400, "BadRequest", "Managed Microsoft Entra integration cannot be disabled once enabled.")
			}
		}
		oldV, newV := str(r.Outputs, "currentKubernetesVersion"), str(news, "kubernetesVersion")
		// AKS upgrades only: "downgrades aren't supported"
		// (https://learn.microsoft.com/azure/aks/upgrade-aks-cluster).
		if newV != "" && compareVersions(newV, oldV) < 0 {
			return armError(400, "OperationNotAllowed", fmt.Sprintf(
				"Downgrading kubernetes version from %s to %s is not allowed.", oldV, newV))
		}
		return validateKubeletIdentity(s, news, now, lat)
	}
	return nil
}

// compareVersions compares MAJOR.MINOR[.PATCH] versions; a missing patch
// compares as any patch of its minor.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3; i++ {
		if i >= len(pa) || i >= len(pb) {
			return 0
		}
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
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
	slices.Sort(ids)
	return ids
}

// obj returns the object at key k of a plain map, else an empty one.
func obj(m map[string]any, k string) map[string]any {
	o, _ := m[k].(map[string]any)
	if o == nil {
		return map[string]any{}
	}
	return o
}

// sliceOf returns the array at key k of a plain map, else nil.
func sliceOf(m map[string]any, k string) []any {
	a, _ := m[k].([]any)
	return a
}

// num returns the number at key k of a plain map as an int.
func num(m map[string]any, k string) (int, bool) {
	f, ok := m[k].(float64)
	return int(f), ok
}
