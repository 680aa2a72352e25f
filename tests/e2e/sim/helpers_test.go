package sim

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// Type tokens as the program's SDKs send them.
const (
	tokRG       = "azure-native:resources:ResourceGroup"
	tokRegistry = "azure-native:containerregistry/v20230701:Registry"
	tokIdentity = "azure-native:managedidentity:UserAssignedIdentity"
	tokCache    = "azure-native:containerregistry/v20230701:CacheRule"
	tokRA       = "azure-native:authorization:RoleAssignment"
	tokCluster  = "azure-native:containerservice/v20241001:ManagedCluster"
)

func newCloud(t *testing.T) *Cloud {
	t.Helper()
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func urnOf(typ, name string) string {
	return string(resource.NewURN("dev", "guestbook", "", tokens.Type(typ), name))
}

func wireOf(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func propsOf(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := unmarshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pm builds a PropertyMap from plain values.
func pm(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

// server is what both providers are to the tests.
type server interface {
	Check(context.Context, *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error)
	Create(context.Context, *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error)
}

// check runs Check for a new resource and returns its checked inputs.
func check(t *testing.T, p server, typ, name string, ins resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: urnOf(typ, name), Type: typ, Name: name, News: wireOf(t, ins), RandomSeed: []byte(name),
	})
	if err != nil {
		t.Fatalf("Check(%s %s): %v", typ, name, err)
	}
	if len(resp.Failures) > 0 {
		t.Fatalf("Check(%s %s) failures: %v", typ, name, resp.Failures)
	}
	return propsOf(t, resp.Inputs)
}

// create checks and creates a resource, failing the test on error.
func create(t *testing.T, p server, typ, name string, ins resource.PropertyMap) (string, resource.PropertyMap) {
	t.Helper()
	id, outs, err := tryCreate(t, p, typ, name, ins)
	if err != nil {
		t.Fatalf("Create(%s %s): %v", typ, name, err)
	}
	return id, outs
}

func tryCreate(t *testing.T, p server, typ, name string, ins resource.PropertyMap) (string, resource.PropertyMap, error) {
	t.Helper()
	checked := check(t, p, typ, name, ins)
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnOf(typ, name), Type: typ, Name: name, Properties: wireOf(t, checked),
	})
	if err != nil {
		return "", nil, err
	}
	return resp.Id, propsOf(t, resp.Properties), nil
}

// stack is the Azure part of the guestbook stack, created in the simulator.
type stack struct {
	rg, rgID                  string
	registryID, loginServer   string
	kubeletID, kubeletObject  string
	kubeletClient             string
	controlPlaneID, cpObject  string
	operatorID, clusterID     string
	clusterName, registryName string
}

const (
	acrPullRole  = RoleAcrPull
	operatorRole = RoleManagedIdentityOperator
)

func roleDef(role string) string {
	return "/subscriptions/" + tenant.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + role
}

// deployAzure creates what the program creates before the cluster, and the
// cluster if withCluster.
func deployAzure(t *testing.T, p *AzureProvider, withCluster bool) stack {
	t.Helper()
	var s stack
	var outs resource.PropertyMap
	s.rgID, outs = create(t, p, tokRG, "guestbook-rg", pm(map[string]any{"location": "japaneast"}))
	s.rg = propStr(outs, "name")
	s.registryID, outs = create(t, p, tokRegistry, "guestbookacr", pm(map[string]any{
		"resourceGroupName": s.rg, "location": "japaneast", "sku": map[string]any{"name": "Basic"},
		"adminUserEnabled": false,
	}))
	s.loginServer, s.registryName = propStr(outs, "loginServer"), propStr(outs, "name")
	s.controlPlaneID, outs = create(t, p, tokIdentity, "guestbook-control-plane", pm(map[string]any{"resourceGroupName": s.rg, "location": "japaneast"}))
	s.cpObject = propStr(outs, "principalId")
	s.kubeletID, outs = create(t, p, tokIdentity, "guestbook-kubelet", pm(map[string]any{"resourceGroupName": s.rg, "location": "japaneast"}))
	s.kubeletObject, s.kubeletClient = propStr(outs, "principalId"), propStr(outs, "clientId")
	s.operatorID, _ = create(t, p, tokRA, "guestbook-mi-operator", roleAssignment(s.kubeletID, s.cpObject, operatorRole))
	if withCluster {
		s.clusterID, outs = create(t, p, tokCluster, "guestbook-aks", clusterInputs(s, 3))
		s.clusterName = propStr(outs, "name")
	}
	return s
}

func roleAssignment(scope, principal, role string) resource.PropertyMap {
	return pm(map[string]any{
		"roleAssignmentName": assignmentName(scope, principal, role),
		"scope":              scope, "principalId": principal, "principalType": "ServicePrincipal",
		"roleDefinitionId": roleDef(role),
	})
}

// assignmentName stands for the program's deterministic name: any GUID unique to
// the three inputs does.
func assignmentName(scope, principal, role string) string {
	h, _ := resource.NewUniqueName([]byte(strings.ToLower(scope+principal+role)), "", 32, 0, nil)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// clusterInputs are the cluster's inputs as the program gives them.
func clusterInputs(s stack, maxCount int) resource.PropertyMap {
	return pm(map[string]any{
		"resourceGroupName": s.rg, "location": "japaneast", "dnsPrefix": "guestbook",
		"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": []any{s.controlPlaneID}},
		"identityProfile": map[string]any{"kubeletidentity": map[string]any{
			"resourceId": s.kubeletID, "clientId": s.kubeletClient, "objectId": s.kubeletObject,
		}},
		"enableRBAC":           true,
		"aadProfile":           map[string]any{"managed": true, "enableAzureRBAC": true},
		"disableLocalAccounts": true,
		"oidcIssuerProfile":    map[string]any{"enabled": true},
		"agentPoolProfiles": []any{map[string]any{
			"name": "system", "mode": "System", "vmSize": "Standard_D2s_v5", "count": 2, "minCount": 2, "maxCount": maxCount, "enableAutoScaling": true,
		}},
		"autoUpgradeProfile": map[string]any{"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"},
		"networkProfile": map[string]any{"networkPlugin": "azure", "networkPluginMode": "overlay", "networkDataplane": "cilium",
			"networkPolicy": "cilium", "loadBalancerSku": "standard"},
	})
}

func ops(t *testing.T, c *Cloud, kind string) []Operation {
	t.Helper()
	all, err := c.Operations()
	if err != nil {
		t.Fatal(err)
	}
	var out []Operation
	for _, op := range all {
		if kind == "" || op.Kind == kind {
			out = append(out, op)
		}
	}
	return out
}

func resources(t *testing.T, c *Cloud) []Resource {
	t.Helper()
	rs, err := c.Resources()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
