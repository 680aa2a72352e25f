// cluster.go: the AKS cluster, running as the pre-created identities.

package infra

import (
	"fmt"
	"time"

	// The cluster uses the 2024-10-01 API (GA) because the top-level package's
	// 2023-04-01 API has no nodeOSUpgradeChannel.
	containerservice "github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2/v20241001"
	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// clusterCreateTimeout bounds a create or update of the cluster. A first create
// usually takes 5-10 minutes and an upgrade of a busy node pool much longer; the
// provider's default would give up on a slow but healthy operation.
const clusterCreateTimeout = 60 * time.Minute

// NodePool sizes one of the cluster's node pools.
type NodePool struct {
	// VMSize is the Azure VM size of every node.
	VMSize string
	// MinCount is the node count the pool starts with and the autoscaler's floor.
	MinCount int
	// MaxCount is the autoscaler's ceiling (>= MinCount).
	MaxCount int
	// Zones spread the nodes over these availability zones; empty pins none.
	Zones []string
	// OSDiskType is Managed or Ephemeral (on the VM's temp disk or cache: no
	// storage cost, faster to scale and reimage, nothing kept over a reimage).
	OSDiskType string
	// OSDiskSizeGB sizes the OS disk; 0 leaves it to AKS (128 GB, managed).
	// An ephemeral disk must fit the VM size's temp disk or cache.
	OSDiskSizeGB int
}

// systemPoolTaint keeps everything but critical add-ons off the system pool: the
// app's pods have no toleration for it, so they land on the user pool, and a
// busy app cannot starve CoreDNS or the metrics server of a node
// (https://learn.microsoft.com/azure/aks/use-system-pools#system-and-user-node-pools).
const systemPoolTaint = "CriticalAddonsOnly=true:NoSchedule"

// maxPods is AKS's default pods per node with Azure CNI overlay, said so that a
// template scan (PSRule's Azure.AKS.NodeMinPods) and a refresh see what AKS runs.
const maxPods = 250

type clusterArgs struct {
	ResourceGroupName pulumi.StringInput
	Location          pulumi.StringInput
	DNSPrefix         string
	KubernetesVersion string
	// SystemPool is the cluster's own (System mode) pool, tainted CriticalAddonsOnly.
	SystemPool NodePool
	Identities *identities
	// Tier is the control plane's pricing tier: Free, or Standard with the
	// uptime SLA (https://learn.microsoft.com/azure/aks/free-standard-pricing-tiers).
	Tier string
	// AzurePolicy turns on the Azure Policy add-on (Gatekeeper, audit by default).
	AzurePolicy bool
	// Workspace, when set, turns on Container insights sending to it.
	Workspace *operationalinsights.Workspace
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
//   - the node pools. AKS lists every pool in the cluster's agentPoolProfiles,
//     the user pool made through the agentPools API too, so a refresh brings
//     it into the cluster's state (pulumi/pulumi-azure-native#1532), and the
//     engine cannot ignore one element of a list the program declares shorter:
//     the whole list is ignored. The autoscaler's count and the patch
//     channel's versions go with it. The system pool is therefore set when the
//     cluster is created, and the user pool, its own resource, is where pool
//     changes go (docs/troubleshooting.md);
//   - with no version configured, kubernetesVersion, which AKS reports as the
//     full version running and the patch channel raises. A MAJOR.MINOR version
//     is reported as given and stays (the API: "When <major.minor> is
//     specified, the latest supported GA patch version is chosen
//     automatically"), so a configured one is not ignored, and changing it is
//     an upgrade.
func ignoredByAzure(kubernetesVersion string) []string {
	ignored := []string{"agentPoolProfiles"}
	if kubernetesVersion == "" {
		ignored = append(ignored, "kubernetesVersion")
	}
	return ignored
}

func newCluster(ctx *pulumi.Context, name string, args clusterArgs, opts ...pulumi.ResourceOption) (*containerservice.ManagedCluster, error) {
	kubelet := args.Identities.Kubelet
	var version pulumi.StringPtrInput
	if args.KubernetesVersion != "" {
		version = pulumi.StringPtr(args.KubernetesVersion)
	}
	apiServer := &containerservice.ManagedClusterAPIServerAccessProfileArgs{
		// No `az aks command invoke`: it runs kubectl as the cluster's own
		// admin, around the authorized IP ranges and the admins' Azure RBAC
		// (https://learn.microsoft.com/azure/aks/access-private-cluster#disable-run-command).
		DisableRunCommand: pulumi.Bool(true),
	}
	if len(args.AuthorizedIPRanges) > 0 {
		apiServer.AuthorizedIPRanges = pulumi.ToStringArray(args.AuthorizedIPRanges)
	}
	addons := containerservice.ManagedClusterAddonProfileMap{
		"azurepolicy": containerservice.ManagedClusterAddonProfileArgs{Enabled: pulumi.Bool(args.AzurePolicy)},
	}
	if args.Workspace != nil {
		addons["omsagent"] = containerservice.ManagedClusterAddonProfileArgs{
			Enabled: pulumi.Bool(true),
			Config:  containerInsightsAddon(args.Workspace),
		}
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
		Sku: &containerservice.ManagedClusterSKUArgs{
			Name: pulumi.String("Base"),
			Tier: pulumi.String(args.Tier),
		},
		AddonProfiles: addons,
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
		// The system pool only: the user pool is its own AgentPool resource, so
		// changing or replacing it never touches the cluster (AKS refuses a new
		// pool, or a pool's new VM size, through the cluster's PUT).
		AgentPoolProfiles: containerservice.ManagedClusterAgentPoolProfileArray{
			containerservice.ManagedClusterAgentPoolProfileArgs{
				Name:              pulumi.String("system"),
				Mode:              pulumi.String("System"),
				OsType:            pulumi.String("Linux"),
				Type:              pulumi.String("VirtualMachineScaleSets"),
				VmSize:            pulumi.String(args.SystemPool.VMSize),
				Count:             pulumi.Int(args.SystemPool.MinCount),
				EnableAutoScaling: pulumi.Bool(true),
				MinCount:          pulumi.Int(args.SystemPool.MinCount),
				MaxCount:          pulumi.Int(args.SystemPool.MaxCount),
				AvailabilityZones: zonesOf(args.SystemPool),
				OsDiskType:        pulumi.String(args.SystemPool.OSDiskType),
				OsDiskSizeGB:      diskSizeOf(args.SystemPool),
				MaxPods:           pulumi.Int(maxPods),
				NodeTaints:        pulumi.StringArray{pulumi.String(systemPoolTaint)},
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

// zonesOf is pool's zones as an input; nil when it pins none.
func zonesOf(pool NodePool) pulumi.StringArrayInput {
	if len(pool.Zones) == 0 {
		return nil
	}
	return pulumi.ToStringArray(pool.Zones)
}

// diskSizeOf is pool's OS disk size as an input; nil leaves it to AKS.
func diskSizeOf(pool NodePool) pulumi.IntPtrInput {
	if pool.OSDiskSizeGB == 0 {
		return nil
	}
	return pulumi.IntPtr(pool.OSDiskSizeGB)
}

// userPoolImmutable are the user pool's inputs AKS fixes when a pool is made
// ("use a new node pool" to change them, https://learn.microsoft.com/azure/aks/resize-node-pool):
// a change replaces the pool, and only the pool.
var userPoolImmutable = []string{"vmSize", "availabilityZones", "osDiskType", "osDiskSizeGB"}

// newUserPool declares the pool the workloads run on, beside the tainted system
// pool. Its name is autonamed ("user" and eight random characters, within
// AKS's 12 for a Linux pool), so a replacement is created before the old pool is
// deleted: AKS drains the old nodes into the new ones, and the app keeps running.
func newUserPool(ctx *pulumi.Context, resourceGroupName pulumi.StringInput, cluster *containerservice.ManagedCluster,
	pool NodePool, kubernetesVersion string, opts ...pulumi.ResourceOption) (*containerservice.AgentPool, error) {
	var version pulumi.StringPtrInput
	// Like the cluster's: with no version configured, AKS reports the one it runs.
	ignored := []string{"count"}
	if kubernetesVersion != "" {
		version = pulumi.StringPtr(kubernetesVersion)
	} else {
		ignored = append(ignored, "orchestratorVersion")
	}
	opts = append(opts,
		pulumi.IgnoreChanges(ignored),
		pulumi.ReplaceOnChanges(userPoolImmutable),
		pulumi.Timeouts(&pulumi.CustomTimeouts{
			Create: clusterCreateTimeout.String(), Update: clusterCreateTimeout.String(), Delete: clusterCreateTimeout.String(),
		}),
	)
	p, err := containerservice.NewAgentPool(ctx, "user", &containerservice.AgentPoolArgs{
		ResourceGroupName:   resourceGroupName,
		ResourceName:        cluster.Name,
		Mode:                pulumi.String("User"),
		OsType:              pulumi.String("Linux"),
		Type:                pulumi.String("VirtualMachineScaleSets"),
		VmSize:              pulumi.String(pool.VMSize),
		Count:               pulumi.Int(pool.MinCount),
		EnableAutoScaling:   pulumi.Bool(true),
		MinCount:            pulumi.Int(pool.MinCount),
		MaxCount:            pulumi.Int(pool.MaxCount),
		AvailabilityZones:   zonesOf(pool),
		OsDiskType:          pulumi.String(pool.OSDiskType),
		OsDiskSizeGB:        diskSizeOf(pool),
		MaxPods:             pulumi.Int(maxPods),
		OrchestratorVersion: version,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring user node pool: %w", err)
	}
	return p, nil
}
