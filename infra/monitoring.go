// monitoring.go: the Log Analytics workspace, Container insights' data collection
// rule, and the diagnostic settings that send the cluster's control-plane logs
// and the registry's events to the workspace.

package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/insights/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ClusterLogCategories are the AKS resource logs the cluster's diagnostic setting
// sends to the workspace (https://learn.microsoft.com/azure/aks/monitor-aks-reference#resource-logs).
// kube-audit-admin, not kube-audit: it leaves out get and list, which are most
// of the audit volume and say nothing about who changed what.
var ClusterLogCategories = []string{
	"kube-audit-admin", "guard", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "cluster-autoscaler",
}

// RegistryLogCategories are the registry's resource logs: every login, and every
// push, pull and delete of a repository
// (https://learn.microsoft.com/azure/container-registry/monitor-container-registry-reference#resource-logs).
var RegistryLogCategories = []string{"ContainerRegistryLoginEvents", "ContainerRegistryRepositoryEvents"}

// containerInsightsStream is the stream set Container insights collects by default
// (https://learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable#arm).
const containerInsightsStream = "Microsoft-ContainerInsights-Group-Default"

// newWorkspace declares the Log Analytics workspace every log of the stack goes to.
func newWorkspace(ctx *pulumi.Context, name string, resourceGroupName, location pulumi.StringInput, retentionDays int,
	opts ...pulumi.ResourceOption) (*operationalinsights.Workspace, error) {
	ws, err := operationalinsights.NewWorkspace(ctx, name+"-logs", &operationalinsights.WorkspaceArgs{
		ResourceGroupName: resourceGroupName,
		Location:          location,
		// Pay-as-you-go per GB: the only SKU new workspaces may use.
		Sku:             &operationalinsights.WorkspaceSkuArgs{Name: pulumi.String("PerGB2018")},
		RetentionInDays: pulumi.Int(retentionDays),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring Log Analytics workspace: %w", err)
	}
	return ws, nil
}

// containerInsightsAddon is the cluster's monitoring add-on (omsagent) sending to
// ws with managed-identity auth (useAADAuth): the agent has no workspace key, and
// what it collects comes from the data collection rule newContainerInsights
// associates with the cluster. Azure's ARM onboarding does the same
// (https://learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable#arm):
// with useAADAuth and no rule, the agent runs and collects nothing.
func containerInsightsAddon(ws *operationalinsights.Workspace) pulumi.StringMapInput {
	return pulumi.StringMap{
		"logAnalyticsWorkspaceResourceID": ws.ID().ToStringOutput(),
		"useAADAuth":                      pulumi.String("true"),
	}
}

// newContainerInsights declares Container insights' data collection rule and
// associates it with the cluster. The rule needs only the workspace, so it is
// made while the cluster is; the association needs the cluster's id.
func newContainerInsights(ctx *pulumi.Context, name string, resourceGroupName, location pulumi.StringInput,
	ws *operationalinsights.Workspace, clusterID pulumi.StringOutput, opts ...pulumi.ResourceOption) error {
	rule, err := insights.NewDataCollectionRule(ctx, name+"-ci-dcr", &insights.DataCollectionRuleArgs{
		ResourceGroupName: resourceGroupName,
		Location:          location,
		Kind:              pulumi.String("Linux"),
		DataSources: &insights.DataCollectionRuleDataSourcesArgs{
			Extensions: insights.ExtensionDataSourceArray{insights.ExtensionDataSourceArgs{
				Name:          pulumi.String("ContainerInsightsExtension"),
				ExtensionName: pulumi.String("ContainerInsights"),
				Streams:       pulumi.StringArray{pulumi.String(containerInsightsStream)},
				ExtensionSettings: pulumi.Map{"dataCollectionSettings": pulumi.Map{
					"interval":               pulumi.String("1m"),
					"namespaceFilteringMode": pulumi.String("Off"),
					"enableContainerLogV2":   pulumi.Bool(true),
				}},
			}},
		},
		Destinations: &insights.DataCollectionRuleDestinationsArgs{
			LogAnalytics: insights.LogAnalyticsDestinationArray{insights.LogAnalyticsDestinationArgs{
				Name:                pulumi.String("ciworkspace"),
				WorkspaceResourceId: ws.ID().ToStringOutput(),
			}},
		},
		DataFlows: insights.DataFlowArray{insights.DataFlowArgs{
			Streams:      pulumi.StringArray{pulumi.String(containerInsightsStream)},
			Destinations: pulumi.StringArray{pulumi.String("ciworkspace")},
		}},
	}, opts...)
	if err != nil {
		return fmt.Errorf("declaring Container insights data collection rule: %w", err)
	}
	if _, err := insights.NewDataCollectionRuleAssociation(ctx, name+"-ci-dcra", &insights.DataCollectionRuleAssociationArgs{
		// The name the agent looks for (Azure's ARM template uses it too).
		AssociationName:      pulumi.String("ContainerInsightsExtension"),
		ResourceUri:          clusterID,
		DataCollectionRuleId: rule.ID().ToStringOutput(),
	}, opts...); err != nil {
		return fmt.Errorf("declaring Container insights data collection rule association: %w", err)
	}
	return nil
}

// newDiagnostics sends resourceID's logs of categories, and all its metrics, to ws.
// Resource-specific tables (Dedicated: AKSAuditAdmin, AKSControlPlane,
// ContainerRegistryLoginEvents...) rather than AzureDiagnostics: typed columns,
// and each table's plan and retention can be set on its own.
func newDiagnostics(ctx *pulumi.Context, name string, resourceID pulumi.StringOutput, ws *operationalinsights.Workspace,
	categories []string, opts ...pulumi.ResourceOption) error {
	logs := make(insights.LogSettingsArray, 0, len(categories))
	for _, c := range categories {
		logs = append(logs, insights.LogSettingsArgs{Category: pulumi.String(c), Enabled: pulumi.Bool(true)})
	}
	if _, err := insights.NewDiagnosticSetting(ctx, name, &insights.DiagnosticSettingArgs{
		ResourceUri:                 resourceID,
		WorkspaceId:                 ws.ID().ToStringOutput(),
		LogAnalyticsDestinationType: pulumi.String("Dedicated"),
		Logs:                        logs,
		Metrics: insights.MetricSettingsArray{
			insights.MetricSettingsArgs{Category: pulumi.String("AllMetrics"), Enabled: pulumi.Bool(true)},
		},
	}, opts...); err != nil {
		return fmt.Errorf("declaring diagnostic setting %s: %w", name, err)
	}
	return nil
}
