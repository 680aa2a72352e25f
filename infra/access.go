// access.go: Azure role assignments with deterministic names, the Pulumi twin of Bicep's guid().

package infra

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Built-in Azure role definition GUIDs. They are the same in every tenant, so they
// are constants rather than look-ups (a look-up would be one more call that can fail).
const (
	// acrPullRoleID is "AcrPull": pull images from a container registry, in a
	// registry whose role assignment mode is RBAC Registry Permissions (the default).
	acrPullRoleID = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	// repositoryReaderRoleID is "Container Registry Repository Reader": pull images
	// in a registry in RBAC Registry + ABAC Repository Permissions mode, which
	// honours neither AcrPull nor AcrPush, and which Microsoft says will become
	// the default for new registries
	// (https://learn.microsoft.com/azure/container-registry/container-registry-rbac-abac-repository-permissions).
	repositoryReaderRoleID = "b93aa761-3e63-49ed-ac28-beffa264f7ac"
	// managedIdentityOperatorRoleID is "Managed Identity Operator": lets AKS's control
	// plane assign a pre-created kubelet identity to the node pools.
	managedIdentityOperatorRoleID = "f1a07417-d97a-45cb-824c-7a7467783830"
	// aksRBACClusterAdminRoleID is "Azure Kubernetes Service RBAC Cluster Admin": every
	// Kubernetes verb on every resource of the clusters in scope (Azure RBAC for
	// Kubernetes authorization).
	aksRBACClusterAdminRoleID = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
)

// principalTypeServicePrincipal is the principal type of the assignments to the
// stack's own managed identities, which are service principals: saying so lets ARM
// skip the directory look-up that fails with PrincipalNotFound while a just-created
// identity is still replicating.
const principalTypeServicePrincipal = "ServicePrincipal"

// armGUIDNamespace is the namespace ARM's guid() template function hashes under.
var armGUIDNamespace = uuid.MustParse("11fb06fb-712d-4ddd-98c7-e71bbd588830")

// assignmentName returns the role assignment name for a scope, principal and role
// definition: the name-based (version 5) UUID that Bicep's
// guid(scope, principalId, roleDefinitionId) gives for the same strings. Equal inputs
// always give the same name, so a redeploy finds the assignment it made instead of
// creating a twin; any changed input gives a new name, so Pulumi replaces it.
func assignmentName(scope, principalID, roleDefinitionID string) string {
	return uuid.NewSHA1(armGUIDNamespace, []byte(scope+"-"+principalID+"-"+roleDefinitionID)).String()
}

// roleDefinitionID returns the subscription-qualified id of a built-in role for a
// resource scope. ARM reports role definition ids in this form; giving the same form
// keeps `pulumi refresh` from reporting a difference that is not one.
func roleDefinitionID(scope, roleID string) (string, error) {
	sub, err := subscriptionOf(scope)
	if err != nil {
		return "", err
	}
	return "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID, nil
}

// subscriptionOf returns the subscription id in an ARM resource id.
func subscriptionOf(resourceID string) (string, error) {
	parts := strings.Split(resourceID, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "subscriptions") && parts[i+1] != "" {
			return parts[i+1], nil
		}
	}
	return "", fmt.Errorf("resource id %q has no /subscriptions/<id> segment", resourceID)
}

// roleGrant describes one role assignment: who gets which role on what.
type roleGrant struct {
	// Scope is the ARM id of the resource the role applies to.
	Scope pulumi.StringOutput
	// PrincipalID is the object (principal) id of a managed identity. Never its
	// client id: ARM accepts a client id here and the assignment then grants nothing.
	PrincipalID pulumi.StringOutput
	// PrincipalType is the principal's type: User, Group or ServicePrincipal.
	PrincipalType string
	// RoleID is a built-in role definition GUID.
	RoleID string
}

// newRoleAssignment declares the assignment of g with a deterministic name.
func newRoleAssignment(ctx *pulumi.Context, resourceName string, g roleGrant, opts ...pulumi.ResourceOption) (*authorization.RoleAssignment, error) {
	roleDefID := g.Scope.ApplyT(func(scope string) (string, error) {
		return roleDefinitionID(scope, g.RoleID)
	}).(pulumi.StringOutput)
	name := pulumi.All(g.Scope, g.PrincipalID, roleDefID).ApplyT(func(v []any) string {
		return assignmentName(v[0].(string), v[1].(string), v[2].(string))
	}).(pulumi.StringOutput)

	ra, err := authorization.NewRoleAssignment(ctx, resourceName, &authorization.RoleAssignmentArgs{
		RoleAssignmentName: name,
		Scope:              g.Scope,
		PrincipalId:        g.PrincipalID,
		PrincipalType:      pulumi.String(g.PrincipalType),
		RoleDefinitionId:   roleDefID,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring role assignment %s: %w", resourceName, err)
	}
	return ra, nil
}

// newPullGrants lets the kubelet identity (principalID) pull from the registry
// registryID whatever the registry's role assignment mode: AcrPull for the RBAC
// mode, Container Registry Repository Reader for the ABAC mode. The SDK's GA
// registry API cannot set or read the mode (roleAssignmentMode is in 2025-11-01,
// which the SDK does not offer), so the stack holds both; each grants nothing in
// the other mode.
func newPullGrants(ctx *pulumi.Context, name string, registryID, principalID pulumi.StringOutput, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var grants []pulumi.Resource
	for _, g := range []struct{ suffix, role string }{
		{"-acr-pull", acrPullRoleID},
		{"-repository-reader", repositoryReaderRoleID},
	} {
		ra, err := newRoleAssignment(ctx, name+g.suffix, roleGrant{
			Scope:         registryID,
			PrincipalID:   principalID,
			PrincipalType: principalTypeServicePrincipal,
			RoleID:        g.role,
		}, opts...)
		if err != nil {
			return nil, err
		}
		grants = append(grants, ra)
	}
	return grants, nil
}

// Principal is an Entra principal that exists before the deploy.
type Principal struct {
	// ObjectID is the principal's object id (for a service principal, its object
	// id, not its application's client id).
	ObjectID string `json:"objectId"`
	// Type is User, Group or ServicePrincipal: ARM refuses an assignment whose
	// principalType is not the principal's.
	Type string `json:"type"`
}

// PrincipalTypes are the types a role assignment's principal may have.
var PrincipalTypes = []string{"User", "Group", "ServicePrincipal"}

// newClusterAdmins grants each of principals "Azure Kubernetes Service RBAC Cluster
// Admin" on the resource group rgID. The scope is the group, not the cluster, so
// the assignments need only the group: they are made, and propagate, while the
// cluster is still being created, and the first Kubernetes call after it is not
// refused with 403 Forbidden.
func newClusterAdmins(ctx *pulumi.Context, name string, rgID pulumi.StringOutput, principals []Principal, opts ...pulumi.ResourceOption) ([]*authorization.RoleAssignment, error) {
	grants := make([]*authorization.RoleAssignment, 0, len(principals))
	for _, p := range principals {
		// The logical name carries the principal, so adding or removing an admin
		// touches that admin's assignment only.
		ra, err := newRoleAssignment(ctx, name+"-cluster-admin-"+p.ObjectID, roleGrant{
			Scope:         rgID,
			PrincipalID:   pulumi.String(p.ObjectID).ToStringOutput(),
			PrincipalType: p.Type,
			RoleID:        aksRBACClusterAdminRoleID,
		}, opts...)
		if err != nil {
			return nil, err
		}
		grants = append(grants, ra)
	}
	return grants, nil
}
