// Package infra declares the Azure layer of the guestbook stack: resource group,
// container registry, the cluster's identities and role assignments, the AKS cluster
// and the Kubernetes provider that targets it.
package infra

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
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
	// NodePool sizes the cluster's node pool.
	NodePool NodePool
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
	// ClusterName is the AKS cluster's name.
	ClusterName pulumi.StringOutput
	// KubeletIdentityObjectID is the principal (object) id the nodes pull images as.
	KubeletIdentityObjectID pulumi.StringOutput
	// Kubeconfig is the cluster's user kubeconfig, a secret.
	Kubeconfig pulumi.StringOutput

	// KubernetesProvider targets the cluster; every Kubernetes resource must use it.
	KubernetesProvider *kubernetes.Provider
	// AcrPull is the kubelet identity's AcrPull assignment on the registry. Workloads
	// that pull from the registry must depend on it: no data flows from it to them.
	AcrPull *authorization.RoleAssignment
}

// NewAzure declares the Azure layer as a component named name.
//
// The order it allows: the resource group; then, in parallel, the registry and both
// identities; then the two role assignments; the cluster waits only for the Managed
// Identity Operator assignment. The AcrPull assignment does not wait for the cluster,
// so Azure RBAC propagates while AKS provisions, and the registry and the cluster
// never wait for each other.
func NewAzure(ctx *pulumi.Context, name string, args *AzureArgs, opts ...pulumi.ResourceOption) (*Azure, error) {
	if args == nil {
		return nil, errors.New("infra.NewAzure: args are required")
	}
	az := &Azure{}
	if err := ctx.RegisterComponentResource("guestbook:infra:Azure", name, az, opts...); err != nil {
		return nil, fmt.Errorf("registering Azure component: %w", err)
	}
	parent := pulumi.Parent(az)

	rg, err := resources.NewResourceGroup(ctx, name+"-rg", &resources.ResourceGroupArgs{
		Location: pulumi.String(args.Location),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("declaring resource group: %w", err)
	}

	registry, err := newRegistry(ctx, name, rg.Name, rg.Location, args.RegistrySku, parent)
	if err != nil {
		return nil, err
	}
	ids, err := newIdentities(ctx, name, rg.Name, rg.Location, parent)
	if err != nil {
		return nil, err
	}
	acrPull, err := newRoleAssignment(ctx, name+"-acr-pull", roleGrant{
		Scope:       registry.ID().ToStringOutput(),
		PrincipalID: ids.Kubelet.PrincipalId,
		RoleID:      acrPullRoleID,
	}, parent)
	if err != nil {
		return nil, err
	}

	cluster, err := newCluster(ctx, name, clusterArgs{
		ResourceGroupName: rg.Name,
		Location:          rg.Location,
		DNSPrefix:         name,
		KubernetesVersion: args.KubernetesVersion,
		Pool:              args.NodePool,
		Identities:        ids,
	}, parent)
	if err != nil {
		return nil, err
	}
	kubeconfig := kubeconfigOf(ctx, rg.Name, cluster)
	provider, err := newKubernetesProvider(ctx, name, kubeconfig, parent)
	if err != nil {
		return nil, err
	}

	az.ResourceGroupName = rg.Name
	az.RegistryID = registry.ID().ToStringOutput()
	az.RegistryLoginServer = registry.LoginServer
	az.ClusterName = cluster.Name
	az.KubeletIdentityObjectID = ids.Kubelet.PrincipalId
	az.Kubeconfig = kubeconfig
	az.KubernetesProvider = provider
	az.AcrPull = acrPull
	if err := ctx.RegisterResourceOutputs(az, pulumi.Map{
		"resourceGroupName":       az.ResourceGroupName,
		"registryId":              az.RegistryID,
		"registryLoginServer":     az.RegistryLoginServer,
		"clusterName":             az.ClusterName,
		"kubeletIdentityObjectId": az.KubeletIdentityObjectID,
		"kubeconfig":              az.Kubeconfig,
	}); err != nil {
		return nil, fmt.Errorf("registering Azure component outputs: %w", err)
	}
	return az, nil
}
