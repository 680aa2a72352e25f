// breakers.go: the scenarios of what broke first deploys against real Azure while
// every check passed (issue "The first real pulumi up succeeds"): a deploy from
// GitHub Actions as the workflows run it, and a registry in ABAC mode. The others
// are in scenarios 2 (the Managed Identity Operator grant's propagation, the
// registry token's audience), 3 (patch-version drift) and 6 (Docker Hub).

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// githubAssertionLifetime is how long the GitHub token azure/login signs the
// Azure CLI in with stays valid: minutes, and the cluster's create outlives it.
const githubAssertionLifetime = 5 * time.Minute

// ciVars are the repository variables docs/ci-cd.md has a user set.
var ciVars = map[string]string{
	"AZURE_CLIENT_ID":       tenant.DeployerClientID,
	"AZURE_TENANT_ID":       tenant.TenantID,
	"AZURE_SUBSCRIPTION_ID": tenant.SubscriptionID,
}

// ciDeploy runs a first deploy as .github/workflows/deploy.yml runs it: the Azure
// CLI signed in by azure/login with a federated GitHub token that expires long
// before the cluster's create is done, the pulumi step's environment as the
// workflow sets it, and a GitHub ID token service for the job. Then a drift check
// as drift.yml runs it, with a sign-in of its own. Both must succeed: the
// Kubernetes provider's first call comes ten minutes after the sign-in.
func (s *rehearsal) ciDeploy(t *testing.T, ctx context.Context) {
	h := s.h
	signInAsCI := func() {
		t.Helper()
		if err := h.Cloud.UpdateSettings(func(st *sim.Settings) {
			st.SignIn = sim.SignIn{Principal: tenant.DeployerObjectID, Federated: true, At: time.Now(),
				AssertionLifetime: scaled(githubAssertionLifetime, rehearsalScale)}
		}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if err := h.Cloud.UpdateSettings(func(st *sim.Settings) {
			st.SignIn = sim.SignIn{Principal: tenant.DeployerObjectID, At: time.Now()}
		}); err != nil {
			t.Error(err)
		}
	}()
	st := s.sideStack(t, ctx, "ci")
	withWorkflow := func(file string) {
		t.Helper()
		env, err := workflowEnv(repoRoot(t), file, ciVars)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h.GitHub.Env() {
			env[k] = v
		}
		if err := st.Workspace().SetEnvVars(env); err != nil {
			t.Fatal(err)
		}
	}

	withWorkflow("deploy.yml")
	signInAsCI()
	issued := h.GitHub.Issued()
	r := h.Up(ctx, st, "ci-deploy")
	if r.Err != nil {
		t.Fatalf("up as deploy.yml runs it failed: %v\n%s", r.Err, h.Why(r))
	}
	if h.GitHub.Issued() == issued {
		t.Errorf("the deploy asked GitHub for no ID token: kubelogin did not sign in with the job's federated credential")
	}

	withWorkflow("drift.yml")
	signInAsCI()
	time.Sleep(scaled(githubAssertionLifetime, rehearsalScale)) // a long job: the sign-in's token has expired
	if p := h.Preview(ctx, st, "ci-drift", optpreview.Refresh(), optpreview.ExpectNoChanges()); p.Err != nil {
		t.Errorf("preview --refresh --expect-no-changes as drift.yml runs it failed: %v\n%s", p.Err, h.Why(p))
	}
	if r := h.Destroy(ctx, st, "ci"); r.Err != nil {
		t.Fatalf("destroying the CI stack: %v\n%s", r.Err, h.Why(r))
	}
	s.removed(t, ctx, st)
}

// abacRegistry deploys a stack whose registry Azure creates in ABAC
// repository-permissions mode, the mode Microsoft says will become the default:
// the kubelet's AcrPull is not honoured there, and the pods must still pull.
func (s *rehearsal) abacRegistry(t *testing.T, ctx context.Context) {
	h := s.h
	if err := h.Cloud.UpdateSettings(func(st *sim.Settings) { st.RegistryMode = sim.RegistryModeABAC }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Cloud.UpdateSettings(func(st *sim.Settings) { st.RegistryMode = "" }); err != nil {
			t.Error(err)
		}
	}()
	st := s.sideStack(t, ctx, "abac")
	r := h.Up(ctx, st, "abac")
	if r.Err != nil {
		t.Fatalf("up with a registry in ABAC mode failed: %v\n%s", r.Err, h.Why(r))
	}
	registry := s.cloudResource(t, "Microsoft.ContainerRegistry/registries", inStack(st))
	if got := str(registry.Outputs, "roleAssignmentMode"); got != sim.RegistryModeABAC {
		t.Fatalf("the registry's mode is %q, want %s: the scenario tests nothing", got, sim.RegistryModeABAC)
	}
	for _, a := range h.Pulls.Refused(r.Start) {
		if strings.Contains(a.Image, strings.ToLower(registry.Name)) {
			t.Errorf("pull of %s for %s refused: %s", a.Image, a.Pod, a.Reason)
		}
	}
	if r := h.Destroy(ctx, st, "abac"); r.Err != nil {
		t.Fatalf("destroying the ABAC stack: %v\n%s", r.Err, h.Why(r))
	}
	s.removed(t, ctx, st)
}
