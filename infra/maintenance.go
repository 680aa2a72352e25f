// maintenance.go: the planned maintenance windows of the cluster's two upgrade
// channels.

package infra

import (
	"fmt"

	containerservice "github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2/v20241001"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Window is a weekly maintenance window.
type Window struct {
	// DayOfWeek is the day it opens, e.g. Sunday.
	DayOfWeek string
	// StartTime is when it opens, "HH:MM" in UTCOffset's time.
	StartTime string
	// DurationHours is how long it stays open (AKS: 4-24).
	DurationHours int
	// UTCOffset is the offset of StartTime, e.g. +09:00.
	UTCOffset string
}

// Maintenance holds the windows of the cluster's upgrade channels; nil leaves a
// channel free to upgrade at any time.
type Maintenance struct {
	// AutoUpgrade bounds the patch channel's Kubernetes upgrades.
	AutoUpgrade *Window
	// NodeOS bounds the NodeImage channel's node image upgrades.
	NodeOS *Window
}

// The names AKS gives each channel's configuration; any other name is an
// unrelated legacy "default" window
// (https://learn.microsoft.com/azure/aks/planned-maintenance#schedule-configuration-types-for-planned-maintenance).
const (
	autoUpgradeScheduleName   = "aksManagedAutoUpgradeSchedule"
	nodeOSUpgradeScheduleName = "aksManagedNodeOSUpgradeSchedule"
)

// newMaintenance declares each configured window on the cluster.
func newMaintenance(ctx *pulumi.Context, name string, resourceGroupName, clusterName pulumi.StringInput, m Maintenance,
	opts ...pulumi.ResourceOption) error {
	for _, w := range []struct {
		config, suffix string
		window         *Window
	}{
		{autoUpgradeScheduleName, "-maint-upgrade", m.AutoUpgrade},
		{nodeOSUpgradeScheduleName, "-maint-nodeos", m.NodeOS},
	} {
		if w.window == nil {
			continue
		}
		if _, err := containerservice.NewMaintenanceConfiguration(ctx, name+w.suffix, &containerservice.MaintenanceConfigurationArgs{
			ResourceGroupName: resourceGroupName,
			ResourceName:      clusterName,
			ConfigName:        pulumi.String(w.config),
			MaintenanceWindow: &containerservice.MaintenanceWindowArgs{
				Schedule: &containerservice.ScheduleArgs{
					Weekly: &containerservice.WeeklyScheduleArgs{
						DayOfWeek:     pulumi.String(w.window.DayOfWeek),
						IntervalWeeks: pulumi.Int(1),
					},
				},
				StartTime:     pulumi.String(w.window.StartTime),
				DurationHours: pulumi.Int(w.window.DurationHours),
				UtcOffset:     pulumi.String(w.window.UTCOffset),
			},
		}, opts...); err != nil {
			return fmt.Errorf("declaring maintenance configuration %s: %w", w.config, err)
		}
	}
	return nil
}
