package sim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

func TestInvoke(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	s := deployAzure(t, p, true)
	front := []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: Q0E=\n")
	if err := c.SetKubeconfig(front); err != nil {
		t.Fatal(err)
	}
	invoke := func(tok string, args map[string]any) (map[string]any, error) {
		resp, err := p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: tok, Args: wireOf(t, pm(args))})
		if err != nil {
			return nil, err
		}
		return plainMap(propsOf(t, resp.Return)), nil
	}

	// getClientToken: the audience azure-native asks Entra for.
	for endpoint, aud := range map[string]string{"": tenant.ARMAudience, tenant.RegistryAudience: tenant.RegistryAudience} {
		got, err := invoke("azure-native:authorization:getClientToken", map[string]any{"endpoint": endpoint})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := tenant.ParseToken(str(got, "token"))
		if err != nil || claims.Audience != aud || claims.ObjectID != tenant.DeployerObjectID {
			t.Errorf("getClientToken(endpoint %q) = %+v, %v; want the deploying identity's token for %s", endpoint, claims, err, aud)
		}
	}

	for _, tok := range []string{
		"azure-native:containerservice/v20241001:listManagedClusterUserCredentials",
		"azure-native:containerservice:listManagedClusterUserCredentials",
	} {
		for _, tt := range []struct{ format, want, notWant string }{
			{"exec", "command: kubelogin", "auth-provider"},
			{"", "auth-provider", "command: kubelogin"},
		} {
			got, err := invoke(tok, map[string]any{"resourceGroupName": s.rg, "resourceName": s.clusterName, "format": tt.format})
			if err != nil {
				t.Fatalf("%s: %v", tok, err)
			}
			kc := got["kubeconfigs"].([]any)[0].(map[string]any)
			raw, _ := base64.StdEncoding.DecodeString(str(kc, "value"))
			server := "server: https://127.0.0.1:6443" + ClusterPath(s.rg, s.clusterName)
			if !strings.Contains(string(raw), tt.want) || strings.Contains(string(raw), tt.notWant) || !strings.Contains(string(raw), server) ||
				!strings.Contains(string(raw), "certificate-authority-data: Q0E=") || str(kc, "name") != "clusterUser" {
				t.Errorf("%s in format %q:\n%s\nwant clusterUser, %q, the front's CA and %s", tok, tt.format, raw, tt.want, server)
			}
		}
	}
	_, err := invoke("azure-native:containerservice/v20241001:listManagedClusterUserCredentials",
		map[string]any{"resourceGroupName": s.rg, "resourceName": "nope"})
	if err == nil || !strings.Contains(err.Error(), `Code="ResourceNotFound"`) || !strings.Contains(err.Error(), s.rgID+"/providers/Microsoft.ContainerService/managedClusters/nope") {
		t.Errorf("credentials of a missing cluster: %v, want ResourceNotFound naming its id", err)
	}
	if _, err = invoke("azure-native:authorization:getClientConfig", nil); err == nil || !strings.Contains(err.Error(), "does not know") {
		t.Errorf("unknown invoke: %v, want an error saying the simulator does not know it", err)
	}
}

// TestKubelogin: who kubelogin signs in as, by login mode, and when it cannot.
func TestKubelogin(t *testing.T) {
	c := newCloud(t)
	github := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer request-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": tenant.Token("repo:o/r:environment:dev", r.URL.Query().Get("audience"), time.Now().Add(time.Minute))})
	}))
	defer github.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tenant.Token("sub", "api://AzureADTokenExchange", time.Now().Add(time.Minute))), 0o600); err != nil {
		t.Fatal(err)
	}
	person := SignIn{Principal: tenant.DeployerObjectID, At: time.Now().Add(-24 * time.Hour)}
	ciFresh := SignIn{Principal: tenant.DeployerObjectID, Federated: true, At: time.Now(), AssertionLifetime: 5 * time.Minute}
	ciStale := SignIn{Principal: tenant.DeployerObjectID, Federated: true, At: time.Now().Add(-10 * time.Minute), AssertionLifetime: 5 * time.Minute}
	azurecli := []string{"get-token", "--login", "azurecli", "--server-id", AKSServerAppID, "--tenant-id", tenant.TenantID}
	gh := map[string]string{"AAD_LOGIN_METHOD": "workloadidentity", "AZURE_CLIENT_ID": tenant.DeployerClientID,
		"ACTIONS_ID_TOKEN_REQUEST_URL": github.URL + "/idtoken?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token"}
	with := func(base map[string]string, k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		signIn  SignIn
		args    []string
		env     map[string]string
		wantErr string // "" means a token for the deploying identity
	}{
		{"a person's az login", person, azurecli, nil, ""},
		{"CI sign-in, fresh", ciFresh, azurecli, nil, ""},
		// Azure/azure-cli#28708: the federated token expired under the CLI.
		{"CI sign-in, stale", ciStale, azurecli, nil, "AADSTS700024: Client assertion is not within its valid time range"},
		{"nobody signed in", SignIn{}, azurecli, nil, "Please run 'az login'"},
		{"workload identity from GitHub, stale CLI sign-in", ciStale, azurecli, gh, ""},
		{"workload identity from a token file", ciStale, azurecli, map[string]string{"AAD_LOGIN_METHOD": "workloadidentity",
			"AZURE_CLIENT_ID": tenant.DeployerClientID, "AZURE_FEDERATED_TOKEN_FILE": tokenFile}, ""},
		{"workload identity without a client id", ciStale, azurecli, with(gh, "AZURE_CLIENT_ID", ""), "client ID cannot be empty"},
		{"workload identity for an unknown application", ciStale, azurecli, with(gh, "AZURE_CLIENT_ID", "11111111-0000-0000-0000-000000000000"), "AADSTS700016"},
		{"workload identity with a wrong request token", ciStale, azurecli, with(gh, "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "nope"), "failed with status code: 401"},
		{"workload identity with no token source", ciStale, azurecli, map[string]string{"AAD_LOGIN_METHOD": "workloadidentity", "AZURE_CLIENT_ID": tenant.DeployerClientID},
			"federated token file cannot be empty"},
		{"device code", person, []string{"get-token", "--login", "devicecode", "--server-id", AKSServerAppID}, nil, "waits for a person"},
		{"device code from the environment", person, azurecli, map[string]string{"AAD_LOGIN_METHOD": "devicecode"}, "waits for a person"},
		{"another server id", person, []string{"get-token", "--login", "azurecli", "--server-id", "00000000-0000-0000-0000-000000000000"}, nil, "is not the AKS server application"},
		{"another tenant", person, []string{"get-token", "--login", "azurecli", "--server-id", AKSServerAppID, "--tenant-id", "11111111-0000-0000-0000-000000000000"}, nil, "is not the tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.SetSettings(Settings{SignIn: tt.signIn}); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := Kubelogin(c, tt.args, func(k string) string { return tt.env[k] }, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("kubelogin: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("kubelogin: %v", err)
			}
			var cred struct{ Status struct{ Token string } }
			if err := json.Unmarshal(out.Bytes(), &cred); err != nil {
				t.Fatalf("kubelogin printed %q: %v", out.String(), err)
			}
			claims, err := tenant.ParseToken(cred.Status.Token)
			if err != nil || claims.ObjectID != tenant.DeployerObjectID || claims.Audience != AKSServerAppID {
				t.Errorf("kubelogin's token = %+v, %v; want one for the deploying identity and the AKS server application", claims, err)
			}
		})
	}
}
