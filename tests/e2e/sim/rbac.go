// rbac.go: Azure RBAC as the simulated services see it: which built-in roles grant
// what, the grants that exist before any deploy, and when an assignment takes
// effect (its create done, then the propagation delay).

package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// Built-in role definition GUIDs, the same in every tenant
// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
const (
	RoleOwner                   = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	RoleContributor             = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	RoleReader                  = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	RoleUserAccessAdministrator = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	RoleRBACAdministrator       = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
	RoleAcrPull                 = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
	RoleAcrPush                 = "8311e382-0749-4cb8-b61a-304f252e45ec"
	RoleRepositoryReader        = "b93aa761-3e63-49ed-ac28-beffa264f7ac"
	RoleRepositoryWriter        = "2a1e307c-b015-4ebd-883e-5b7698a07328"
	RoleRepositoryContributor   = "2efddaa5-3f1f-4df3-97df-af3f13818f4c"
	RoleManagedIdentityOperator = "f1a07417-d97a-45cb-824c-7a7467783830"
	RoleAKSClusterUser          = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
	RoleAKSClusterAdmin         = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
	RoleAKSRBACClusterAdmin     = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
	RoleAKSRBACAdmin            = "3498e952-d568-435e-9b2c-8d77e338d7f7"
	RoleAKSRBACWriter           = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"
	RoleAKSRBACReader           = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
)

// Who may do what, as role sets.
var (
	// mayAssignRoles: Microsoft.Authorization/roleAssignments/write.
	mayAssignRoles = []string{RoleOwner, RoleUserAccessAdministrator, RoleRBACAdministrator}
	// mayListUserCredentials: Microsoft.ContainerService/managedClusters/listClusterUserCredential/action.
	mayListUserCredentials = []string{RoleOwner, RoleContributor, RoleAKSClusterUser, RoleAKSClusterAdmin}
	// The registry's data plane, by role assignment mode. In RBAC Registry
	// Permissions mode the legacy roles and the privileged ones grant pulls and
	// pushes; in RBAC Registry + ABAC Repository Permissions mode only the
	// repository roles do ("Legacy ACR roles such as AcrPull, AcrPush, and
	// AcrDelete are not honored in ABAC-enabled registries", and Owner,
	// Contributor and Reader keep control-plane rights only:
	// https://learn.microsoft.com/azure/container-registry/container-registry-rbac-abac-repository-permissions).
	mayPull = map[string][]string{
		RegistryModeRBAC: {RoleOwner, RoleContributor, RoleReader, RoleAcrPull, RoleAcrPush},
		RegistryModeABAC: {RoleRepositoryReader, RoleRepositoryWriter, RoleRepositoryContributor},
	}
	mayPush = map[string][]string{
		RegistryModeRBAC: {RoleOwner, RoleContributor, RoleAcrPush},
		RegistryModeABAC: {RoleRepositoryWriter, RoleRepositoryContributor},
	}
)

// Directory is the simulated Entra ID's principals that exist before any deploy,
// by object id, with their type: the deploying identity, a service principal as
// in CI.
var Directory = map[string]string{tenant.DeployerObjectID: "ServicePrincipal"}

// standingGrants are the role assignments made before any deploy: the deploying
// identity's, on the subscription, as the README's "Azure permissions" asks for
// (Contributor, Role Based Access Control Administrator, and Container Registry
// Repository Writer for registries in ABAC mode). They are in effect from the start.
var standingGrants = []struct{ principal, role string }{
	{tenant.DeployerObjectID, RoleContributor},
	{tenant.DeployerObjectID, RoleRBACAdministrator},
	{tenant.DeployerObjectID, RoleRepositoryWriter},
}

// subscriptionScope is the subscription's ARM id, the scope of the standing grants.
var subscriptionScope = "/subscriptions/" + tenant.SubscriptionID

// holds reports whether principal holds one of roles on target at now: through a
// standing grant, or an assignment on target or a scope containing it whose
// create completed at least the propagation delay before now. If not, why tells
// what came closest (an assignment too young, say) for the error a service gives.
func (s *cloudState) holds(principal string, roles []string, target string, now time.Time, lat Latency) (ok bool, why string) {
	for _, g := range standingGrants {
		if strings.EqualFold(g.principal, principal) && slices.Contains(roles, g.role) && under(target, subscriptionScope) {
			return true, ""
		}
	}
	why = fmt.Sprintf("principal %s holds none of the roles needed on %s", principal, target)
	for _, ra := range s.Resources {
		if ra.Kind != KindRoleAssignment || !strings.EqualFold(str(ra.Inputs, "principalId"), principal) ||
			!slices.Contains(roles, strings.ToLower(roleGUID(str(ra.Inputs, "roleDefinitionId")))) ||
			!under(target, str(ra.Inputs, "scope")) {
			continue
		}
		switch effective := ra.ReadyAt.Add(lat.PropagationTime()); {
		case ra.ProvisioningState == StateDeleting:
			why = fmt.Sprintf("role assignment %s is being deleted", ra.Name)
		case ra.ProvisioningState == StateCreating:
			why = fmt.Sprintf("role assignment %s is still being created", ra.Name)
		case now.Before(effective):
			why = fmt.Sprintf("role assignment %s was made %s ago and has not taken effect yet (Azure RBAC propagation)",
				ra.Name, now.Sub(ra.ReadyAt).Round(time.Millisecond))
		default:
			return true, ""
		}
	}
	return false, why
}

// principalKnown reports whether the directory knows principal at now: a
// pre-existing one, or a managed identity's whose replication is done.
func (s *cloudState) principalKnown(principal string, now time.Time, lat Latency) (known bool, actualType string, identity *Resource) {
	if t, ok := Directory[strings.ToLower(principal)]; ok {
		return true, t, nil
	}
	for _, o := range s.Resources {
		if o.Kind != KindIdentity || o.ProvisioningState == StateDeleting {
			continue
		}
		if strings.EqualFold(str(o.Outputs, "principalId"), principal) || strings.EqualFold(str(o.Outputs, "clientId"), principal) {
			return !now.Before(o.ReadyAt.Add(lat.ReplicationTime())), "ServicePrincipal", o
		}
	}
	return false, "", nil
}

// roleGUID returns the GUID at the end of a role definition id.
func roleGUID(id string) string {
	return id[strings.LastIndex(id, "/")+1:]
}

// Holds reports whether principal holds one of roles on target now, with the
// cloud's propagation delay; why says what came closest when it does not.
func (c *Cloud) Holds(principal string, roles []string, target string) (ok bool, why string, err error) {
	lat, err := c.Latency()
	if err != nil {
		return false, "", err
	}
	s, err := c.snapshot()
	if err != nil {
		return false, "", err
	}
	ok, why = s.holds(principal, roles, target, time.Now(), lat)
	return ok, why, nil
}

// Cluster returns the managed cluster name in resource group rg, if Azure has one.
func (c *Cloud) Cluster(rg, name string) (Resource, bool, error) {
	s, err := c.snapshot()
	if err != nil {
		return Resource{}, false, err
	}
	r := s.find(rgID(rg) + "/providers/" + armKinds["containerservice:ManagedCluster"].ARMType + "/" + name)
	if r == nil {
		return Resource{}, false, nil
	}
	return *r, true, nil
}
