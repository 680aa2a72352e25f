// cluster.go: the AKS cluster, running as the pre-created identities.

package infra

import (
	"fmt"
	"time"

	// The cluster uses the 2024-10-01 API (GA) because the top-level package's
	// 2023-04-01 API has no nodeOSUpgradeChannel.
	containerservice "github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2/v20241001"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// clusterCreateTimeout bounds a create or update of the cluster. A first create
// usually takes 5-10 minutes and an upgrade of a busy node pool much longer; the
// provider's default would give up on a slow but healthy operation.
const clusterCreateTimeout = 60 * time.Minute

// NodePool sizes the cluster's single (system) node pool.
type NodePool struct {
	// VMSize is the Azure VM size of every node.
	VMSize string
	// MinCount is the node count the pool starts with and the autoscaler's floor.
	MinCount int
	// MaxCount is the autoscaler's ceiling (>= MinCount).
	MaxCount int
	// Zones spread the nodes over these availability zones; empty pins none.
	Zones []string
}

type clusterArgs struct {
	ResourceGroupName pulumi.StringInput
	Location          pulumi.StringInput
	DNSPrefix         string
	KubernetesVersion string
	Pool              NodePool
	Identities        *identities
	// AuthorizedIPRanges restrict the API server; empty leaves it open to any
	// network (every call still needs an Entra token).
	AuthorizedIPRanges []string
	// GrantPropagation is how old the Managed Identity Operator grant must be
	// when the create reaches AKS; sleep waits for the rest.
	GrantPropagation time.Duration
	sleep            sleepFunc
}

// ignoredByAzure are the cluster's inputs that Azure moves by itself after a
// create. A refresh copies what Azure changed into the state's inputs
// (azure-native's Read), so each would show as drift on every preview and the
// next update would try to put it back:
//   - the pool's node count, which the autoscaler moves between min and max;
//   - with no version configured, the versions AKS reports: kubernetesVersion
//     and the pool's orchestratorVersion are the full version running, which the
//     patch channel raises. A MAJOR.MINOR version is reported as given and stays
//     (the API: "When <major.minor> is specified, the latest supported GA patch
//     version is chosen automatically"), so a configured one is not ignored, and
//     changing it is an upgrade.
func ignoredByAzure(kubernetesVersion string) []string {
	ignored := []string{"agentPoolProfiles[0].count"}
	if kubernetesVersion == "" {
		ignored = append(ignored, "kubernetesVersion", "agentPoolProfiles[0].orchestratorVersion")
	}
	return ignored
}

func newCluster(ctx *pulumi.Context, name string, args clusterArgs, opts ...pulumi.ResourceOption) (*containerservice.ManagedCluster, error) {
	kubelet := args.Identities.Kubelet
	var version pulumi.StringPtrInput
	if args.KubernetesVersion != "" {
		version = pulumi.StringPtr(args.KubernetesVersion)
	}
	var apiServer containerservice.ManagedClusterAPIServerAccessProfilePtrInput
	if len(args.AuthorizedIPRanges) > 0 {
		apiServer = &containerservice.ManagedClusterAPIServerAccessProfileArgs{
			AuthorizedIPRanges: pulumi.ToStringArray(args.AuthorizedIPRanges),
		}
	}
	var zones pulumi.StringArrayInput
	if len(args.Pool.Zones) > 0 {
		zones = pulumi.ToStringArray(args.Pool.Zones)
	}

	// AKS checks, when the create arrives, that the control-plane identity may
	// operate the kubelet identity, and a grant seconds old fails that check
	// intermittently with CustomKubeletIdentityMissingPermissionError
	// (Azure/azure-service-operator#3267, pulumi/pulumi-azure-native#2020); the
	// engine does not retry a 400. So the kubelet identity's id reaches the
	// cluster only once the grant is GrantPropagation old: the create waits for
	// the grant and its propagation through data, and a later update, with an old
	// grant, waits for nothing.
	kubeletID := afterPropagation(ctx, args.Identities.Operator, args.GrantPropagation, kubelet.ID().ToStringOutput(), args.sleep)

	opts = append(opts,
		pulumi.Timeouts(&pulumi.CustomTimeouts{
			Create: clusterCreateTimeout.String(),
			Update: clusterCreateTimeout.String(),
			Delete: clusterCreateTimeout.String(),
		}),
		pulumi.IgnoreChanges(ignoredByAzure(args.KubernetesVersion)),
	)

	cluster, err := containerservice.NewManagedCluster(ctx, name+"-aks", &containerservice.ManagedClusterArgs{
		ResourceGroupName: args.ResourceGroupName,
		Location:          args.Location,
		DnsPrefix:         pulumi.String(args.DNSPrefix),
		KubernetesVersion: version,
		Identity: &containerservice.ManagedClusterIdentityArgs{
			Type:                   containerservice.ResourceIdentityTypeUserAssigned,
			UserAssignedIdentities: pulumi.StringArray{args.Identities.ControlPlane.ID().ToStringOutput()},
		},
		IdentityProfile: containerservice.UserAssignedIdentityMap{
			"kubeletidentity": containerservice.UserAssignedIdentityArgs{
				ResourceId: kubeletID,
				ClientId:   kubelet.ClientId,
				ObjectId:   kubelet.PrincipalId,
			},
		},
		EnableRBAC: pulumi.Bool(true),
		// Entra ID only: every caller authenticates with an Entra token and is
		// authorized by Azure role assignments, which live in ARM beside the AcrPull
		// grant (auditable, deterministic, removed with the stack). With local
		// accounts disabled there is no cluster-admin certificate to leak: the user
		// credentials AKS lists carry no secret, and the admin credentials are refused.
		AadProfile: &containerservice.ManagedClusterAADProfileArgs{
			Managed:         pulumi.Bool(true),
			EnableAzureRBAC: pulumi.Bool(true),
		},
		DisableLocalAccounts:   pulumi.Bool(true),
		ApiServerAccessProfile: apiServer,
		// OIDC issuer and workload identity let pods get Azure tokens without secrets
		// should the app ever need Azure APIs; both are free and off by default.
		OidcIssuerProfile: &containerservice.ManagedClusterOIDCIssuerProfileArgs{Enabled: pulumi.Bool(true)},
		SecurityProfile: &containerservice.ManagedClusterSecurityProfileArgs{
			WorkloadIdentity: &containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs{Enabled: pulumi.Bool(true)},
		},
		AgentPoolProfiles: containerservice.ManagedClusterAgentPoolProfileArray{
			containerservice.ManagedClusterAgentPoolProfileArgs{
				Name:              pulumi.String("system"),
				Mode:              pulumi.String("System"),
				OsType:            pulumi.String("Linux"),
				Type:              pulumi.String("VirtualMachineScaleSets"),
				VmSize:            pulumi.String(args.Pool.VMSize),
				Count:             pulumi.Int(args.Pool.MinCount),
				EnableAutoScaling: pulumi.Bool(true),
				MinCount:          pulumi.Int(args.Pool.MinCount),
				MaxCount:          pulumi.Int(args.Pool.MaxCount),
				AvailabilityZones: zones,
				// The pool runs the cluster's MAJOR.MINOR, which AKS reports as given.
				OrchestratorVersion: version,
			},
		},
		// Patch releases and node images carry the security fixes; minor upgrades
		// change APIs and stay a deliberate change of kubernetesVersion.
		AutoUpgradeProfile: &containerservice.ManagedClusterAutoUpgradeProfileArgs{
			UpgradeChannel:       pulumi.String("patch"),
			NodeOSUpgradeChannel: pulumi.String("NodeImage"),
		},
		// Azure CNI overlay gives pods addresses outside the VNet, so the cluster needs
		// no subnet planning; Cilium is the policy engine that enforces the app layer's
		// NetworkPolicies (without one they are accepted and silently ignored).
		NetworkProfile: &containerservice.ContainerServiceNetworkProfileArgs{
			NetworkPlugin:     pulumi.String("azure"),
			NetworkPluginMode: pulumi.String("overlay"),
			NetworkDataplane:  pulumi.String("cilium"),
			NetworkPolicy:     pulumi.String("cilium"),
			LoadBalancerSku:   pulumi.String("standard"),
		},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring AKS cluster: %w", err)
	}
	return cluster, nil
}
