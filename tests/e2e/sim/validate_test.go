package sim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// withLatency sets c's latency: scale is the wall time of a simulated second.
func withLatency(t *testing.T, c *Cloud, propagation, replication float64) {
	t.Helper()
	if err := c.SetLatency(Latency{Scale: time.Millisecond, Propagation: propagation, Replication: replication}); err != nil {
		t.Fatal(err)
	}
}

// edit returns a copy of the cluster's inputs with fn applied to their plain form.
func edit(in resource.PropertyMap, fn func(m map[string]any)) resource.PropertyMap {
	m := plainMap(in)
	fn(m)
	return fromPlain(m)
}

func pool0(m map[string]any) map[string]any {
	return m["agentPoolProfiles"].([]any)[0].(map[string]any)
}

func TestCreateARMErrors(t *testing.T) {
	p := NewAzureProvider(newCloud(t))
	s := deployAzure(t, p, false)
	cluster := clusterInputs(s, 3)
	tests := []struct {
		name, typ string
		ins       resource.PropertyMap
		want      string
	}{
		{"missing resource group", tokIdentity, pm(map[string]any{"resourceGroupName": "nope", "location": "japaneast"}),
			`Code="ResourceGroupNotFound" Message="Resource group 'nope' could not be found."`},
		{"unknown principal", tokRA, roleAssignment(s.registryID, "00000000-1111-2222-3333-444444444444", acrPullRole), `Code="PrincipalNotFound"`},
		{"duplicate grant", tokRA, pm(map[string]any{
			"roleAssignmentName": "11111111-2222-3333-4444-555555555555", "scope": s.kubeletID, "principalId": s.cpObject,
			"principalType": "ServicePrincipal", "roleDefinitionId": roleDef(operatorRole),
		}), `Code="RoleAssignmentExists"`},
		{"invalid registry name", tokRegistry, pm(map[string]any{"resourceGroupName": s.rg, "registryName": "guestbook-acr", "sku": map[string]any{"name": "Basic"}}),
			`Code="InvalidResourceName"`},
		{"zone redundancy on Basic", tokRegistry, pm(map[string]any{"resourceGroupName": s.rg, "sku": map[string]any{"name": "Basic"}, "zoneRedundancy": "Enabled"}),
			`Code="ZoneRedundancyNotSupportedForSku"`},
		{"cache rule on a missing registry", tokCache, pm(map[string]any{"resourceGroupName": s.rg, "registryName": "nope",
			"sourceRepository": "public.ecr.aws/docker/library/redis", "targetRepository": "docker/library/redis"}), `Code="ResourceNotFound"`},
		// hashicorp/terraform-provider-azurerm PR #27983's acceptance run.
		{"Docker Hub cache rule without credentials", tokCache, pm(map[string]any{"resourceGroupName": s.rg, "registryName": s.registryName,
			"sourceRepository": "docker.io/library/redis", "targetRepository": "library/redis"}),
			`Code="EnforceDockerAuthentication" Message="Cannot create cache rule pointing to Docker Hub without credentials. Please add a credential set to cache rule."`},
		{"identity as a user", tokRA, pm(map[string]any{
			"roleAssignmentName": "11111111-2222-3333-4444-666666666666", "scope": s.registryID, "principalId": s.kubeletObject,
			"principalType": "User", "roleDefinitionId": roleDef(acrPullRole),
		}), `Code="UnmatchedPrincipalType"`},
		{"deploying identity as a group", tokRA, pm(map[string]any{
			"roleAssignmentName": "11111111-2222-3333-4444-777777777777", "scope": s.rgID, "principalId": tenant.DeployerObjectID,
			"principalType": "Group", "roleDefinitionId": roleDef(RoleAKSRBACClusterAdmin),
		}), `Code="UnmatchedPrincipalType"`},
		{"cluster without operator grant", tokCluster, clusterInputs(stack{
			rg: s.rg, controlPlaneID: s.kubeletID, kubeletID: s.controlPlaneID, // swapped: no grant that way round
		}, 3), `Code="CustomKubeletIdentityMissingPermissionError"`},
		{"kubelet object id of another identity", tokCluster, edit(cluster, func(m map[string]any) {
			m["identityProfile"].(map[string]any)["kubeletidentity"].(map[string]any)["objectId"] = s.cpObject
		}), `identityProfile.kubeletidentity.objectId is invalid`},
		{"kubelet client id as object id", tokCluster, edit(cluster, func(m map[string]any) {
			m["identityProfile"].(map[string]any)["kubeletidentity"].(map[string]any)["objectId"] = s.kubeletClient
		}), `identityProfile.kubeletidentity.objectId is invalid`},
		{"DNS prefix too long", tokCluster, edit(cluster, func(m map[string]any) { m["dnsPrefix"] = strings.Repeat("a", 55) }), `Code="InvalidDNSPrefix"`},
		{"DNS prefix ends with a hyphen", tokCluster, edit(cluster, func(m map[string]any) { m["dnsPrefix"] = "guestbook-" }), `Code="InvalidDNSPrefix"`},
		{"unsupported version", tokCluster, edit(cluster, func(m map[string]any) { m["kubernetesVersion"] = "1.20" }), `Code="K8sVersionNotSupported"`},
		{"malformed version", tokCluster, edit(cluster, func(m map[string]any) { m["kubernetesVersion"] = "v1.33" }), `Code="K8sVersionNotSupported"`},
		{"count above maxCount", tokCluster, edit(cluster, func(m map[string]any) { pool0(m)["count"] = 4.0 }), `agentPoolProfiles[0].count is invalid`},
		{"maxCount below minCount", tokCluster, edit(cluster, func(m map[string]any) { pool0(m)["maxCount"] = 1.0 }), `agentPoolProfiles[0].maxCount is invalid`},
		{"autoscaler without bounds", tokCluster, edit(cluster, func(m map[string]any) { delete(pool0(m), "minCount") }), `minCount and maxCount are required`},
		{"no system pool", tokCluster, edit(cluster, func(m map[string]any) { pool0(m)["mode"] = "User" }), `Code="MustDefineAtLeastOneSystemPool"`},
		{"zone 4", tokCluster, edit(cluster, func(m map[string]any) { pool0(m)["availabilityZones"] = []any{"4"} }), `availabilityZones is invalid`},
		{"overlay with kubenet", tokCluster, edit(cluster, func(m map[string]any) {
			m["networkProfile"].(map[string]any)["networkPlugin"] = "kubenet"
		}), `networkPluginMode overlay requires networkPlugin azure`},
		{"cilium policy without the cilium dataplane", tokCluster, edit(cluster, func(m map[string]any) {
			delete(m["networkProfile"].(map[string]any), "networkDataplane")
		}), `networkPolicy cilium requires networkDataplane cilium`},
		{"calico on the cilium dataplane", tokCluster, edit(cluster, func(m map[string]any) {
			m["networkProfile"].(map[string]any)["networkPolicy"] = "calico"
		}), `networkPolicy calico cannot be used with networkDataplane cilium`},
		{"Azure RBAC without managed Entra", tokCluster, edit(cluster, func(m map[string]any) {
			m["aadProfile"] = map[string]any{"enableAzureRBAC": true}
		}), `aadProfile.enableAzureRBAC is invalid`},
		{"local accounts off without Entra", tokCluster, edit(cluster, func(m map[string]any) { delete(m, "aadProfile") }),
			`Local accounts can be disabled only`},
		{"authorized range not a CIDR", tokCluster, edit(cluster, func(m map[string]any) {
			m["apiServerAccessProfile"] = map[string]any{"authorizedIPRanges": []any{"office"}}
		}), `apiServerAccessProfile.authorizedIPRanges[0] is invalid`},
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

// TestPropagation: a role assignment takes effect the propagation delay after
// its create returns, for AKS's check of the kubelet identity as for anything
// else; and a new identity is unknown to the directory for the replication
// delay unless principalType says what it is.
func TestPropagation(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	s := deployAzure(t, p, false) // the operator grant has just been made
	withLatency(t, c, 200, 0)     // 200 ms of wall time

	_, _, err := tryCreate(t, p, tokCluster, "guestbook-aks", clusterInputs(s, 3))
	if err == nil || !strings.Contains(err.Error(), "CustomKubeletIdentityMissingPermissionError") || !strings.Contains(err.Error(), "has not taken effect yet") {
		t.Fatalf("cluster create with a grant made just now: %v, want CustomKubeletIdentityMissingPermissionError", err)
	}
	time.Sleep(250 * time.Millisecond)
	create(t, p, tokCluster, "guestbook-aks", clusterInputs(s, 3))

	withLatency(t, c, 0, 200)
	_, outs := create(t, p, tokIdentity, "new-identity", pm(map[string]any{"resourceGroupName": s.rg, "location": "japaneast"}))
	principal := propStr(outs, "principalId")
	untyped := roleAssignment(s.registryID, principal, acrPullRole)
	delete(untyped, "principalType")
	if _, _, err := tryCreate(t, p, tokRA, "untyped", untyped); err == nil || !strings.Contains(err.Error(), `Code="PrincipalNotFound"`) {
		t.Errorf("an untyped assignment to an identity made just now: %v, want PrincipalNotFound (replication)", err)
	}
	create(t, p, tokRA, "typed", roleAssignment(s.registryID, principal, acrPullRole))
}

// TestUpdateRefusals: what Azure refuses to change in place, and a PUT while
// another operation runs.
func TestUpdateRefusals(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	s := deployAzure(t, p, true)
	old := clusterInputs(s, 3)
	old["resourceName"] = resource.NewProperty(s.clusterName)
	update := func(news resource.PropertyMap) error {
		before, err := p.Read(context.Background(), &pulumirpc.ReadRequest{Id: s.clusterID, Urn: urnOf(tokCluster, "aks"), Type: tokCluster})
		if err != nil {
			return err
		}
		_, err = p.Update(context.Background(), &pulumirpc.UpdateRequest{
			Id: s.clusterID, Urn: urnOf(tokCluster, "aks"), Type: tokCluster,
			Olds: before.Properties, OldInputs: wireOf(t, old), News: wireOf(t, news),
		})
		return err
	}
	tests := []struct {
		name string
		news resource.PropertyMap
		want string
	}{
		{"pool VM size", edit(old, func(m map[string]any) { pool0(m)["vmSize"] = "Standard_D4s_v5" }), `Changing property 'agentPoolProfile.vmSize' is not allowed.`},
		{"pool zones", edit(old, func(m map[string]any) { pool0(m)["availabilityZones"] = []any{"1", "2"} }), `Changing property 'agentPoolProfile.availabilityZones' is not allowed.`},
		{"managed Entra off", edit(old, func(m map[string]any) {
			m["aadProfile"] = map[string]any{"managed": false}
			delete(m, "disableLocalAccounts")
		}), `Managed Microsoft Entra integration cannot be disabled once enabled.`},
		{"downgrade", edit(old, func(m map[string]any) { m["kubernetesVersion"] = "1.33.4" }), `Downgrading kubernetes version from 1.33.5 to 1.33.4 is not allowed.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := update(tt.news); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Update: %v, want %s", err, tt.want)
			}
		})
	}
	t.Run("in place", func(t *testing.T) {
		if err := update(clusterInputs(s, 5)); err != nil {
			t.Errorf("Update of maxCount: %v, want it accepted", err)
		}
	})

	t.Run("another operation running", func(t *testing.T) {
		if err := c.SetLatency(Latency{Scale: time.Millisecond, Create: map[string]float64{KindCluster: 2000}}); err != nil {
			t.Fatal(err)
		}
		news := clusterInputs(s, 6)
		news["resourceName"] = resource.NewProperty(s.clusterName)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := p.Update(ctx, &pulumirpc.UpdateRequest{Id: s.clusterID, Urn: urnOf(tokCluster, "aks"), Type: tokCluster,
				OldInputs: wireOf(t, old), News: wireOf(t, news)})
			done <- err
		}()
		time.Sleep(100 * time.Millisecond) // the first update's PUT is accepted and running (500 ms)
		err := update(clusterInputs(s, 4))
		cancel()
		<-done
		if err == nil || !strings.Contains(err.Error(), `Status=409 Code="OperationNotAllowed"`) {
			t.Errorf("a PUT while an update runs: %v, want 409 OperationNotAllowed", err)
		}
	})

	t.Run("role assignment's role", func(t *testing.T) {
		ra := roleAssignment(s.kubeletID, s.cpObject, operatorRole)
		changed := ra.Copy()
		changed["roleDefinitionId"] = resource.NewProperty(roleDef(RoleReader))
		_, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{Id: s.operatorID, Urn: urnOf(tokRA, "op"), Type: tokRA,
			OldInputs: wireOf(t, ra), News: wireOf(t, changed)})
		if err == nil || !strings.Contains(err.Error(), "RoleAssignmentUpdateNotPermitted") {
			t.Errorf("changing an assignment's role: %v, want RoleAssignmentUpdateNotPermitted", err)
		}
	})
}

// TestReadIsAzureNativesApproximation: a refresh's inputs are the old inputs
// with what Azure changed since the last write applied (azure-native's Read):
// the defaults Azure filled in at create stay out; the autoscaler's count and the
// patch channel's version come in.
func TestReadIsAzureNativesApproximation(t *testing.T) {
	for _, tt := range []struct {
		name, version           string
		wantVersion, wantPoolOV string // in the refreshed inputs; "" means absent
	}{
		{"AKS default version", "", "1.33.6", "1.33.6"},
		{"MAJOR.MINOR", "1.33", "1.33", "1.33.6"},
		{"MAJOR.MINOR.PATCH", "1.33.5", "1.33.6", "1.33.6"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCloud(t)
			p := NewAzureProvider(c)
			s := deployAzure(t, p, false)
			ins := clusterInputs(s, 3)
			if tt.version != "" {
				ins["kubernetesVersion"] = resource.NewProperty(tt.version)
			}
			checked := check(t, p, tokCluster, "guestbook-aks", ins)
			resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urnOf(tokCluster, "guestbook-aks"), Type: tokCluster, Properties: wireOf(t, checked)})
			if err != nil {
				t.Fatal(err)
			}
			read := func() resource.PropertyMap {
				r, err := p.Read(context.Background(), &pulumirpc.ReadRequest{Id: resp.Id, Urn: urnOf(tokCluster, "guestbook-aks"), Type: tokCluster,
					Properties: resp.Properties, Inputs: wireOf(t, checked)})
				if err != nil {
					t.Fatal(err)
				}
				return propsOf(t, r.Inputs)
			}
			if got := plainMap(read()); !equalJSON(got, plainMap(checked)) {
				t.Errorf("refresh with nothing changed: inputs = %v, want the old ones %v", got, plainMap(checked))
			}
			if err := c.Autoscale(resp.Id, "system", 3); err != nil {
				t.Fatal(err)
			}
			if err := c.ReleasePatch(); err != nil {
				t.Fatal(err)
			}
			got := plainMap(read())
			if n, _ := num(pool0(got), "count"); n != 3 {
				t.Errorf("refreshed count = %v, want the autoscaler's 3", pool0(got)["count"])
			}
			if v := str(got, "kubernetesVersion"); v != tt.wantVersion {
				t.Errorf("refreshed kubernetesVersion = %q, want %q", v, tt.wantVersion)
			}
			if v := str(pool0(got), "orchestratorVersion"); v != tt.wantPoolOV {
				t.Errorf("refreshed pool orchestratorVersion = %q, want %q", v, tt.wantPoolOV)
			}
			if _, ok := got["networkProfile"].(map[string]any)["serviceCidr"]; ok {
				t.Errorf("refreshed inputs hold the default serviceCidr Azure filled in at create: %v", got["networkProfile"])
			}
		})
	}
}

func equalJSON(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
