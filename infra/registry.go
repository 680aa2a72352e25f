// registry.go: the private Azure Container Registry the guestbook image is pushed to.

package infra

import (
	"fmt"
	"strings"

	// The registry uses the 2024-11-01-preview API because it is the newest API the
	// SDK offers that can *say* anonymousPullEnabled=false: the GA API the top-level
	// package uses (2022-12-01) has no such field, so it could neither set it nor
	// notice on `pulumi refresh` that somebody turned anonymous pull on.
	containerregistry "github.com/pulumi/pulumi-azure-native-sdk/containerregistry/v2/v20241101preview"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newRegistry declares the registry. Pulls are authorised only through Azure RBAC
// (AcrPull for the kubelet identity) and pushes through the deploying identity's
// token, so both the admin user and anonymous pull are switched off explicitly:
// an unset field would leave them to whatever the API defaults to today.
func newRegistry(ctx *pulumi.Context, name string, resourceGroupName, location pulumi.StringInput, sku string, opts ...pulumi.ResourceOption) (*containerregistry.Registry, error) {
	reg, err := containerregistry.NewRegistry(ctx, registryLogicalName(name), &containerregistry.RegistryArgs{
		ResourceGroupName:    resourceGroupName,
		Location:             location,
		Sku:                  &containerregistry.SkuArgs{Name: pulumi.String(sku)},
		AdminUserEnabled:     pulumi.Bool(false),
		AnonymousPullEnabled: pulumi.Bool(false),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring container registry: %w", err)
	}
	return reg, nil
}

// registryLogicalName derives the registry's logical name from the component's.
// Registry names may hold only letters and digits and autonaming appends a random
// suffix to the logical name, so the usual "<name>-acr" would give an invalid name.
func registryLogicalName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String() + "acr"
}
