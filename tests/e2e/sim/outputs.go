// outputs.go: what ARM answers for a resource: the inputs as Azure stores them,
// the defaults it fills in, what it computes, and what changes later without
// anyone's PUT (the autoscaler's node count, the patch channel's version).

package sim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// readOnly are the paths, under an output, that Azure computes and a PUT cannot
// set ("*" stands for every element of an array): left out, with Computed, when a
// refresh projects outputs onto inputs.
var readOnly = map[string][][]string{
	KindCluster: {
		{"agentPoolProfiles", "*", "currentOrchestratorVersion"}, {"agentPoolProfiles", "*", "nodeImageVersion"},
		{"agentPoolProfiles", "*", "provisioningState"}, {"agentPoolProfiles", "*", "powerState"},
		{"networkProfile", "loadBalancerProfile", "effectiveOutboundIPs"}, {"identityProfile", "kubeletidentity", "principalId"},
	},
}

// outputs returns what ARM answers for a resource of this kind with inputs in: the
// inputs as stored, the defaults Azure fills in, and what ARM computes. Values
// computed before (prev, the previous outputs of an update) are kept: an update
// never changes an identity's principal id or a cluster's FQDN.
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
		sku := clonePlain(obj(in, "sku"))
		sku["tier"] = sku["name"]
		out["sku"] = sku
		// Defaults Azure fills in for what the program leaves unset.
		setDefault(out, "zoneRedundancy", "Disabled")
		setDefault(out, "publicNetworkAccess", "Enabled")
		setDefault(out, "networkRuleBypassOptions", "AzureServices")
		// The mode a new registry gets is the region's default, not the request's:
		// the program's API version cannot say.
		keep("roleAssignmentMode", func() any { return s.registryMode })
	case KindIdentity:
		keep("principalId", func() any { return uuid.NewString() })
		keep("clientId", func() any { return uuid.NewString() })
		out["tenantId"] = tenant.TenantID
	case KindRoleAssignment:
		// ARM stamps createdOn when it writes the assignment, and propagation
		// starts from that write. The strictest reading of the create's latency
		// puts the write at its end, where the simulated propagation starts too
		// (rbac.go): a program that waits from createdOn waits no less than Azure
		// needs.
		keep("createdOn", func() any { return armTime(r.ReadyAt) })
		out["updatedOn"] = armTime(now)
		out["createdBy"] = deployer
		out["updatedBy"] = deployer
	case KindCluster:
		clusterOutputs(s, r, prev, out)
	case KindAgentPool, KindWorkspace, KindDCR, KindDCRA:
		baselineOutputs(k, r, prev, out, now)
	}
	return out
}

// armTime is a time as ARM writes it: UTC with seven fractional digits.
func armTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

func setDefault(m map[string]any, key string, v any) {
	if _, ok := m[key]; !ok {
		m[key] = v
	}
}

// clusterOutputs fills out, a managed cluster's answer: AKS's computed values,
// its defaults, the versions it runs, and the ids of identities spelled as
// AKS spells them (lower-case resourcegroups).
func clusterOutputs(s *cloudState, r *Resource, prev, out map[string]any) {
	in := r.Inputs
	location := str(in, "location")
	if v, ok := prev["fqdn"]; ok && v != nil {
		out["fqdn"] = v
	} else {
		out["fqdn"] = fmt.Sprintf("%s-%s.hcp.%s.azmk8s.io", str(in, "dnsPrefix"), randomHex(4), location)
	}
	out["azurePortalFQDN"] = strings.Replace(out["fqdn"].(string), ".hcp.", ".portal.hcp.", 1)
	out["provisioningState"] = r.ProvisioningState
	out["powerState"] = map[string]any{"code": "Running"}
	current := runningVersion(str(in, "kubernetesVersion"), str(prev, "currentKubernetesVersion"))
	out["currentKubernetesVersion"] = current
	// AKS reports kubernetesVersion as asked when asked for MAJOR.MINOR, and the
	// version it runs otherwise (a full version, or none asked for).
	if v := str(in, "kubernetesVersion"); !isMinorOnly(v) {
		out["kubernetesVersion"] = current
	}
	setDefault(out, "nodeResourceGroup", fmt.Sprintf("MC_%s_%s_%s", r.ResourceGroup, r.Name, location))
	out["maxAgentPools"] = float64(100)
	setDefault(out, "supportPlan", "KubernetesOfficial")
	oidc := clonePlain(obj(in, "oidcIssuerProfile"))
	if prevOIDC := obj(prev, "oidcIssuerProfile"); prevOIDC["issuerURL"] != nil {
		oidc["issuerURL"] = prevOIDC["issuerURL"]
	} else {
		oidc["issuerURL"] = fmt.Sprintf("https://%s.oic.prod-aks.azure.com/%s/%s/", location, tenant.TenantID, uuid.NewString())
	}
	out["oidcIssuerProfile"] = oidc
	if identity, ok := in["identity"].(map[string]any); ok {
		out["identity"] = clusterIdentity(s, identity)
	}
	if profile := obj(in, "identityProfile"); len(profile) > 0 {
		profile = clonePlain(profile)
		if kubelet := obj(profile, "kubeletidentity"); len(kubelet) > 0 {
			kubelet["resourceId"] = aksIDSpelling(str(kubelet, "resourceId"))
			profile["kubeletidentity"] = kubelet
		}
		out["identityProfile"] = profile
	}
	net := clonePlain(obj(in, "networkProfile"))
	setDefault(net, "networkPlugin", "kubenet")
	if str(net, "networkPluginMode") == "overlay" {
		setDefault(net, "podCidr", "10.244.0.0/16")
	}
	setDefault(net, "serviceCidr", "10.0.0.0/16")
	setDefault(net, "dnsServiceIP", "10.0.0.10")
	setDefault(net, "outboundType", "loadBalancer")
	setDefault(net, "ipFamilies", []any{"IPv4"})
	out["networkProfile"] = net
	prevPools := map[string]map[string]any{}
	for _, p := range sliceOf(prev, "agentPoolProfiles") {
		pool, _ := p.(map[string]any)
		prevPools[str(pool, "name")] = pool
	}
	var pools []any
	for _, p := range sliceOf(in, "agentPoolProfiles") {
		pool := clonePlain(p.(map[string]any))
		old := prevPools[str(pool, "name")]
		poolDefaults(pool, old)
		poolCurrent := runningVersion(str(pool, "orchestratorVersion"), str(old, "currentOrchestratorVersion"))
		if str(pool, "orchestratorVersion") == "" {
			poolCurrent = current
		}
		pool["currentOrchestratorVersion"] = poolCurrent
		if !isMinorOnly(str(pool, "orchestratorVersion")) {
			pool["orchestratorVersion"] = poolCurrent
		}
		pool["provisioningState"] = r.ProvisioningState
		pools = append(pools, pool)
	}
	out["agentPoolProfiles"] = pools
}

// runningVersion is the version a cluster or pool runs when asked for requested
// ("", MAJOR.MINOR or MAJOR.MINOR.PATCH) while running current ("" when new).
func runningVersion(requested, current string) string {
	switch {
	case requested == "" && current != "":
		return current
	case requested == "":
		return defaultKubernetesMinor + "." + strconv.Itoa(defaultKubernetesPatch)
	case isMinorOnly(requested) && strings.HasPrefix(current, requested+"."):
		return current
	case isMinorOnly(requested):
		return requested + "." + strconv.Itoa(defaultKubernetesPatch)
	}
	return requested
}

func isMinorOnly(v string) bool {
	m := versionRE.FindStringSubmatch(v)
	return m != nil && m[2] == ""
}

// nextPatch is v with its patch version raised by one.
func nextPatch(v string) string {
	m := versionRE.FindStringSubmatch(v)
	if m == nil || m[2] == "" {
		return v
	}
	p, _ := strconv.Atoi(m[2])
	return m[1] + "." + strconv.Itoa(p+1)
}

// aksIDSpelling spells a resource id the way AKS answers it: "resourcegroups" in
// lower case.
func aksIDSpelling(id string) string {
	return strings.Replace(id, "/resourceGroups/", "/resourcegroups/", 1)
}

// clusterIdentity answers a cluster's identity the way ARM does: user-assigned
// identities as a map from their ids, spelled AKS's way, to their client and
// principal ids.
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
		m[aksIDSpelling(id)] = entry
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
	case KindRegistry, KindCacheRule, KindAgentPool, KindWorkspace, KindDCR, KindDCRA:
		r.Outputs["provisioningState"] = state
	case KindCluster:
		r.Outputs["provisioningState"] = state
		for _, p := range sliceOf(r.Outputs, "agentPoolProfiles") {
			if pool, ok := p.(map[string]any); ok {
				pool["provisioningState"] = state
			}
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// ReleasePatch is AKS shipping a patch release and the patch auto-upgrade channel
// applying it: every cluster on that channel, and its pools, run the next patch of
// their minor version. What AKS reports moves with it, as it would between two
// runs of `pulumi up`: kubernetesVersion (and a pool's orchestratorVersion) where
// a full version was asked for or none, currentKubernetesVersion always.
func (c *Cloud) ReleasePatch() error {
	return c.mutate(func(s *cloudState) error {
		for _, r := range s.Resources {
			if r.Kind != KindCluster || r.ProvisioningState != StateSucceeded ||
				str(obj(r.Inputs, "autoUpgradeProfile"), "upgradeChannel") != "patch" {
				continue
			}
			current := nextPatch(str(r.Outputs, "currentKubernetesVersion"))
			r.Outputs["currentKubernetesVersion"] = current
			if !isMinorOnly(str(r.Inputs, "kubernetesVersion")) {
				r.Outputs["kubernetesVersion"] = current
			}
			for _, p := range sliceOf(r.Outputs, "agentPoolProfiles") {
				pool, _ := p.(map[string]any)
				pool["currentOrchestratorVersion"] = current
				if !isMinorOnly(str(pool, "orchestratorVersion")) {
					pool["orchestratorVersion"] = current
				}
			}
		}
		return nil
	})
}

// Autoscale is the cluster autoscaler setting the node count of pool in the
// cluster with id clusterID.
func (c *Cloud) Autoscale(clusterID, pool string, count int) error {
	return c.mutate(func(s *cloudState) error {
		r := s.find(clusterID)
		if r == nil {
			return fmt.Errorf("no cluster %s in the simulated cloud", clusterID)
		}
		for _, p := range sliceOf(r.Outputs, "agentPoolProfiles") {
			if pp, _ := p.(map[string]any); str(pp, "name") == pool {
				pp["count"] = float64(count)
				return nil
			}
		}
		for _, o := range s.Resources {
			if o.Kind == KindAgentPool && strings.EqualFold(clusterIDOf(o.Inputs), clusterID) && o.Name == pool {
				o.Outputs["count"] = float64(count)
				return nil
			}
		}
		return fmt.Errorf("cluster %s has no pool %s", clusterID, pool)
	})
}
