// kubeconfig.go: how the program reaches the cluster, and the explicit Kubernetes provider built on it.

package infra

import (
	"encoding/base64"
	"errors"
	"fmt"

	containerservice "github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2/v20241001"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// aksEntraServerAppID is the AKS Entra ID server application: the audience of the
// tokens every Entra-integrated AKS cluster accepts, the same in every tenant.
const aksEntraServerAppID = "6dae42f8-4368-4678-94ff-3960e28e3630"

// kubeloginInstallHint is what client-go prints when kubelogin is not on PATH.
const kubeloginInstallHint = "kubelogin is required to reach this Entra ID-only AKS cluster: " +
	"install it with `az aks install-cli` or from https://github.com/Azure/kubelogin/releases, " +
	"and log in with `az login` (GitHub Actions: azure/login with OIDC)"

// kubeconfigOf returns a kubeconfig for the cluster that authenticates as whoever
// is logged in to the Azure CLI. The cluster's address and CA come from AKS's user
// credentials, listed only once the cluster exists (the invoke waits for its name),
// so the kubeconfig, and everything built from it, depends on the cluster.
//
// The kubeconfig holds no credential: each Kubernetes call gets a short-lived
// Entra token from `kubelogin get-token --login azurecli` at that moment. Nothing
// in it changes from run to run, so a preview of an unchanged stack shows no
// diff on the provider.
func kubeconfigOf(ctx *pulumi.Context, resourceGroupName pulumi.StringInput, cluster *containerservice.ManagedCluster) pulumi.StringOutput {
	creds := containerservice.ListManagedClusterUserCredentialsOutput(ctx, containerservice.ListManagedClusterUserCredentialsOutputArgs{
		ResourceGroupName: resourceGroupName,
		ResourceName:      cluster.Name,
		// exec: kubelogin's format, carrying no secret (the other, "azure", is the
		// auth-provider format client-go no longer supports).
		Format: pulumi.StringPtr("exec"),
	}, pulumi.Parent(cluster))
	return creds.Kubeconfigs().ApplyT(func(kcs []containerservice.CredentialResultResponse) (string, error) {
		if len(kcs) == 0 {
			return "", errors.New("AKS returned no user kubeconfig")
		}
		raw, err := base64.StdEncoding.DecodeString(kcs[0].Value)
		if err != nil {
			return "", fmt.Errorf("decoding kubeconfig %q from AKS: %w", kcs[0].Name, err)
		}
		return entraKubeconfig(raw)
	}).(pulumi.StringOutput)
}

// The parts of a kubeconfig this program reads and writes, in kubeconfig's field names.
type (
	kubeconfigFile struct {
		APIVersion     string            `yaml:"apiVersion"`
		Kind           string            `yaml:"kind"`
		Clusters       []namedCluster    `yaml:"clusters"`
		Users          []namedUser       `yaml:"users"`
		Contexts       []namedContext    `yaml:"contexts"`
		CurrentContext string            `yaml:"current-context"`
		Preferences    map[string]string `yaml:"preferences"`
	}
	namedCluster struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthorityData string `yaml:"certificate-authority-data,omitempty"`
		} `yaml:"cluster"`
	}
	namedUser struct {
		Name string `yaml:"name"`
		User struct {
			Exec *execConfig `yaml:"exec,omitempty"`
		} `yaml:"user"`
	}
	execConfig struct {
		APIVersion         string   `yaml:"apiVersion"`
		Command            string   `yaml:"command"`
		Args               []string `yaml:"args"`
		InstallHint        string   `yaml:"installHint"`
		InteractiveMode    string   `yaml:"interactiveMode"`
		ProvideClusterInfo bool     `yaml:"provideClusterInfo"`
	}
	namedContext struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	}
)

// entraKubeconfig keeps the cluster entry of AKS's kubeconfig (server and CA) and
// authenticates through kubelogin's Azure CLI login. AKS's own exec entry logs in
// with a device code, which would stop a CI run at a prompt nobody answers; the
// Azure CLI login works the same on a laptop (az login) and in GitHub Actions
// (azure/login with OIDC), and interactiveMode Never makes sure nothing prompts.
func entraKubeconfig(aks []byte) (string, error) {
	var in kubeconfigFile
	if err := yaml.Unmarshal(aks, &in); err != nil {
		return "", fmt.Errorf("parsing the kubeconfig AKS returned: %w", err)
	}
	if len(in.Clusters) != 1 || in.Clusters[0].Cluster.Server == "" {
		return "", fmt.Errorf("the kubeconfig AKS returned has %d clusters, want one with a server", len(in.Clusters))
	}
	cluster := in.Clusters[0]
	// The tenant and cloud AKS names, so a user logged in to several tenants gets
	// a token from the cluster's.
	args := []string{"get-token", "--login", "azurecli", "--server-id", aksEntraServerAppID}
	for _, u := range in.Users {
		if u.User.Exec == nil {
			continue
		}
		for _, flag := range []string{"--tenant-id", "--environment"} {
			if v := flagValue(u.User.Exec.Args, flag); v != "" {
				args = append(args, flag, v)
			}
		}
	}
	user := namedUser{Name: "entra-azurecli"}
	user.User.Exec = &execConfig{
		APIVersion:      "client.authentication.k8s.io/v1beta1",
		Command:         "kubelogin",
		Args:            args,
		InstallHint:     kubeloginInstallHint,
		InteractiveMode: "Never",
	}
	ctxEntry := namedContext{Name: cluster.Name}
	ctxEntry.Context.Cluster, ctxEntry.Context.User = cluster.Name, user.Name
	out, err := yaml.Marshal(kubeconfigFile{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []namedCluster{cluster},
		Users:          []namedUser{user},
		Contexts:       []namedContext{ctxEntry},
		CurrentContext: ctxEntry.Name,
		Preferences:    map[string]string{},
	})
	if err != nil {
		return "", fmt.Errorf("writing the cluster's kubeconfig: %w", err)
	}
	return string(out), nil
}

// flagValue returns the value following flag in args, or "".
func flagValue(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
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
