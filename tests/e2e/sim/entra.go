// entra.go: the simulated Entra ID side of an AKS cluster: the user credentials AKS
// lists for an Entra-only cluster, the Azure CLI's sign-in, and the kubelogin
// that turns a sign-in into a token for the cluster.

package sim

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// AKSServerAppID is the AKS Entra ID server application, the audience of every
// token an Entra-integrated cluster accepts.
const AKSServerAppID = tenant.AKSAudience

// ClusterPath is the path under the simulated API server front that stands for
// a cluster's API server (every cluster shares one control plane; the path says
// which cluster a request is for).
func ClusterPath(resourceGroup, name string) string {
	return "/aks/" + resourceGroup + "/" + name
}

// localKubeconfig is the part of the front's kubeconfig the simulation reads.
type localKubeconfig struct {
	Clusters []struct {
		Name    string         `yaml:"name"`
		Cluster map[string]any `yaml:"cluster"`
	} `yaml:"clusters"`
}

func parseLocalKubeconfig(b []byte) (localKubeconfig, error) {
	var kc localKubeconfig
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return kc, fmt.Errorf("parsing the front's kubeconfig: %w", err)
	}
	if len(kc.Clusters) != 1 {
		return kc, errors.New("the front's kubeconfig must have one cluster")
	}
	return kc, nil
}

// userCredentials is what AKS lists as a cluster's user kubeconfig: the
// cluster's API server (the front, under the cluster's path) and CA and, as AKS
// answers for an Entra cluster, for format "exec" kubelogin with a device-code
// login, for any other format the azure auth-provider client-go dropped. A
// cluster without Entra integration is not simulated: its user credential would
// be a certificate.
func userCredentials(local []byte, cluster *Resource, format string) ([]byte, error) {
	aad := obj(cluster.Inputs, "aadProfile")
	if managed, _ := aad["managed"].(bool); !managed {
		return nil, armError(400, "BadRequest", "the simulated AKS serves Entra ID clusters only (aadProfile.managed): "+
			"a local account's certificate is not simulated")
	}
	kc, err := parseLocalKubeconfig(local)
	if err != nil {
		return nil, err
	}
	entry := clonePlain(kc.Clusters[0].Cluster)
	entry["server"] = strings.TrimSuffix(str(entry, "server"), "/") + ClusterPath(cluster.ResourceGroup, cluster.Name)
	user := map[string]any{"auth-provider": map[string]any{"name": "azure", "config": map[string]any{
		"apiserver-id": AKSServerAppID, "environment": "AzurePublicCloud", "tenant-id": tenant.TenantID,
	}}}
	if format == "exec" {
		user = map[string]any{"exec": map[string]any{
			"apiVersion": "client.authentication.k8s.io/v1beta1",
			"command":    "kubelogin",
			"args": []string{"get-token", "--environment", "AzurePublicCloud", "--server-id", AKSServerAppID,
				"--client-id", "80faf920-1908-4b52-b5ef-a8e7bedfc67a", "--tenant-id", tenant.TenantID, "--login", "devicecode"},
			"env":                nil,
			"interactiveMode":    "IfAvailable",
			"provideClusterInfo": false,
		}}
	}
	name := cluster.Name
	return yaml.Marshal(map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"clusters":        []any{map[string]any{"name": name, "cluster": entry}},
		"users":           []any{map[string]any{"name": "clusterUser_" + cluster.ResourceGroup + "_" + name, "user": user}},
		"contexts":        []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": "clusterUser_" + cluster.ResourceGroup + "_" + name}}},
		"current-context": name,
	})
}

// Applications the simulated Entra ID knows, by client id: the object id of
// their service principal. Federated credentials of the deploying identity
// trust the rehearsal's GitHub token issuer.
var applications = map[string]string{tenant.DeployerClientID: tenant.DeployerObjectID}

// tokenLifetime is how long the tokens kubelogin hands out are valid: an hour,
// as Entra's access tokens are by default.
const tokenLifetime = time.Hour

// Kubelogin is the simulated `kubelogin get-token` for the AKS server
// application, printing an ExecCredential with an Entra token for the cluster.
// Who it signs in as depends on the login mode, --login or AAD_LOGIN_METHOD
// (which, as in kubelogin, takes precedence: options.go UpdateFromEnv):
//
//   - azurecli: the Azure CLI's sign-in (the cloud's Settings.SignIn). A
//     person's sign-in stays valid; a federated one (azure/login with GitHub
//     OIDC) fails with AADSTS700024 once its GitHub token has expired, as the
//     CLI presents that token again for every new token it asks for
//     (Azure/azure-cli#28708, Azure/login#372).
//   - workloadidentity: AZURE_CLIENT_ID's federated credential, with a GitHub
//     token fetched fresh for every call from ACTIONS_ID_TOKEN_REQUEST_URL with
//     ACTIONS_ID_TOKEN_REQUEST_TOKEN (kubelogin's githubactionscredential.go), or
//     read from AZURE_FEDERATED_TOKEN_FILE.
//
// Any other login would wait for a person at a prompt: it fails instead, so a
// rehearsal that reaches it fails fast. Whether the token may do anything in
// the cluster is the API server's (the front's) to decide, at each request.
func Kubelogin(c *Cloud, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "get-token" {
		return fmt.Errorf("kubelogin (simulated): only get-token is simulated, got %q", args)
	}
	flags := flag.NewFlagSet("kubelogin get-token", flag.ContinueOnError)
	login := flags.String("login", "devicecode", "")
	serverID := flags.String("server-id", "", "")
	tenantID := flags.String("tenant-id", "", "")
	clientID := flags.String("client-id", "", "")
	flags.String("environment", "", "")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	if v := getenv("AAD_LOGIN_METHOD"); v != "" {
		*login = v
	}
	if *serverID != AKSServerAppID {
		return fmt.Errorf("kubelogin (simulated): --server-id %q is not the AKS server application %s", *serverID, AKSServerAppID)
	}
	if *tenantID != "" && *tenantID != tenant.TenantID {
		return fmt.Errorf("kubelogin (simulated): tenant %s is not the tenant %s", *tenantID, tenant.TenantID)
	}
	settings, err := c.Settings()
	if err != nil {
		return err
	}
	now := time.Now()
	var principal string
	switch *login {
	case "azurecli":
		if principal, err = azureCLIPrincipal(settings.SignIn, now); err != nil {
			return err
		}
	case "workloadidentity":
		if v := getenv("AZURE_CLIENT_ID"); v != "" {
			*clientID = v
		}
		if v := getenv("AZURE_TENANT_ID"); v != "" {
			*tenantID = v
		}
		if principal, err = workloadIdentityPrincipal(*clientID, *tenantID, getenv, now); err != nil {
			return err
		}
	default:
		return fmt.Errorf("kubelogin (simulated): --login %s waits for a person to sign in; nothing may prompt in a deploy", *login)
	}
	return json.NewEncoder(stdout).Encode(map[string]any{
		"apiVersion": "client.authentication.k8s.io/v1beta1",
		"kind":       "ExecCredential",
		"spec":       map[string]any{"interactive": false},
		"status": map[string]any{
			"expirationTimestamp": now.Add(tokenLifetime).UTC().Format(time.RFC3339),
			"token":               tenant.Token(principal, AKSServerAppID, now.Add(tokenLifetime)),
		},
	})
}

// azureCLIPrincipal is who `az account get-access-token` gets a token for at now.
func azureCLIPrincipal(in SignIn, now time.Time) (string, error) {
	switch {
	case in.Principal == "":
		return "", errors.New("kubelogin (simulated): ERROR: Please run 'az login' to setup account")
	case in.Federated && !now.Before(in.At.Add(in.AssertionLifetime)):
		// What the Azure CLI answers when its federated token is stale.
		return "", fmt.Errorf("kubelogin (simulated): failed to get token: ERROR: AADSTS700024: Client assertion is not within its valid time range. "+
			"Current time: %s, assertion valid from %s, expiry time of assertion %s. "+
			"Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials",
			now.UTC().Format("2006-01-02T15:04:05.0000000Z"), in.At.UTC().Format("2006-01-02T15:04:05.0000000Z"),
			in.At.Add(in.AssertionLifetime).UTC().Format("2006-01-02T15:04:05.0000000Z"))
	}
	return in.Principal, nil
}

// workloadIdentityPrincipal exchanges a federated token for clientID's principal.
func workloadIdentityPrincipal(clientID, tenantID string, getenv func(string) string, now time.Time) (string, error) {
	if clientID == "" {
		return "", errors.New("kubelogin (simulated): client ID cannot be empty")
	}
	if tenantID == "" {
		return "", errors.New("kubelogin (simulated): tenant ID cannot be empty")
	}
	var assertion string
	switch reqURL, reqToken, file := getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"), getenv("AZURE_FEDERATED_TOKEN_FILE"); {
	case reqURL != "" && reqToken != "":
		var err error
		if assertion, err = githubToken(reqURL, reqToken); err != nil {
			return "", err
		}
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("kubelogin (simulated): reading the federated token file: %w", err)
		}
		assertion = strings.TrimSpace(string(b))
	default:
		return "", errors.New("kubelogin (simulated): federated token file cannot be empty")
	}
	claims, err := tenant.ParseToken(assertion)
	switch {
	case err != nil:
		return "", fmt.Errorf("kubelogin (simulated): AADSTS50027: JWT token is invalid or malformed: %v", err)
	case claims.Audience != "api://AzureADTokenExchange":
		return "", fmt.Errorf("kubelogin (simulated): AADSTS700212: No matching federated identity record found for presented assertion audience '%s'", claims.Audience)
	case !now.Before(time.Unix(claims.Expires, 0)):
		return "", errors.New("kubelogin (simulated): AADSTS700024: Client assertion is not within its valid time range")
	}
	principal, ok := applications[strings.ToLower(clientID)]
	if !ok {
		return "", fmt.Errorf("kubelogin (simulated): AADSTS700016: Application with identifier '%s' was not found in the directory '%s'", clientID, tenantID)
	}
	return principal, nil
}

// githubToken asks the GitHub Actions token service for an ID token for Entra,
// as kubelogin does (audience api://AzureADTokenExchange, the request token as
// bearer).
func githubToken(reqURL, reqToken string) (string, error) {
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("kubelogin (simulated): unable to parse ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	q := u.Query()
	q.Set("audience", "api://AzureADTokenExchange")
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "bearer "+reqToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("kubelogin (simulated): github actions ID token request: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Value string `json:"value"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("kubelogin (simulated): github actions ID token request failed with status code: %d, response body: %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Value == "" {
		return "", fmt.Errorf("kubelogin (simulated): github actions ID token is empty (%v)", err)
	}
	return body.Value, nil
}
