// image.go: the guestbook image, built and pushed to the stack's registry as a node of the graph.

package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// registryAudience is the Entra resource of Azure Container Registry: the token
// exchanged for a registry token is asked for it, not for Azure Resource Manager.
// A registry may refuse ARM-audience tokens (az acr config authentication-as-arm;
// the built-in policy "Container registries should have ARM audience token
// authentication disabled" turns them off), and a registry-audience token is
// accepted either way
// (https://learn.microsoft.com/azure/container-registry/container-registry-disable-authentication-as-arm).
const registryAudience = "https://containerregistry.azure.net"

// imagePlatform is the nodes' platform: AKS node pools run linux/amd64, whatever the
// machine running `pulumi up` is (an arm64 laptop would otherwise push arm64).
const imagePlatform = "linux/amd64"

// registryPassword returns the password to push to the registry at loginServer: an
// ACR refresh token exchanged for the deploying identity's Azure token, as a secret.
// The registry's admin user stays disabled.
//
// In a preview nothing is pushed, so nothing is asked of Azure: the password is
// unknown. The image's provider ignores password changes when diffing, so neither
// the unknown value nor a fresh token on each update shows as a change.
func registryPassword(ctx *pulumi.Context, loginServer pulumi.StringOutput, x *tokenExchanger, opts ...pulumi.InvokeOption) pulumi.StringOutput {
	if ctx.DryRun() {
		unknown := pulumi.UnsafeUnknownOutput(nil).ApplyT(func(any) string { return "" }).(pulumi.StringOutput)
		return pulumi.ToSecret(unknown).(pulumi.StringOutput)
	}
	aad := authorization.GetClientTokenOutput(ctx, authorization.GetClientTokenOutputArgs{
		Endpoint: pulumi.StringPtr(registryAudience),
	}, opts...)
	token := pulumi.All(loginServer, aad.Token()).ApplyTWithContext(ctx.Context(),
		func(c context.Context, v []any) (string, error) {
			server := v[0].(string)
			return x.Exchange(c, "https://"+server, server, v[1].(string))
		}).(pulumi.StringOutput)
	return pulumi.ToSecret(token).(pulumi.StringOutput)
}

// imageArgs are the inputs of the guestbook image.
type imageArgs struct {
	LoginServer pulumi.StringOutput
	Password    pulumi.StringOutput
	SourceDir   string
	Tag         string
}

// newImage builds sourceDir's Dockerfile for linux/amd64 and pushes it as
// <login server>/guestbook:<tag>. Nothing is built during a preview.
func newImage(ctx *pulumi.Context, name string, args imageArgs, opts ...pulumi.ResourceOption) (*docker.Image, error) {
	img, err := docker.NewImage(ctx, name+"-image", &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s/guestbook:%s", args.LoginServer, args.Tag),
		Build: &docker.DockerBuildArgs{
			Context:    pulumi.String(args.SourceDir),
			Dockerfile: pulumi.String(filepath.Join(args.SourceDir, "Dockerfile")),
			Platform:   pulumi.String(imagePlatform),
		},
		BuildOnPreview: pulumi.Bool(false),
		Registry: &docker.RegistryArgs{
			Server:   args.LoginServer,
			Username: pulumi.String(acrTokenUsername),
			Password: args.Password,
		},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring guestbook image: %w", err)
	}
	return img, nil
}
