// Package stacktest runs the guestbook program, or a part of it, against Pulumi
// mocks that answer like Azure, Docker and Kubernetes would, and records what the
// engine receives: every resource's inputs, dependencies, parent and provider, every
// invoke, the stack's outputs. It serves the package tests of infra/ and app/ (through
// pulumi.WithMocks) and the whole-stack tests of tests/ (through Engine, which runs
// the compiled program as `pulumi up` would).
package stacktest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// LoadBalancerIP is the address a LoadBalancer Service gets. The subscription,
// tenant and tokens the mocks answer with are package tenant's.
const LoadBalancerIP = "20.78.112.34"

// Type tokens of the resources and invokes the mocks know.
const (
	TypeResourceGroup  = "azure-native:resources:ResourceGroup"
	TypeRegistry       = "azure-native:containerregistry/v20230701:Registry"
	TypeCacheRule      = "azure-native:containerregistry/v20230701:CacheRule"
	TypeIdentity       = "azure-native:managedidentity:UserAssignedIdentity"
	TypeRoleAssignment = "azure-native:authorization:RoleAssignment"
	TypeCluster        = "azure-native:containerservice/v20241001:ManagedCluster"
	TypeAgentPool      = "azure-native:containerservice/v20241001:AgentPool"
	TypeMaintenance    = "azure-native:containerservice/v20241001:MaintenanceConfiguration"
	TypeWorkspace      = "azure-native:operationalinsights:Workspace"
	TypeDCR            = "azure-native:insights:DataCollectionRule"
	TypeDCRA           = "azure-native:insights:DataCollectionRuleAssociation"
	TypeDiagnostics    = "azure-native:insights:DiagnosticSetting"
	TypeK8sProvider    = "pulumi:providers:kubernetes"
	TypeImage          = "docker:index/image:Image"
	TypeNamespace      = "kubernetes:core/v1:Namespace"
	TypeService        = "kubernetes:core/v1:Service"
	TypeDeployment     = "kubernetes:apps/v1:Deployment"
	TypeStatefulSet    = "kubernetes:apps/v1:StatefulSet"
	TypePDB            = "kubernetes:policy/v1:PodDisruptionBudget"
	TypeNetworkPolicy  = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

	InvokeListUserCredentials = "azure-native:containerservice/v20241001:listManagedClusterUserCredentials"
	InvokeGetClientToken      = "azure-native:authorization:getClientToken"
)

// Mocks implements pulumi.MockResourceMonitor. Create one per program run.
type Mocks struct {
	// Project and Stack name the URNs the mocks compute; they must match the run's.
	Project, Stack string
	// DryRun makes the mocks answer as a preview of a first deploy: a resource's
	// outputs are its inputs, every computed output (ids, login server, principal
	// ids…) is unknown.
	DryRun bool

	// Invokes, when set for a token, answer that invoke instead of the built-in
	// answer: a test's way to make Azure return something odd.
	Invokes map[string]func(args resource.PropertyMap) (resource.PropertyMap, error)
	// CreatedOn is when ARM says a role assignment was created (its createdOn);
	// zero means at the mock's create, as for a new assignment.
	CreatedOn time.Time
	// Existing, in a preview, makes the resources of these logical names exist
	// already, as a preview of a stack that has them sees them: their id and
	// outputs (merged over the inputs) are known.
	Existing map[string]Existing

	mu        sync.Mutex
	resources []*Resource
	byURN     map[string]*Resource
	invokes   []Invoke
}

// Existing is what a preview knows of a resource the stack already has.
type Existing struct {
	ID      string
	Outputs resource.PropertyMap
}

// NewMocks returns mocks for a run of project/stack, a preview when dryRun.
func NewMocks(project, stack string, dryRun bool) *Mocks {
	return &Mocks{Project: project, Stack: stack, DryRun: dryRun, byURN: map[string]*Resource{}}
}

// Invoke is one recorded invoke (a provider function call) and its answer.
type Invoke struct {
	Token    string
	Args     resource.PropertyMap
	Provider string
	Err      error
}

// Graph returns what has been registered so far.
func (m *Mocks) Graph() *Graph {
	m.mu.Lock()
	defer m.mu.Unlock()
	return newGraph(m.resources, m.invokes)
}

// NewResource records a registration and answers with realistic outputs.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := &Resource{
		Type:   args.TypeToken,
		Name:   args.Name,
		Custom: args.Custom,
		Inputs: args.Inputs,
	}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Provider = ProviderURN(rpc.GetProvider())
		r.Dependencies = rpc.GetDependencies()
		r.PropertyDependencies = map[string][]string{}
		for k, v := range rpc.GetPropertyDependencies() {
			r.PropertyDependencies[k] = v.GetUrns()
		}
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.ReplaceOnChanges = rpc.GetReplaceOnChanges()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.Protect = rpc.GetProtect()
		if t := rpc.GetCustomTimeouts(); t != nil {
			r.Timeouts = Timeouts{Create: t.GetCreate(), Update: t.GetUpdate(), Delete: t.GetDelete()}
		}
	}
	r.URN = URN(m.Stack, m.Project, r.Parent, r.Type, r.Name)

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.byURN[r.URN]; dup {
		return "", nil, fmt.Errorf("duplicate resource URN %s", r.URN)
	}
	if m.DryRun || !r.Custom {
		// A preview knows the inputs and nothing the provider computes; a component
		// has no provider at all.
		r.Outputs = r.Inputs.Copy()
		if ex, ok := m.Existing[r.Name]; ok && m.DryRun {
			r.ID = ex.ID
			for k, v := range ex.Outputs {
				r.Outputs[k] = v
			}
		}
	} else {
		id, outs, err := m.created(r)
		if err != nil {
			return "", nil, err
		}
		r.ID, r.Outputs = id, outs
	}
	m.resources = append(m.resources, r)
	m.byURN[r.URN] = r
	return r.ID, r.Outputs, nil
}

// Call answers invokes. One the stack is not expected to make is an error, so a
// new data source cannot slip in unnoticed with an empty answer.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	out, err := m.invoke(args)
	m.mu.Lock()
	m.invokes = append(m.invokes, Invoke{Token: args.Token, Args: args.Args, Provider: args.Provider, Err: err})
	m.mu.Unlock()
	return out, err
}

func (m *Mocks) invoke(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if answer, ok := m.Invokes[args.Token]; ok {
		return answer(args.Args)
	}
	switch args.Token {
	case InvokeListUserCredentials:
		rg, name := str(args.Args, "resourceGroupName"), str(args.Args, "resourceName")
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, r := range m.resources {
			if r.Type == TypeCluster && str(r.Outputs, "name") == name && str(r.Inputs, "resourceGroupName") == rg {
				kubeconfig := fmt.Sprintf(kubeconfigTemplate, name, str(r.Outputs, "fqdn"))
				return resource.PropertyMap{"kubeconfigs": resource.NewProperty([]resource.PropertyValue{
					resource.NewProperty(resource.PropertyMap{
						"name":  resource.NewProperty("clusterUser"),
						"value": resource.NewProperty(base64.StdEncoding.EncodeToString([]byte(kubeconfig))),
					}),
				})}, nil
			}
		}
		return nil, fmt.Errorf("listManagedClusterUserCredentials: no cluster %q in resource group %q", name, rg)
	case InvokeGetClientToken:
		if m.DryRun {
			return nil, fmt.Errorf("getClientToken called during a preview: a preview must not ask Azure for tokens")
		}
		return resource.PropertyMap{"token": resource.NewProperty(tenant.DeployerToken(tenant.AudienceOf(str(args.Args, "endpoint"))))}, nil
	}
	return nil, fmt.Errorf("unexpected invoke %s: the mocks do not know it, so the stack should not call it", args.Token)
}

// created answers a create in an update with the outputs the provider would return.
func (m *Mocks) created(r *Resource) (string, resource.PropertyMap, error) {
	in := r.Inputs
	out := in.Copy()
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	rgID := func() string {
		return "/subscriptions/" + tenant.SubscriptionID + "/resourceGroups/" + str(in, "resourceGroupName")
	}

	switch r.Type {
	case TypeResourceGroup:
		name := nameOr(in, "resourceGroupName", autoname(r.Name, "-"))
		set("name", name)
		return "/subscriptions/" + tenant.SubscriptionID + "/resourceGroups/" + name, out, nil
	case TypeRegistry:
		name := nameOr(in, "registryName", autoname(r.Name, ""))
		set("name", name)
		set("loginServer", strings.ToLower(name)+".azurecr.io")
		set("provisioningState", "Succeeded")
		return rgID() + "/providers/Microsoft.ContainerRegistry/registries/" + name, out, nil
	case TypeCacheRule:
		name := nameOr(in, "cacheRuleName", autoname(r.Name, "-"))
		set("name", name)
		set("provisioningState", "Succeeded")
		return rgID() + "/providers/Microsoft.ContainerRegistry/registries/" + str(in, "registryName") + "/cacheRules/" + name, out, nil
	case TypeIdentity:
		name := nameOr(in, "resourceName", autoname(r.Name, "-"))
		set("name", name)
		set("principalId", stableUUID("principal/"+name))
		set("clientId", stableUUID("client/"+name))
		set("tenantId", tenant.TenantID)
		return rgID() + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name, out, nil
	case TypeRoleAssignment:
		name := nameOr(in, "roleAssignmentName", stableUUID(r.URN))
		set("name", name)
		created := m.CreatedOn
		if created.IsZero() {
			created = time.Now()
		}
		set("createdOn", created.UTC().Format(time.RFC3339Nano))
		return str(in, "scope") + "/providers/Microsoft.Authorization/roleAssignments/" + name, out, nil
	case TypeCluster:
		name := nameOr(in, "resourceName", autoname(r.Name, "-"))
		set("name", name)
		set("fqdn", fmt.Sprintf("%s-%s.hcp.%s.azmk8s.io", str(in, "dnsPrefix"), suffix(name), str(in, "location")))
		set("provisioningState", "Succeeded")
		set("currentKubernetesVersion", "1.31.5")
		return rgID() + "/providers/Microsoft.ContainerService/managedClusters/" + name, out, nil
	case TypeAgentPool:
		name := nameOr(in, "agentPoolName", autoname(r.Name, ""))
		set("name", name)
		set("provisioningState", "Succeeded")
		return rgID() + "/providers/Microsoft.ContainerService/managedClusters/" + str(in, "resourceName") + "/agentPools/" + name, out, nil
	case TypeMaintenance:
		name := str(in, "configName")
		set("name", name)
		return rgID() + "/providers/Microsoft.ContainerService/managedClusters/" + str(in, "resourceName") + "/maintenanceConfigurations/" + name, out, nil
	case TypeWorkspace:
		name := nameOr(in, "workspaceName", autoname(r.Name, "-"))
		set("name", name)
		set("customerId", stableUUID("workspace/"+name))
		return rgID() + "/providers/Microsoft.OperationalInsights/workspaces/" + name, out, nil
	case TypeDCR:
		name := nameOr(in, "dataCollectionRuleName", autoname(r.Name, "-"))
		set("name", name)
		return rgID() + "/providers/Microsoft.Insights/dataCollectionRules/" + name, out, nil
	case TypeDCRA:
		name := nameOr(in, "associationName", autoname(r.Name, "-"))
		set("name", name)
		return str(in, "resourceUri") + "/providers/Microsoft.Insights/dataCollectionRuleAssociations/" + name, out, nil
	case TypeDiagnostics:
		name := nameOr(in, "name", autoname(r.Name, "-"))
		set("name", name)
		return str(in, "resourceUri") + "/providers/Microsoft.Insights/diagnosticSettings/" + name, out, nil
	case TypeK8sProvider:
		return stableUUID(r.URN), out, nil
	case TypeImage:
		imageName := str(in, "imageName")
		repo := imageName
		if i := strings.LastIndex(imageName, ":"); i > strings.LastIndex(imageName, "/") {
			repo = imageName[:i]
		}
		sum := sha256.Sum256([]byte(imageName))
		set("repoDigest", repo+"@sha256:"+hex.EncodeToString(sum[:]))
		set("baseImageName", imageName)
		if reg := in["registry"]; reg.IsObject() {
			set("registryServer", str(reg.ObjectValue(), "server"))
		}
		return imageName, out, nil
	}
	if strings.HasPrefix(r.Type, "kubernetes:") {
		meta := in["metadata"]
		if !meta.IsObject() {
			return "", nil, fmt.Errorf("%s %s has no metadata", r.Type, r.Name)
		}
		id := str(meta.ObjectValue(), "name")
		if ns := str(meta.ObjectValue(), "namespace"); ns != "" {
			id = ns + "/" + id
		}
		if r.Type == TypeService && str(in, "spec.type") == "LoadBalancer" {
			out["status"] = resource.NewProperty(resource.PropertyMap{
				"loadBalancer": resource.NewProperty(resource.PropertyMap{
					"ingress": resource.NewProperty([]resource.PropertyValue{
						resource.NewProperty(resource.PropertyMap{"ip": resource.NewProperty(LoadBalancerIP)}),
					}),
				}),
			})
		}
		return id, out, nil
	}
	return "", nil, fmt.Errorf("unexpected resource type %s (%s): teach the mocks what Azure would answer", r.Type, r.Name)
}

// kubeconfigTemplate is what AKS lists as the user credentials of an Entra ID
// cluster in the exec format: kubelogin with a device-code login, and no secret.
const kubeconfigTemplate = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTi1DRVJUSUZJQ0FURS0tLS0t
    server: https://%[2]s:443
  name: %[1]s
contexts:
- context:
    cluster: %[1]s
    user: clusterUser_%[1]s
  name: %[1]s
current-context: %[1]s
users:
- name: clusterUser_%[1]s
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - get-token
      - --environment
      - AzurePublicCloud
      - --server-id
      - 6dae42f8-4368-4678-94ff-3960e28e3630
      - --client-id
      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
      - --tenant-id
      - ` + tenant.TenantID + `
      - --login
      - devicecode
      command: kubelogin
      env: null
      interactiveMode: IfAvailable
      provideClusterInfo: false
`

// URN computes a resource's URN the way the engine does.
func URN(stack, project, parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(stack), tokens.PackageName(project), parentType, tokens.Type(typ), name))
}

// ProviderURN returns the URN part of a provider reference ("<urn>::<id>").
func ProviderURN(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 {
		return ref[:i]
	}
	return ref
}

// str returns the known string at path k in m, else "" (see String).
func str(m resource.PropertyMap, k string) string {
	s, _ := String(m, k)
	return s
}

func nameOr(in resource.PropertyMap, key, fallback string) string {
	if v := str(in, key); v != "" {
		return v
	}
	return fallback
}

// autoname mimics the provider's autonaming: the logical name plus a suffix that is
// random in Azure and stable here, so test runs compare.
func autoname(logical, sep string) string {
	return logical + sep + suffix(logical)
}

func suffix(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

var uuidNamespace = uuid.MustParse("3d9a7c1e-5b2f-4e8a-9c6d-1f0e2b3a4c5d")

func stableUUID(seed string) string {
	return uuid.NewSHA1(uuidNamespace, []byte(seed)).String()
}
