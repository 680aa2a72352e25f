// entra.go: the simulated Entra ID side of an AKS cluster: the user credentials AKS
// lists for an Entra-only cluster, and the kubelogin that turns an Azure CLI login
// into a Kubernetes token.

package sim

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"
)

// AKSServerAppID is the AKS Entra ID server application, the audience of every
// token an Entra-integrated cluster accepts.
const AKSServerAppID = "6dae42f8-4368-4678-94ff-3960e28e3630"

// NoRoleToken is the token kubelogin hands out when the deploying identity holds
// no Azure RBAC role for Kubernetes on any cluster: the API server refuses it
// with 401, where AKS would answer 403.
const NoRoleToken = "entra-identity-without-an-aks-rbac-role"

// localKubeconfig is the part of the control plane's kubeconfig the simulation reads.
type localKubeconfig struct {
	Clusters []struct {
		Name    string         `yaml:"name"`
		Cluster map[string]any `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		User struct {
			Token string `yaml:"token"`
		} `yaml:"user"`
	} `yaml:"users"`
}

func parseLocalKubeconfig(b []byte) (localKubeconfig, error) {
	var kc localKubeconfig
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return kc, fmt.Errorf("parsing the control plane's kubeconfig: %w", err)
	}
	if len(kc.Clusters) != 1 || len(kc.Users) != 1 || kc.Users[0].User.Token == "" {
		return kc, errors.New("the control plane's kubeconfig must have one cluster and one token user")
	}
	return kc, nil
}

// userCredentials is what AKS lists as a cluster's user kubeconfig. A cluster
// without Entra ID integration gets the control plane's own (a token inline, as
// a local account's certificate would be); an Entra cluster gets the cluster
// entry and, for format "exec", kubelogin with a device-code login, as AKS
// answers, or for any other format the azure auth-provider client-go dropped.
func userCredentials(local []byte, cluster *Resource, format string) ([]byte, error) {
	aad, _ := cluster.Inputs["aadProfile"].(map[string]any)
	if managed, _ := aad["managed"].(bool); !managed {
		return local, nil
	}
	kc, err := parseLocalKubeconfig(local)
	if err != nil {
		return nil, err
	}
	user := map[string]any{"auth-provider": map[string]any{"name": "azure", "config": map[string]any{
		"apiserver-id": AKSServerAppID, "environment": "AzurePublicCloud", "tenant-id": TenantID,
	}}}
	if format == "exec" {
		user = map[string]any{"exec": map[string]any{
			"apiVersion": "client.authentication.k8s.io/v1beta1",
			"command":    "kubelogin",
			"args": []string{"get-token", "--environment", "AzurePublicCloud", "--server-id", AKSServerAppID,
				"--client-id", "80faf920-1908-4b52-b5ef-a8e7bedfc67a", "--tenant-id", TenantID, "--login", "devicecode"},
			"env":                nil,
			"interactiveMode":    "IfAvailable",
			"provideClusterInfo": false,
		}}
	}
	name := cluster.Name
	return yaml.Marshal(map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"clusters":        []any{map[string]any{"name": name, "cluster": kc.Clusters[0].Cluster}},
		"users":           []any{map[string]any{"name": "clusterUser_" + cluster.ResourceGroup + "_" + name, "user": user}},
		"contexts":        []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": "clusterUser_" + cluster.ResourceGroup + "_" + name}}},
		"current-context": name,
	})
}

// Kubelogin is the simulated `kubelogin get-token`: with --login azurecli (the
// Azure CLI's login, which in the simulation is the deploying identity) and the
// AKS server id, it prints an ExecCredential. The token is the control plane's
// when the identity holds "Azure Kubernetes Service RBAC Cluster Admin" over a
// cluster of the cloud, and one the API server refuses otherwise. Any other login
// would wait for a person at a prompt: it fails instead, so a rehearsal that
// reaches it fails fast.
func Kubelogin(c *Cloud, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "get-token" {
		return fmt.Errorf("kubelogin (simulated): only get-token is simulated, got %q", args)
	}
	flags := flag.NewFlagSet("kubelogin get-token", flag.ContinueOnError)
	login := flags.String("login", "devicecode", "")
	serverID := flags.String("server-id", "", "")
	tenant := flags.String("tenant-id", "", "")
	flags.String("environment", "", "")
	flags.String("client-id", "", "")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case *login != "azurecli":
		return fmt.Errorf("kubelogin (simulated): --login %s waits for a person to sign in; nothing may prompt in a deploy", *login)
	case *serverID != AKSServerAppID:
		return fmt.Errorf("kubelogin (simulated): --server-id %q is not the AKS server application %s", *serverID, AKSServerAppID)
	case *tenant != "" && *tenant != TenantID:
		return fmt.Errorf("kubelogin (simulated): the Azure CLI is logged in to tenant %s, not %s", TenantID, *tenant)
	}
	local, err := c.kubeconfig()
	if err != nil {
		return err
	}
	kc, err := parseLocalKubeconfig(local)
	if err != nil {
		return err
	}
	s, err := c.snapshot()
	if err != nil {
		return err
	}
	token := NoRoleToken
	for _, r := range s.Resources {
		if r.Kind == KindCluster && s.granted(AADTokenPrincipal, aksRBACClusterAdminRole, r.ID) {
			token = kc.Users[0].User.Token
		}
	}
	return json.NewEncoder(stdout).Encode(map[string]any{
		"apiVersion": "client.authentication.k8s.io/v1beta1",
		"kind":       "ExecCredential",
		"spec":       map[string]any{"interactive": false},
		"status": map[string]any{
			"expirationTimestamp": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"token":               token,
		},
	})
}
