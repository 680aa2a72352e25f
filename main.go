// Command guestbook is the Pulumi program for the whole guestbook stack: Azure
// resource group, container registry, AKS cluster and the pull grants (infra/),
// then the image and the Kubernetes workload (app/). One program, one dependency
// graph: the workload cannot start before the cluster exists and its nodes may pull.
package main

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/guestbook-aks/guestbook/app"
	"github.com/guestbook-aks/guestbook/infra"
)

func main() {
	pulumi.Run(run)
}

func run(ctx *pulumi.Context) error {
	// Bad configuration stops the run here, before any resource is declared.
	cfg, err := LoadConfig(ctx)
	if err != nil {
		return err
	}

	azure, err := infra.NewAzure(ctx, "guestbook", &infra.AzureArgs{
		Location:          cfg.Location,
		RegistrySku:       cfg.AcrSku,
		KubernetesVersion: cfg.KubernetesVersion,
		SystemPool: infra.NodePool{
			VMSize: cfg.SystemNodeVMSize, MinCount: cfg.SystemNodeCount, MaxCount: cfg.SystemNodeMaxCount,
			Zones: cfg.AvailabilityZones, OSDiskType: cfg.OSDiskType, OSDiskSizeGB: cfg.OSDiskSizeGB(cfg.SystemNodeVMSize),
		},
		NodePool: infra.NodePool{
			VMSize: cfg.NodeVMSize, MinCount: cfg.NodeCount, MaxCount: cfg.NodeMaxCount,
			Zones: cfg.AvailabilityZones, OSDiskType: cfg.OSDiskType, OSDiskSizeGB: cfg.OSDiskSizeGB(cfg.NodeVMSize),
		},
		Tier:                  cfg.ClusterTier,
		AzurePolicy:           cfg.AzurePolicy,
		Monitoring:            cfg.MonitoringConfig(),
		Maintenance:           cfg.MaintenanceConfig(),
		RegistryZoneRedundant: cfg.RegistryZoneRedundancy,
		ClusterAdmins:         cfg.ClusterAdmins,
		AuthorizedIPRanges:    cfg.APIServerAuthorizedIPRanges,
		Protect:               cfg.Protect,
		UpstreamImages:        []infra.UpstreamImage{cfg.RedisUpstream()},
		GrantPropagation:      cfg.GrantPropagation,
	})
	if err != nil {
		return fmt.Errorf("azure layer: %w", err)
	}

	guestbook, err := app.NewGuestbook(ctx, "guestbook", &app.GuestbookArgs{
		Provider:            azure.KubernetesProvider,
		RegistryLoginServer: azure.RegistryLoginServer,
		PullGrants:          azure.PullGrants,
		Nodes:               azure.WorkloadNodes,
		SourceDir:           "app/guestbook",
		ImageTag:            cfg.ImageTag,
		Namespace:           cfg.Namespace,
		Replicas:            cfg.Replicas,
		ServiceType:         cfg.ServiceType,
		RedisImage:          azure.Images["redis"],
		WritesPerMinute:     cfg.WritesPerMinute,
		WriteBurst:          cfg.WriteBurst,
		MaxEntries:          cfg.MaxEntries,
	})
	if err != nil {
		return fmt.Errorf("application layer: %w", err)
	}

	ctx.Export("resourceGroupName", azure.ResourceGroupName)
	ctx.Export("registryLoginServer", azure.RegistryLoginServer)
	ctx.Export("clusterName", azure.ClusterName)
	ctx.Export("kubeletIdentityObjectId", azure.KubeletIdentityObjectID)
	// No kubeconfig output: people reach the cluster with their own Entra identity.
	ctx.Export("getCredentials", azure.GetCredentials)
	ctx.Export("guestbookImage", guestbook.ImageRef)
	if cfg.ServiceType == "LoadBalancer" {
		ctx.Export("guestbookUrl", guestbook.URL)
	}
	return nil
}
