// registry.go: the private Azure Container Registry the guestbook image is pushed to.

package infra

import (
	"fmt"
	"strings"

	// 2023-07-01 is the newest GA API the SDK offers, and it has cache rules. It
	// cannot express anonymousPullEnabled (only 2024-11-01-preview can): anonymous
	// pull is off when a registry is created and Basic cannot turn it on, but a
	// refresh cannot see someone turning it on out of band (docs/security.md).
	// A preview API would be retired under us and fail every deploy that day.
	containerregistry "github.com/pulumi/pulumi-azure-native-sdk/containerregistry/v2/v20230701"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newRegistry declares the registry. Pulls are authorised only through Azure RBAC
// (AcrPull for the kubelet identity) and pushes through the deploying identity's
// token, so the admin user is switched off explicitly: an unset field would leave
// it to whatever the API defaults to today.
func newRegistry(ctx *pulumi.Context, name string, resourceGroupName, location pulumi.StringInput, sku string, zoneRedundant bool,
	opts ...pulumi.ResourceOption) (*containerregistry.Registry, error) {
	// Zone redundancy (Premium only) is fixed when the registry is made; set
	// either way, so a registry never depends on the API's default.
	zoneRedundancy := "Disabled"
	if zoneRedundant {
		zoneRedundancy = "Enabled"
	}
	reg, err := containerregistry.NewRegistry(ctx, registryLogicalName(name), &containerregistry.RegistryArgs{
		ResourceGroupName: resourceGroupName,
		Location:          location,
		Sku:               &containerregistry.SkuArgs{Name: pulumi.String(sku)},
		AdminUserEnabled:  pulumi.Bool(false),
		ZoneRedundancy:    pulumi.String(zoneRedundancy),
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

// UpstreamImage is a public image the cluster pulls through the stack's registry,
// so its pulls go through the same AcrPull grant as the app's own image, and a
// Docker Hub rate limit or outage does not reach a rollout once it is cached.
type UpstreamImage struct {
	// Name names its cache rule and its entry in Azure.Images, e.g. "redis".
	Name string
	// Source is the upstream repository, e.g. docker.io/library/redis.
	Source string
	// Repository is its path in the stack's registry, e.g. library/redis.
	Repository string
	// Ref pins it: ":<tag>" or "@<digest>" (or both, tag first).
	Ref string
}

// newCacheRules declares an artifact cache rule per image, and returns each
// image's reference in the registry. The reference is built from the rule's
// target repository, so a workload using it waits for the rule: a pull from a
// repository no rule maps yet fails with 404, not a cache miss.
func newCacheRules(ctx *pulumi.Context, name string, resourceGroupName pulumi.StringInput, registry *containerregistry.Registry,
	images []UpstreamImage, opts ...pulumi.ResourceOption) (map[string]pulumi.StringOutput, error) {
	refs := make(map[string]pulumi.StringOutput, len(images))
	for _, img := range images {
		rule, err := containerregistry.NewCacheRule(ctx, name+"-cache-"+img.Name, &containerregistry.CacheRuleArgs{
			ResourceGroupName: resourceGroupName,
			RegistryName:      registry.Name,
			SourceRepository:  pulumi.String(img.Source),
			TargetRepository:  pulumi.String(img.Repository),
			// No credential set: config admits only upstreams ACR caches
			// anonymously (Docker Hub needs one, see config.go's checkPinnedImage).
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("declaring cache rule for %s: %w", img.Source, err)
		}
		ref := img.Ref
		refs[img.Name] = pulumi.All(registry.LoginServer, rule.TargetRepository).ApplyT(func(v []any) string {
			repo, _ := v[1].(*string)
			target := img.Repository
			if repo != nil && *repo != "" {
				target = *repo
			}
			return v[0].(string) + "/" + target + ref
		}).(pulumi.StringOutput)
	}
	return refs, nil
}
