// Package infra declares the Azure layer of the guestbook stack: resource group,
// container registry, the cluster's identities and role assignments, the AKS cluster
// and the Kubernetes provider that targets it.
package infra

import (
	"errors"
	"fmt"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AzureArgs are the inputs of the Azure layer. They are plain values: the stack's
// configuration has been validated before any resource is declared.
type AzureArgs struct {
	// Location is the Azure region of every resource.
	Location string
	// RegistrySku is the container registry's SKU: Basic, Standard or Premium.
	RegistrySku string
	// KubernetesVersion pins the cluster's Kubernetes version; empty means the AKS default.
	KubernetesVersion string
	// SystemPool sizes the cluster's system pool, which runs only critical add-ons.
	SystemPool NodePool
	// NodePool sizes the user pool, where the workloads run.
	NodePool NodePool
	// Tier is the cluster's pricing tier: Free, or Standard (uptime SLA).
	Tier string
	// AzurePolicy turns on the cluster's Azure Policy add-on.
	AzurePolicy bool
	// Monitoring, when set, adds a Log Analytics workspace, Container insights
	// and the diagnostic settings of the cluster and the registry.
	Monitoring *Monitoring
	// Maintenance holds the planned maintenance windows of the upgrade channels.
	Maintenance Maintenance
	// RegistryZoneRedundant makes the (Premium) registry zone-redundant. Azure
	// fixes it when the registry is made: changing it replaces the registry.
	RegistryZoneRedundant bool
	// ClusterAdmins are the Entra object ids granted Kubernetes cluster admin through
	// Azure RBAC; the deploying identity must be one of them.
	ClusterAdmins []Principal
	// AuthorizedIPRanges restrict the API server to these IPv4 CIDRs; empty means any.
	AuthorizedIPRanges []string
	// Protect protects the resource group, the registry and the cluster.
	Protect bool
	// UpstreamImages are public images the workload pulls through the registry.
	UpstreamImages []UpstreamImage
	// GrantPropagation is how old a grant must be before what needs it is sent:
	// the Managed Identity Operator grant before the cluster's create (AKS refuses
	// one it does not see yet), each cluster-admin grant before the first
	// Kubernetes call (the API server answers 403 until it propagates).
	GrantPropagation time.Duration

	// sleep waits out GrantPropagation; nil means the clock. Package tests record it.
	sleep sleepFunc
}

// Monitoring configures where the stack's logs and metrics go.
type Monitoring struct {
	// RetentionDays is how long the workspace keeps them (30-730).
	RetentionDays int
}

// Azure is the Azure layer: everything the application layer needs to run on AKS
// and pull from the private registry.
type Azure struct {
	pulumi.ResourceState

	// ResourceGroupName is the (autonamed) resource group holding every resource.
	ResourceGroupName pulumi.StringOutput
	// RegistryID is the registry's ARM id, the scope of the AcrPull assignment.
	RegistryID pulumi.StringOutput
	// RegistryLoginServer is the registry's host name, e.g. guestbookacr1a2b3c4d.azurecr.io.
	RegistryLoginServer pulumi.StringOutput
	// Images are the UpstreamImages' references in the registry, by name: what a
	// pod pulls, through the AcrPull grant like the app's own image.
	Images map[string]pulumi.StringOutput
	// ClusterName is the AKS cluster's name.
	ClusterName pulumi.StringOutput
	// KubeletIdentityObjectID is the principal (object) id the nodes pull images as.
	KubeletIdentityObjectID pulumi.StringOutput
	// Kubeconfig reaches the cluster as whoever is logged in to the Azure CLI, through
	// kubelogin: it holds the API server's address and CA, and no credential.
	Kubeconfig pulumi.StringOutput
	// GetCredentials is the command a person runs to reach the cluster with kubectl.
	GetCredentials pulumi.StringOutput

	// KubernetesProvider targets the cluster; every Kubernetes resource must use it.
	KubernetesProvider *kubernetes.Provider
	// PullGrants are the kubelet identity's pull permissions on the registry:
	// AcrPull, which a registry in its default RBAC mode honours, and Container
	// Registry Repository Reader, which one in ABAC repository-permissions mode
	// honours instead. Workloads that pull from the registry must depend on them:
	// no data flows from them to the workloads.
	PullGrants []pulumi.Resource
	// WorkloadNodes are the node pools the workloads run on (the system pool is
	// tainted for critical add-ons). A workload's pods stay Pending until one
	// exists, so workloads depend on them: no data flows from them either.
	WorkloadNodes []pulumi.Resource
}

// NewAzure declares the Azure layer as a component named name.
//
// The order it allows: the resource group; then, in parallel, the registry, both
// identities and the cluster admins' grants; then the identities' role
// assignments; the cluster waits only for the Managed Identity Operator assignment
// and its propagation. Neither the pull grants nor the admins' grants wait for the
// cluster, so Azure RBAC propagates while AKS provisions, and the registry and the
// cluster never wait for each other. The Kubernetes provider waits for the admins'
// grants. With monitoring, the workspace is made beside the identities (the
// cluster's add-on names it); the user pool, the data collection rule's
// association, the diagnostic settings and the maintenance windows come after the
// cluster, and of them only the user pool is waited for (by the workloads).
func NewAzure(ctx *pulumi.Context, name string, args *AzureArgs, opts ...pulumi.ResourceOption) (*Azure, error) {
	if args == nil {
		return nil, errors.New("infra.NewAzure: args are required")
	}
	az := &Azure{}
	if err := ctx.RegisterComponentResource("guestbook:infra:Azure", name, az, opts...); err != nil {
		return nil, fmt.Errorf("registering Azure component: %w", err)
	}
	parent := pulumi.Parent(az)
	sleep := args.sleep
	if sleep == nil {
		sleep = sleepCtx
	}

	// The stateful resources: a destroy or a replacement of these loses data or
	// takes the app down, so in prod the engine refuses until they are unprotected.
	protect := pulumi.Protect(args.Protect)

	rg, err := resources.NewResourceGroup(ctx, name+"-rg", &resources.ResourceGroupArgs{
		Location: pulumi.String(args.Location),
	}, parent, protect)
	if err != nil {
		return nil, fmt.Errorf("declaring resource group: %w", err)
	}

	registry, err := newRegistry(ctx, name, rg.Name, rg.Location, args.RegistrySku, args.RegistryZoneRedundant, parent, protect)
	if err != nil {
		return nil, err
	}
	images, err := newCacheRules(ctx, name, rg.Name, registry, args.UpstreamImages, parent)
	if err != nil {
		return nil, err
	}
	ids, err := newIdentities(ctx, name, rg.Name, rg.Location, parent)
	if err != nil {
		return nil, err
	}
	pullGrants, err := newPullGrants(ctx, name, registry.ID().ToStringOutput(), ids.Kubelet.PrincipalId, parent)
	if err != nil {
		return nil, err
	}

	admins, err := newClusterAdmins(ctx, name, rg.ID().ToStringOutput(), args.ClusterAdmins, parent)
	if err != nil {
		return nil, err
	}

	// The workspace is made beside the identities: the cluster's monitoring
	// add-on names it, so the cluster's create waits for it, but the cluster
	// already waits longer for its Managed Identity Operator grant.
	var workspace *operationalinsights.Workspace
	if args.Monitoring != nil {
		if workspace, err = newWorkspace(ctx, name, rg.Name, rg.Location, args.Monitoring.RetentionDays, parent); err != nil {
			return nil, err
		}
	}

	cluster, err := newCluster(ctx, name, clusterArgs{
		ResourceGroupName:  rg.Name,
		Location:           rg.Location,
		DNSPrefix:          name,
		KubernetesVersion:  args.KubernetesVersion,
		SystemPool:         args.SystemPool,
		Tier:               args.Tier,
		AzurePolicy:        args.AzurePolicy,
		Workspace:          workspace,
		Identities:         ids,
		AuthorizedIPRanges: args.AuthorizedIPRanges,
		GrantPropagation:   args.GrantPropagation,
		sleep:              sleep,
	}, parent, protect)
	if err != nil {
		return nil, err
	}
	userPool, err := newUserPool(ctx, rg.Name, cluster, args.NodePool, args.KubernetesVersion, parent)
	if err != nil {
		return nil, err
	}
	// What only watches or schedules the cluster comes after it and off the
	// app's path: nothing waits for these but the end of the deploy.
	clusterID := cluster.ID().ToStringOutput()
	if workspace != nil {
		if err := newContainerInsights(ctx, name, rg.Name, rg.Location, workspace, clusterID, parent); err != nil {
			return nil, err
		}
		if err := newDiagnostics(ctx, name+"-aks-diag", clusterID, workspace, ClusterLogCategories, parent); err != nil {
			return nil, err
		}
		if err := newDiagnostics(ctx, name+"-acr-diag", registry.ID().ToStringOutput(), workspace, RegistryLogCategories, parent); err != nil {
			return nil, err
		}
	}
	if err := newMaintenance(ctx, name, rg.Name, cluster.Name, args.Maintenance, parent); err != nil {
		return nil, err
	}

	kubeconfig := kubeconfigOf(ctx, rg.Name, cluster)
	// Every Kubernetes call is made as the deploying identity, one of the admins.
	// Azure RBAC for Kubernetes sees a new grant only after it propagates, so the
	// provider's kubeconfig waits for each admin grant to be old enough: on a first
	// deploy the grants are made while the cluster is created and the wait is
	// mostly spent already; an admin added later waits in full, or the first
	// Kubernetes call is refused with 403 Forbidden. The AKS docs: "New role
	// assignments can take up to five minutes to propagate and be updated by the
	// authorization server" (https://learn.microsoft.com/azure/aks/manage-azure-rbac).
	// The gated kubeconfig carries each grant as a dependency of the provider.
	for _, a := range admins {
		kubeconfig = afterPropagation(ctx, a, args.GrantPropagation, kubeconfig, sleep)
	}
	provider, err := newKubernetesProvider(ctx, name, kubeconfig, parent)
	if err != nil {
		return nil, err
	}

	az.ResourceGroupName = rg.Name
	az.RegistryID = registry.ID().ToStringOutput()
	az.RegistryLoginServer = registry.LoginServer
	az.Images = images
	az.ClusterName = cluster.Name
	az.KubeletIdentityObjectID = ids.Kubelet.PrincipalId
	az.Kubeconfig = kubeconfig
	az.GetCredentials = pulumi.Sprintf(
		"az aks get-credentials --resource-group %s --name %s && kubelogin convert-kubeconfig --login azurecli",
		rg.Name, cluster.Name)
	az.KubernetesProvider = provider
	az.PullGrants = pullGrants
	az.WorkloadNodes = []pulumi.Resource{userPool}
	if err := ctx.RegisterResourceOutputs(az, pulumi.Map{
		"resourceGroupName":       az.ResourceGroupName,
		"registryId":              az.RegistryID,
		"registryLoginServer":     az.RegistryLoginServer,
		"clusterName":             az.ClusterName,
		"kubeletIdentityObjectId": az.KubeletIdentityObjectID,
		"getCredentials":          az.GetCredentials,
	}); err != nil {
		return nil, fmt.Errorf("registering Azure component outputs: %w", err)
	}
	return az, nil
}
