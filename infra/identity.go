// identity.go: the two user-assigned identities AKS runs as, created before the cluster.

package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// identities are the cluster's control-plane and kubelet identities.
//
// Both are created by this stack rather than by AKS. A kubelet identity that AKS
// generates exists only once the cluster does, so its AcrPull assignment could only
// start after the 5-10 minute cluster create and would then race Azure RBAC
// propagation against the first image pull. Pre-creating it lets the assignment be
// made, and propagate, while the cluster is still provisioning.
type identities struct {
	ControlPlane *managedidentity.UserAssignedIdentity
	Kubelet      *managedidentity.UserAssignedIdentity
	// Operator lets the control-plane identity assign the kubelet identity to the
	// nodes; AKS refuses a pre-created kubelet identity without it.
	Operator *authorization.RoleAssignment
}

func newIdentities(ctx *pulumi.Context, name string, resourceGroupName, location pulumi.StringInput, opts ...pulumi.ResourceOption) (*identities, error) {
	controlPlane, err := managedidentity.NewUserAssignedIdentity(ctx, name+"-control-plane", &managedidentity.UserAssignedIdentityArgs{
		ResourceGroupName: resourceGroupName,
		Location:          location,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring control-plane identity: %w", err)
	}
	kubelet, err := managedidentity.NewUserAssignedIdentity(ctx, name+"-kubelet", &managedidentity.UserAssignedIdentityArgs{
		ResourceGroupName: resourceGroupName,
		Location:          location,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring kubelet identity: %w", err)
	}
	operator, err := newRoleAssignment(ctx, name+"-mi-operator", roleGrant{
		Scope:         kubelet.ID().ToStringOutput(),
		PrincipalID:   controlPlane.PrincipalId,
		PrincipalType: principalTypeServicePrincipal,
		RoleID:        managedIdentityOperatorRoleID,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &identities{ControlPlane: controlPlane, Kubelet: kubelet, Operator: operator}, nil
}
