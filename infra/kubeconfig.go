// kubeconfig.go: the cluster's user kubeconfig and the explicit Kubernetes provider built from it.

package infra

import (
	"encoding/base64"
	"errors"
	"fmt"

	containerservice "github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2/v20241001"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// kubeconfigOf returns the cluster's user kubeconfig as a secret. The credentials
// are listed only once the cluster exists (the invoke waits for its name), so the
// kubeconfig, and everything built from it, depends on the cluster.
func kubeconfigOf(ctx *pulumi.Context, resourceGroupName pulumi.StringInput, cluster *containerservice.ManagedCluster) pulumi.StringOutput {
	creds := containerservice.ListManagedClusterUserCredentialsOutput(ctx, containerservice.ListManagedClusterUserCredentialsOutputArgs{
		ResourceGroupName: resourceGroupName,
		ResourceName:      cluster.Name,
	}, pulumi.Parent(cluster))
	kubeconfig := creds.Kubeconfigs().ApplyT(func(kcs []containerservice.CredentialResultResponse) (string, error) {
		if len(kcs) == 0 {
			return "", errors.New("AKS returned no user kubeconfig")
		}
		raw, err := base64.StdEncoding.DecodeString(kcs[0].Value)
		if err != nil {
			return "", fmt.Errorf("decoding kubeconfig %q from AKS: %w", kcs[0].Name, err)
		}
		return string(raw), nil
	}).(pulumi.StringOutput)
	return pulumi.ToSecret(kubeconfig).(pulumi.StringOutput)
}

// newKubernetesProvider declares the one provider every Kubernetes resource of the
// stack must use: the cluster this stack created, never whatever ~/.kube/config or
// $KUBECONFIG happens to point at on the machine running `pulumi up`.
func newKubernetesProvider(ctx *pulumi.Context, name string, kubeconfig pulumi.StringOutput, opts ...pulumi.ResourceOption) (*kubernetes.Provider, error) {
	provider, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{
		Kubeconfig: kubeconfig,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring Kubernetes provider: %w", err)
	}
	return provider, nil
}
