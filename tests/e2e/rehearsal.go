// rehearsal.go: the scenarios `make e2e` runs through the real CLI, in order, on
// one simulated cloud and cluster.

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optremove"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
	"github.com/guestbook-aks/guestbook/tests/stacktest"
	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// TypicalLatency is how long Azure and Docker take, in simulated seconds: typical
// figures for a first deploy in one region.
var TypicalLatency = map[string]float64{
	"ResourceGroup":        10,
	"Registry":             90,
	"CacheRule":            10,
	"UserAssignedIdentity": 20,
	"RoleAssignment":       40,
	"ManagedCluster":       840,
	"Image":                240,
	// The production baseline's: a node pool's VMs take minutes (AKS's "add a
	// node pool" is typically 3-5); the rest are metadata.
	"AgentPool":                     240,
	"MaintenanceConfiguration":      5,
	"Workspace":                     30,
	"DataCollectionRule":            10,
	"DataCollectionRuleAssociation": 10,
	"DiagnosticSetting":             10,
}

// TypicalRollout is a guestbook pod's time from pulled image to Ready.
const TypicalRollout = 120 * time.Second

// Propagation and replication in every scenario, simulated: a role assignment
// takes effect two minutes after its create returns (Azure documents up to 10
// and most take one or two), and the directory knows a new identity's principal
// half a minute after it is created. make e2e-bench sweeps propagation 0-10 min.
const (
	TypicalPropagation = 2 * time.Minute
	TypicalReplication = 30 * time.Second
)

// rehearsalScale is the wall time of one simulated second in the scenarios: short
// enough for a quick run, long enough for the registry and cluster creates to
// overlap measurably and for a CLI to be killed mid-create.
const rehearsalScale = 4 * time.Millisecond

// scenarioTimeout bounds one CLI command.
const scenarioTimeout = 5 * time.Minute

// Rehearse runs the scenarios against program (the repository's run function),
// whose guestbook:grantPropagation default is grantWait: the scenarios run with
// it, scaled like every other simulated time. Each scenario is a subtest, so
// `go test -v` prints one line per scenario with its result and duration. A
// failed scenario stops the ones after it: they build on its state.
func Rehearse(t *testing.T, program pulumi.RunFunc, grantWait time.Duration) {
	ctx := context.Background()
	start := time.Now()
	h := startT(t, program, rehearsalScale, os.Getenv("E2E_OUT"), grantWait)
	t.Logf("rehearsal ready in %s: pulumi %s, pulumi-kubernetes %s, Kubernetes %s",
		time.Since(start).Round(time.Second), h.Tools.PulumiVersion, h.Tools.KubernetesProviderVersion, h.Cluster.Version)

	s := &rehearsal{h: h}
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, ctx context.Context)
	}{
		{"1_preview_new_stack", s.previewNew},
		{"2_up", s.up},
		{"3_no_changes_even_after_azure_moves", s.noChanges},
		{"4_preview_diff_shows_only_the_change", s.diffs},
		{"5_drift_refresh_then_up_repairs", s.drift},
		{"6_bad_config_through_the_cli", s.badConfig},
		{"7_exported_state_holds_no_credential", s.exportedState},
		{"8_killed_update_converges", s.killed},
		{"9_ci_deploy_with_github_oidc", s.ciDeploy},
		{"10_registry_in_abac_mode", s.abacRegistry},
		{"11_destroy", s.destroy},
		{"12_prod_stack_zonal_restricted_protected", s.prod},
		{"13_cluster_lost_out_of_band", s.clusterLost},
	} {
		if !t.Run(sc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 3*scenarioTimeout)
			defer cancel()
			sc.run(t, ctx)
		}) {
			t.Fatalf("scenario %s failed; the ones after it build on its state and are not run", sc.name)
		}
	}
}

// startT starts a world for test t at the given time scale; it stops with t. The
// world's directory (the cloud's state, the control plane's and kwok's logs, the
// stacks) is removed when t passes and kept, its path printed, when it fails.
func startT(t *testing.T, program pulumi.RunFunc, scale time.Duration, outDir string, grantWait time.Duration) *Harness {
	t.Helper()
	repo := repoRoot(t)
	unlock, err := lockCheckout(repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	if err := checkPrerequisites(repo); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "guestbook-rehearsal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the rehearsal's world is kept for a look: %s (cloud/cloud.json, cloud/operations.jsonl, cluster/*.log, state/)", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	h, stop, err := Start(context.Background(), Options{
		Repo:    repo,
		Dir:     dir,
		Program: program,
		Latency: sim.Latency{
			Scale: scale, Create: TypicalLatency,
			Propagation: TypicalPropagation.Seconds(), Replication: TypicalReplication.Seconds(),
		},
		PodStartDelay: scaled(TypicalRollout, scale),
		GrantWait:     scaled(grantWait, scale),
		OutDir:        outDir,
		Logf:          t.Logf,
	})
	if err != nil {
		t.Fatalf("starting the rehearsal: %v", err)
	}
	t.Cleanup(func() {
		killStrays(t, h.Tools.BinDir())
		if err := stop(); err != nil {
			t.Errorf("stopping the rehearsal: %v", err)
		}
	})
	return h
}

// rehearsal is the state the scenarios share.
type rehearsal struct {
	h       *Harness
	dev     auto.Stack
	planned []string // what the first preview planned to create
	acrPull sim.Resource
}

func (s *rehearsal) previewNew(t *testing.T, ctx context.Context) {
	h := s.h
	var err error
	if s.dev, err = h.Stack(ctx, "dev", nil); err != nil {
		t.Fatal(err)
	}
	r := h.Preview(ctx, s.dev, "new")
	if r.Err != nil {
		t.Fatalf("preview of a new stack failed: %v", r.Err)
	}
	s.planned = shortURNs(r.Steps(apitype.OpCreate))
	t.Logf("planned creates: %d", len(s.planned))
	for _, want := range []string{
		"ResourceGroup guestbook-rg", "Registry guestbookacr", "RoleAssignment guestbook-acr-pull",
		"ManagedCluster guestbook-aks", "Image guestbook-image", "Deployment guestbook-app",
		"StatefulSet guestbook-redis", "Service guestbook-app",
	} {
		if !slices.Contains(s.planned, want) {
			t.Errorf("preview does not plan to create %q; planned: %v", want, s.planned)
		}
	}
	ops := s.cloudOps(t)
	for _, op := range ops {
		if !op.Preview && op.Kind != sim.OpRead && op.Kind != sim.OpInvoke {
			t.Errorf("preview made the cloud do %s %s %s: a preview must change nothing", op.Kind, op.Token, op.Name)
		}
		if op.Kind == sim.OpInvoke && strings.HasSuffix(op.Token, ":getClientToken") {
			t.Errorf("preview asked Azure for a token (%s)", op.Token)
		}
		if op.Kind == sim.OpBuild || op.Kind == sim.OpPush {
			t.Errorf("preview ran a docker %s of %s", op.Kind, op.Name)
		}
	}
	if ex := h.Registry.Exchanges(); len(ex) != 0 {
		t.Errorf("preview exchanged %d registry tokens, want 0", len(ex))
	}
	if res, _ := h.Cloud.Resources(); len(res) != 0 {
		t.Errorf("after a preview the cloud holds %d resources, want 0", len(res))
	}
}

func (s *rehearsal) up(t *testing.T, ctx context.Context) {
	h := s.h
	r := h.Up(ctx, s.dev, "first")
	if r.Err != nil {
		t.Fatalf("up failed: %v\n%s", r.Err, h.Why(r))
	}
	created := shortURNs(r.Steps(apitype.OpCreate))
	if got, want := sorted(created), sorted(s.planned); !slices.Equal(got, want) {
		t.Errorf("up created something else than the preview planned:\n got %v\nwant %v", got, want)
	}
	if img, _ := r.Outputs["guestbookImage"].Value.(string); !strings.Contains(img, ".azurecr.io/guestbook@sha256:") {
		t.Errorf("guestbookImage = %q, want <registry>.azurecr.io/guestbook@sha256:...", img)
	}
	// The cluster's create went to AKS only once the Managed Identity Operator
	// grant had taken effect (the simulated AKS refuses it before), because the
	// program waited for it: it said so.
	if !strings.Contains(r.Info(), "waiting") || !strings.Contains(r.Info(), "for a new role assignment to take effect") {
		t.Errorf("the first up did not say it waited for the new grant to take effect; its messages:\n%s", r.Info())
	}

	// The Kubernetes awaits completed for real: check the objects they awaited.
	k := h.Cluster.Kube
	var dep struct {
		Status struct{ AvailableReplicas, UpdatedReplicas int } `json:"status"`
	}
	mustGet(t, k, "/apis/apps/v1/namespaces/guestbook/deployments/guestbook-app", &dep)
	if dep.Status.AvailableReplicas != 2 {
		t.Errorf("Deployment available replicas = %d, want 2", dep.Status.AvailableReplicas)
	}
	var sts struct {
		Status struct{ ReadyReplicas int } `json:"status"`
	}
	mustGet(t, k, "/apis/apps/v1/namespaces/guestbook/statefulsets/redis", &sts)
	if sts.Status.ReadyReplicas != 1 {
		t.Errorf("Redis StatefulSet ready replicas = %d, want 1", sts.Status.ReadyReplicas)
	}
	var pvcs list[struct {
		object
		Status struct{ Phase string } `json:"status"`
	}]
	mustGet(t, k, "/api/v1/namespaces/guestbook/persistentvolumeclaims", &pvcs)
	if len(pvcs.Items) != 1 || pvcs.Items[0].Status.Phase != "Bound" {
		t.Errorf("Redis PVCs = %+v, want one Bound", pvcs.Items)
	}

	// Pulls and the push: nodes never got a 401, and the image was pushed with
	// the token the registry exchanged for the deploying identity's.
	for _, a := range h.Pulls.Refused(r.Start) {
		t.Errorf("pull of %s for %s refused: %s", a.Image, a.Pod, a.Reason)
	}
	if ex := h.Registry.Exchanges(); len(ex) != 1 {
		t.Errorf("registry token exchanges = %d, want 1", len(ex))
	}
	want := sha256.Sum256([]byte(stacktest.RefreshToken))
	pushes := 0
	for _, op := range s.cloudOps(t) {
		if op.Kind == sim.OpPush && !op.Preview {
			pushes++
			if op.PasswordSHA256 != hex.EncodeToString(want[:]) || op.Username != "00000000-0000-0000-0000-000000000000" {
				t.Errorf("push to %s as %s did not use the exchanged registry token", op.Registry, op.Username)
			}
		}
	}
	if pushes != 1 {
		t.Errorf("pushes = %d, want 1", pushes)
	}
}

// noChanges: a second up changes nothing and waits for nothing; and a refresh
// after Azure moved what it moves by itself (the autoscaler's node count, a patch
// release applied by the patch channel) shows no change either, for the AKS
// default version and for a MAJOR.MINOR one.
func (s *rehearsal) noChanges(t *testing.T, ctx context.Context) {
	h := s.h
	r := h.Up(ctx, s.dev, "again")
	if r.Err != nil {
		t.Fatalf("second up failed: %v\n%s", r.Err, h.Why(r))
	}
	if ch := r.Changes(); len(ch) != 0 {
		t.Errorf("second up changed %v, want nothing", ch)
	}
	if strings.Contains(r.Info(), "for a new role assignment to take effect") {
		t.Errorf("the second up waited for a grant made by the first:\n%s", r.Info())
	}
	p := h.Preview(ctx, s.dev, "expect-no-changes", optpreview.ExpectNoChanges(), optpreview.Diff())
	if p.Err != nil {
		t.Errorf("preview --expect-no-changes failed: %v\n%s", p.Err, p.Changes())
	}

	cluster := s.cloudResource(t, "Microsoft.ContainerService/managedClusters", inStack(s.dev))
	moved := func(label string) {
		t.Helper()
		if err := h.Cloud.Autoscale(cluster.ID, "system", 2); err != nil {
			t.Fatal(err)
		}
		pool := s.cloudResource(t, "Microsoft.ContainerService/managedClusters/agentPools", inStack(s.dev))
		if err := h.Cloud.Autoscale(cluster.ID, pool.Name, 3); err != nil {
			t.Fatal(err)
		}
		if err := h.Cloud.ReleasePatch(); err != nil {
			t.Fatal(err)
		}
		p := h.Preview(ctx, s.dev, label, optpreview.Refresh(), optpreview.ExpectNoChanges(), optpreview.Diff())
		if p.Err != nil {
			t.Errorf("%s: preview --refresh --expect-no-changes after the autoscaler and a patch release: %v\n%s\n%s", label, p.Err, p.Changes(), p.Stdout)
		}
	}
	moved("azure-moved")

	// A MAJOR.MINOR version does not drift either: pin the one running.
	restore := setConfig(t, ctx, s.dev, map[string]string{"kubernetesVersion": "1.33"})
	defer restore()
	if u := h.Up(ctx, s.dev, "pin-minor"); u.Err != nil {
		t.Fatalf("up with kubernetesVersion 1.33 failed: %v\n%s", u.Err, h.Why(u))
	}
	moved("azure-moved-pinned")
}

func (s *rehearsal) diffs(t *testing.T, ctx context.Context) {
	for _, tc := range []struct {
		key, value string
		want       []string
	}{
		{"replicas", "3", []string{"update Deployment guestbook-app"}},
		{"imageTag", "v2", []string{"update Deployment guestbook-app", "update Image guestbook-image"}},
		// The app's pool is its own resource: resizing it is its update, a new
		// VM size its replacement (a new pool before the old one goes), and
		// neither touches the cluster.
		{"nodeMaxCount", "5", []string{"update AgentPool user"}},
		{"nodeVmSize", "Standard_D4s_v5", []string{"create-replacement AgentPool user", "delete-replaced AgentPool user", "replace AgentPool user"}},
		// The system pool is the cluster's create (its pools are ignored after):
		// a change shows, and does, nothing.
		{"systemNodeMaxCount", "3", nil},
	} {
		t.Run(tc.key, func(t *testing.T) {
			restore := setConfig(t, ctx, s.dev, map[string]string{tc.key: tc.value})
			defer restore()
			r := s.h.Preview(ctx, s.dev, tc.key, optpreview.Diff())
			if r.Err != nil {
				t.Fatalf("preview --diff failed: %v\n%s", r.Err, r.Diagnostics())
			}
			if got := sorted(r.Changes()); !slices.Equal(got, tc.want) {
				t.Errorf("preview --diff after %s=%s: got %v, want %v", tc.key, tc.value, got, tc.want)
			}
		})
	}
}

// drift: what changes behind Pulumi's back is seen by refresh and put back by
// up, and the pods the repair starts pull only once their grants exist again
// (a pull the registry refuses while a grant made seconds ago propagates is
// Azure's, and the kubelet retries; one before the grant's create finished is
// the program's ordering).
func (s *rehearsal) drift(t *testing.T, ctx context.Context) {
	h, k := s.h, s.h.Cluster.Kube
	s.acrPull = s.cloudResource(t, "Microsoft.Authorization/roleAssignments", func(r sim.Resource) bool {
		return strings.HasSuffix(str(r.Inputs, "roleDefinitionId"), sim.RoleAcrPull)
	})
	if err := h.Cloud.DeleteOutOfBand(s.acrPull.ID); err != nil {
		t.Fatal(err)
	}
	// What `kubectl scale deploy/guestbook-app --replicas=1` sends.
	if err := k.MergePatch(ctx, "/apis/apps/v1/namespaces/guestbook/deployments/guestbook-app/scale?fieldManager=kubectl-scale",
		map[string]any{"spec": map[string]any{"replicas": 1}}); err != nil {
		t.Fatal(err)
	}

	r := h.Refresh(ctx, s.dev, "drift")
	if r.Err != nil {
		t.Fatalf("refresh failed: %v\n%s", r.Err, h.Why(r))
	}
	gone, changed := refreshed(r)
	if want := []string{"RoleAssignment guestbook-acr-pull"}; !slices.Equal(gone, want) {
		t.Errorf("refresh saw gone: %v, want %v", gone, want)
	}
	if !slices.Contains(changed, "Deployment guestbook-app") {
		t.Errorf("refresh saw changed: %v, want the Deployment among them", changed)
	}

	u := h.Up(ctx, s.dev, "repair")
	if u.Err != nil {
		t.Fatalf("up after refresh failed: %v\n%s", u.Err, h.Why(u))
	}
	if got, want := sorted(u.Changes()), []string{"create RoleAssignment guestbook-acr-pull", "update Deployment guestbook-app"}; !slices.Equal(got, want) {
		t.Errorf("up after drift: got %v, want %v", got, want)
	}
	s.pulledOnlyAfterTheirGrants(t, u)
	again := s.cloudResource(t, "Microsoft.Authorization/roleAssignments", func(r sim.Resource) bool {
		return strings.HasSuffix(str(r.Inputs, "roleDefinitionId"), sim.RoleAcrPull)
	})
	if !strings.EqualFold(again.ID, s.acrPull.ID) {
		t.Errorf("AcrPull recreated as %s, want the same deterministic name: %s", again.ID, s.acrPull.ID)
	}
	var dep struct {
		Spec   struct{ Replicas int }          `json:"spec"`
		Status struct{ AvailableReplicas int } `json:"status"`
	}
	mustGet(t, k, "/apis/apps/v1/namespaces/guestbook/deployments/guestbook-app", &dep)
	if dep.Spec.Replicas != 2 || dep.Status.AvailableReplicas != 2 {
		t.Errorf("Deployment replicas = %d (available %d), want 2 (2)", dep.Spec.Replicas, dep.Status.AvailableReplicas)
	}

	// The registry deleted out of band takes its grants, cache rule and images
	// with it. The repair makes a new registry, new grants and a new push, and
	// both workloads roll onto the new registry's images in the same update: the
	// one case where a grant is made while its workloads are already running.
	registry := s.cloudResource(t, "Microsoft.ContainerRegistry/registries", inStack(s.dev))
	if err := h.Cloud.DeleteOutOfBand(registry.ID); err != nil {
		t.Fatal(err)
	}
	if r := h.Refresh(ctx, s.dev, "registry-gone"); r.Err != nil {
		t.Fatalf("refresh with the registry gone failed: %v\n%s", r.Err, h.Why(r))
	} else if gone, _ := refreshed(r); !slices.Contains(gone, "Registry guestbookacr") {
		t.Errorf("refresh saw gone: %v, want the registry among them", gone)
	}
	u = h.Up(ctx, s.dev, "registry-repair")
	if u.Err != nil {
		t.Fatalf("up after the registry was lost failed: %v\n%s", u.Err, h.Why(u))
	}
	s.pulledOnlyAfterTheirGrants(t, u)
	if p := h.Preview(ctx, s.dev, "registry-repaired", optpreview.ExpectNoChanges()); p.Err != nil {
		t.Errorf("after the repair the stack has changes left: %v\n%s", p.Err, p.Changes())
	}
}

// pulledOnlyAfterTheirGrants fails t for every pull during r that the registry
// refused for another reason than a grant still taking effect: a pod that pulled
// before its grant's create finished, or with no grant at all.
func (s *rehearsal) pulledOnlyAfterTheirGrants(t *testing.T, r Result) {
	t.Helper()
	for _, a := range s.h.Pulls.Refused(r.Start) {
		if !strings.Contains(a.Reason, "has not taken effect yet") {
			t.Errorf("pod %s pulled %s before its grant existed: %s", a.Pod, a.Image, a.Reason)
		}
	}
}

func (s *rehearsal) badConfig(t *testing.T, ctx context.Context) {
	h := s.h
	before := len(s.cloudResources(t))
	for _, tc := range []struct {
		name   string
		config map[string]string
		// want are strings the message a user sees must hold.
		want []string
	}{
		{"non-integer", map[string]string{"nodeCount": "three"},
			[]string{`guestbook:nodeCount = "three"`, "whole number"}},
		{"out-of-range", map[string]string{"replicas": "0", "nodeMaxCount": "101"},
			[]string{`guestbook:replicas = "0"`, `guestbook:nodeMaxCount = "101"`}},
		{"several-at-once", map[string]string{"nodeCount": "three", "replicas": "51", "acrSku": "Gold", "namespace": "kube-system"},
			[]string{`guestbook:nodeCount = "three"`, `guestbook:replicas = "51"`, `guestbook:acrSku = "Gold"`, `guestbook:namespace = "kube-system"`}},
		{"lists", map[string]string{"clusterAdmins[0].type": "App", "availabilityZones[0]": "4", "apiServerAuthorizedIpRanges[0]": "203.0.113.9/24"},
			[]string{`guestbook:clusterAdmins[0].type = "App"`, `guestbook:availabilityZones[0] = "4"`,
				`guestbook:apiServerAuthorizedIpRanges[0] = "203.0.113.9/24": must have no host bits set: did you mean 203.0.113.0/24?`}},
		// Day-one breakers: what Azure would refuse, or drift on, refused before
		// anything is created (before, the first stopped at the cache rule with
		// EnforceDockerAuthentication; the second deployed and then drifted).
		{"docker-hub-upstream", map[string]string{"redisImage": "docker.io/library/redis:7.2.11-alpine"},
			[]string{`guestbook:redisImage = "docker.io/library/redis:7.2.11-alpine"`, "EnforceDockerAuthentication",
				"public.ecr.aws/docker/library/redis:7.2.11-alpine"}},
		{"patch-pinned-version", map[string]string{"kubernetesVersion": "1.33.4"},
			[]string{`guestbook:kubernetesVersion = "1.33.4"`, "patch auto-upgrade channel", "use 1.33"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := h.Stack(ctx, "bad-"+tc.name, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := st.Workspace().RemoveStack(ctx, st.Name(), optremove.Force()); err != nil {
					t.Errorf("removing stack %s: %v", st.Name(), err)
				}
			}()
			cfg := map[string]string{"azure-native:location": "japaneast"}
			for k, v := range tc.config {
				cfg[k] = v
			}
			setConfig(t, ctx, st, cfg)
			r := h.Up(ctx, st, "bad")
			if r.Err == nil {
				t.Fatalf("up with %v succeeded, want a configuration error", tc.config)
			}
			msg := r.Stderr + r.Stdout + r.Diagnostics()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the error a user sees does not say %q:\n%s", w, msg)
				}
			}
			if created := r.Steps(apitype.OpCreate); len(created) > 1 || (len(created) == 1 && !strings.HasSuffix(created[0], "pulumi:pulumi:Stack::guestbook-"+st.Name())) {
				t.Errorf("bad config created %v, want nothing but the stack", created)
			}
		})
	}
	if after := len(s.cloudResources(t)); after != before {
		t.Errorf("bad config changed the cloud: %d resources, then %d", before, after)
	}
}

func (s *rehearsal) exportedState(t *testing.T, ctx context.Context) {
	// What `pulumi stack export` prints (the automation API's Export adds
	// --show-secrets), and what a reader of the backend's bucket gets.
	b, err := s.h.CLI(ctx, nil, "stack", "export", "--stack", "dev")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(s.h.StateDir, ".pulumi", "stacks", "guestbook", "dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	state := string(b) + string(raw)
	// Redis's password, as the cluster holds it: the state may hold it only
	// encrypted (a Pulumi secret), neither in plain text nor base64-encoded.
	var secret struct {
		Data map[string]string `json:"data"`
	}
	mustGet(t, s.h.Cluster.Kube, "/api/v1/namespaces/guestbook/secrets/redis-auth", &secret)
	password, err := base64.StdEncoding.DecodeString(secret.Data["password"])
	if err != nil || len(password) < 32 {
		t.Fatalf("the cluster's redis-auth Secret holds no password (%v): %v", err, secret.Data)
	}
	for what, value := range map[string]string{
		"the cluster's admin token": s.h.Cluster.Kube.Token,
		"an Entra token (a JWT)":    strings.SplitN(tenant.DeployerToken(tenant.ARMAudience), ".", 2)[0] + ".",
		"the registry token":        stacktest.RefreshToken,
		"Redis's password":          string(password),
		"Redis's password, base64":  secret.Data["password"],
		"the GitHub request token":  s.h.GitHub.RequestToken,
	} {
		if strings.Contains(state, value) {
			t.Errorf("the exported state holds %s in plain text", what)
		}
	}
	// The Kubernetes provider's kubeconfig is in the state in plain text, and may
	// be: it names the cluster and how to get a token (kubelogin), and holds none.
	for _, want := range []string{"certificate-authority-data", "command: kubelogin", "azurecli"} {
		if !strings.Contains(state, want) {
			t.Errorf("the exported state has no %q: the provider's kubeconfig is not the credential-free one", want)
		}
	}
	for _, banned := range []string{"client-key-data", "client-certificate-data", "devicecode"} {
		if strings.Contains(state, banned) {
			t.Errorf("the exported state holds %q", banned)
		}
	}
	if !strings.Contains(state, `"4dabf18193072939515e22adb298388d"`) {
		t.Errorf("the exported state has no secret value at all: the check above cannot fail")
	}
}

func (s *rehearsal) killed(t *testing.T, ctx context.Context) {
	h := s.h
	st := s.sideStack(t, ctx, "interrupted")

	done := make(chan Result, 1)
	go func() { done <- h.Up(ctx, st, "killed") }()
	var pid int
	if err := waitFor(ctx, "the interrupted stack's cluster create to start", 2*time.Minute, 10*time.Millisecond, func(context.Context) (bool, string, error) {
		creating := false
		for _, r := range s.cloudResources(t) {
			if r.Kind == sim.KindCluster && r.ProvisioningState == sim.StateCreating && strings.HasPrefix(r.URN, "urn:pulumi:interrupted::") {
				creating = true
			}
		}
		if !creating {
			return false, "no cluster being created", nil
		}
		pid = cliPID(h.Tools.Pulumi)
		return pid != 0, "no pulumi process", nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.Err == nil {
		t.Fatalf("up survived SIGKILL")
	}
	// The simulated providers die with the CLI that started them, as a real
	// plugin whose engine is gone should; none may go on writing to the cloud.
	if err := waitFor(ctx, "the killed CLI's simulated providers to exit", 30*time.Second, 50*time.Millisecond, func(context.Context) (bool, string, error) {
		var left []string
		for _, p := range processesOf(h.Tools.BinDir()) {
			if b := filepath.Base(p.exe); b == "pulumi-resource-azure-native" || b == "pulumi-resource-docker" {
				left = append(left, fmt.Sprintf("%s (pid %d)", b, p.pid))
			}
		}
		return len(left) == 0, strings.Join(left, ", "), nil
	}); err != nil {
		t.Error(err)
	}
	// What the README tells a user to do after an interrupted update.
	if err := st.Cancel(ctx); err != nil {
		t.Logf("pulumi cancel: %v", err) // nothing to cancel is fine
	}
	dir := t.TempDir()
	exported, err := h.CLI(ctx, nil, "stack", "export", "--stack", st.Name())
	if err != nil {
		t.Fatal(err)
	}
	stateFile, adopted := filepath.Join(dir, "state.json"), filepath.Join(dir, "adopted.json")
	if err := os.WriteFile(stateFile, exported, 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(repoRoot(t), ".github", "scripts", "adopt-pending-creates.sh")
	listed, err := exec.CommandContext(ctx, script, stateFile).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", script, stateFile, err)
	}
	pending := strings.Split(strings.TrimSpace(string(listed)), "\n")
	if len(pending) == 0 || pending[0] == "" {
		t.Fatalf("the killed update left no pending create in the state")
	}
	args := []string{stateFile, adopted}
	for _, line := range pending {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("%s printed %q, want URN, type and name", script, line)
		}
		// `az resource list --name <name>`: does Azure have it?
		if found, ok := s.cloudByName(t, f[2]); ok {
			t.Logf("adopting %s as %s", shortURN(f[0]), found.ID)
			args = append(args, f[0], found.ID)
		} else {
			t.Logf("dropping %s: Azure has no %s", shortURN(f[0]), f[2])
		}
	}
	if out, err := exec.CommandContext(ctx, script, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	if _, err := h.CLI(ctx, nil, "stack", "import", "--stack", st.Name(), "--file", adopted); err != nil {
		t.Fatal(err)
	}
	if r := h.Refresh(ctx, st, "adopted"); r.Err != nil {
		t.Fatalf("refresh after the interrupted update failed: %v\n%s", r.Err, r.Diagnostics())
	}
	if r := h.Up(ctx, st, "converge"); r.Err != nil {
		t.Fatalf("up after the refresh failed: %v\n%s", r.Err, r.Diagnostics())
	}
	if r := h.Preview(ctx, st, "converged", optpreview.ExpectNoChanges()); r.Err != nil {
		t.Errorf("the stack did not converge: %v\n%s", r.Err, r.Changes())
	}

	// No twins: what the cloud holds is exactly what the two stacks' states name.
	inState := map[string]bool{}
	for _, stack := range []auto.Stack{s.dev, st} {
		for _, id := range azureIDs(t, ctx, stack) {
			inState[strings.ToLower(id)] = true
		}
	}
	for _, r := range s.cloudResources(t) {
		if !inState[strings.ToLower(r.ID)] {
			t.Errorf("the cloud holds %s, which no stack knows: a twin left by the interrupted update", r.ID)
		}
	}

	if r := h.Destroy(ctx, st, "interrupted"); r.Err != nil {
		t.Fatalf("destroying the interrupted stack: %v\n%s", r.Err, r.Diagnostics())
	}
	s.removed(t, ctx, st)
}

// destroy deletes everything, in an order Azure and the cluster can follow: each
// Kubernetes object is deleted through the cluster's API server before Azure
// starts deleting the cluster (after that nothing answers there), and nothing is
// left in the cloud or the cluster. The order is read off what Azure and the API
// server received, not off the state's own dependencies.
func (s *rehearsal) destroy(t *testing.T, ctx context.Context) {
	h := s.h
	dep, err := s.dev.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var state apitype.DeploymentV3
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		t.Fatal(err)
	}
	cluster := s.cloudResource(t, "Microsoft.ContainerService/managedClusters", inStack(s.dev))
	r := h.Destroy(ctx, s.dev, "all")
	if r.Err != nil {
		t.Fatalf("destroy failed: %v\n%s", r.Err, h.Why(r))
	}
	ev := indexEvents(r)
	kubeObjects := 0
	for _, res := range state.Resources {
		if !res.Custom {
			continue
		}
		if _, ok := ev.began[string(res.URN)]; !ok {
			t.Errorf("destroy did not delete %s", shortURN(string(res.URN)))
		}
		if strings.HasPrefix(string(res.Type), "kubernetes:") && !strings.HasPrefix(string(res.Type), "pulumi:providers") {
			kubeObjects++
		}
	}
	var clusterDelete time.Time
	for _, op := range s.cloudOps(t) {
		if op.Kind == sim.OpDelete && strings.EqualFold(op.ID, cluster.ID) {
			clusterDelete = op.Start
		}
	}
	if clusterDelete.IsZero() {
		t.Fatalf("Azure received no delete of the cluster %s", cluster.ID)
	}
	deletes := 0
	for _, q := range h.Front.Requests() {
		if q.ClusterID != cluster.ID || q.At.Before(r.Start) {
			continue
		}
		if q.Method == "DELETE" && q.Status/100 == 2 {
			deletes++
		}
		if !q.At.Before(clusterDelete) {
			t.Errorf("%s %s reached the cluster's API server at %s, after Azure began deleting the cluster (%s)",
				q.Method, q.Path, q.At.Format(time.StampMilli), clusterDelete.Format(time.StampMilli))
		}
	}
	if deletes < kubeObjects {
		t.Errorf("the cluster's API server received %d successful deletes for the stack's %d Kubernetes objects", deletes, kubeObjects)
	}
	if res := s.cloudResources(t); len(res) != 0 {
		t.Errorf("after destroy the cloud still holds %d resources, e.g. %s", len(res), res[0].ID)
	}
	k := h.Cluster.Kube
	if err := waitFor(ctx, "the stack's namespaces and volumes to be gone", time.Minute, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		var ns list[object]
		var pvs list[object]
		if err := k.Get(ctx, "/api/v1/namespaces", &ns); err != nil {
			return false, "", err
		}
		if err := k.Get(ctx, "/api/v1/persistentvolumes", &pvs); err != nil {
			return false, "", err
		}
		var left []string
		for _, n := range ns.Items {
			if strings.HasPrefix(n.Metadata.Name, "guestbook") {
				left = append(left, "namespace "+n.Metadata.Name)
			}
		}
		for _, pv := range pvs.Items {
			left = append(left, "volume "+pv.Metadata.Name)
		}
		return len(left) == 0, strings.Join(left, ", "), nil
	}); err != nil {
		t.Error(err)
	}
}

// Helpers.

// eventIndex is when each resource's step began and finished, by event sequence.
type eventIndex struct {
	began, done map[string]int
}

func indexEvents(r Result) eventIndex {
	ix := eventIndex{began: map[string]int{}, done: map[string]int{}}
	for _, e := range r.Events {
		if pre := e.ResourcePreEvent; pre != nil && pre.Metadata.Op != apitype.OpSame {
			ix.began[pre.Metadata.URN] = e.Sequence
		}
		if out := e.ResOutputsEvent; out != nil && out.Metadata.Op != apitype.OpSame {
			ix.done[out.Metadata.URN] = e.Sequence
		}
	}
	return ix
}

// refreshed returns the resources a refresh found gone and found changed.
func refreshed(r Result) (gone, changed []string) {
	// A refresh step's outputs event carries what the refresh found: the
	// resource gone (delete) or different (update).
	for _, e := range r.Events {
		out := e.ResOutputsEvent
		if out == nil {
			continue
		}
		switch out.Metadata.Op {
		case apitype.OpDelete:
			gone = append(gone, shortURN(out.Metadata.URN))
		case apitype.OpUpdate:
			changed = append(changed, shortURN(out.Metadata.URN))
		}
	}
	return sorted(gone), sorted(changed)
}

// setConfig sets stack configuration the way `pulumi config set` does and
// returns a function that puts back what was there.
func setConfig(t *testing.T, ctx context.Context, st auto.Stack, cfg map[string]string) (restore func()) {
	t.Helper()
	var undo []func() error
	for k, v := range cfg {
		if old, err := st.GetConfig(ctx, k); err == nil {
			undo = append(undo, func() error { return st.SetConfig(ctx, k, old) })
		} else {
			undo = append(undo, func() error { return st.RemoveConfig(ctx, k) })
		}
		// A key with an index or a field is a path, as `pulumi config set --path` takes it.
		opts := &auto.ConfigOptions{Path: strings.ContainsAny(k, "[.")}
		if err := st.SetConfigWithOptions(ctx, k, auto.ConfigValue{Value: v}, opts); err != nil {
			t.Fatalf("pulumi config set %s %s: %v", k, v, err)
		}
	}
	return func() {
		for _, u := range undo {
			if err := u(); err != nil {
				t.Errorf("restoring configuration: %v", err)
			}
		}
	}
}

// prod deploys the prod stack from Pulumi.prod.yaml: what it turns on reaches
// Azure, a second preview shows nothing, and destroy stops at what it protects
// until the stack says protect false.
func (s *rehearsal) prod(t *testing.T, ctx context.Context) {
	h := s.h
	st, err := h.Stack(ctx, "prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := h.Up(ctx, st, "prod"); r.Err != nil {
		t.Fatalf("up of the prod stack failed: %v\n%s", r.Err, h.Why(r))
	}
	if p := h.Preview(ctx, st, "prod-expect-no-changes", optpreview.ExpectNoChanges(), optpreview.Diff()); p.Err != nil {
		t.Errorf("second preview of the prod stack is not empty: %v\n%s", p.Err, p.Changes())
	}
	inProd := inStack(st)
	s.prodBaseline(t, inProd)
	// The API server answers only the authorized ranges: the deploys come from
	// inside 203.0.113.0/24 (sim.DefaultClientIP); from outside, the Kubernetes
	// provider cannot reach it, and says so.
	if err := h.Cloud.UpdateSettings(func(s *sim.Settings) { s.ClientIP = "198.51.100.7" }); err != nil {
		t.Fatal(err)
	}
	outside := h.Preview(ctx, st, "prod-from-outside", optpreview.Refresh())
	if err := h.Cloud.UpdateSettings(func(s *sim.Settings) { s.ClientIP = "" }); err != nil {
		t.Fatal(err)
	}
	if outside.Err == nil {
		t.Errorf("a refresh of the prod stack from 198.51.100.7, outside its authorized IP ranges, reached the API server")
	} else if refused := h.Front.Refused(outside.Start); len(refused) == 0 || !strings.Contains(refused[0].Reason, "outside the API server's authorized IP ranges") {
		t.Errorf("the refresh from outside the authorized ranges failed, but not at the API server's ranges: %v\n%s", outside.Err, h.Why(outside))
	}

	d := h.Destroy(ctx, st, "protected")
	if d.Err == nil {
		t.Fatal("destroy of the prod stack succeeded; its resource group, registry and cluster are protected")
	}
	if msg := d.Stderr + d.Diagnostics(); !strings.Contains(msg, "protected") {
		t.Errorf("destroy of the prod stack failed without saying what is protected:\n%s", msg)
	}
	for _, armType := range []string{"Microsoft.Resources/resourceGroups", "Microsoft.ContainerRegistry/registries", "Microsoft.ContainerService/managedClusters"} {
		s.cloudResource(t, armType, inProd) // fails the test if it is gone
	}

	// What the README says to do to retire it on purpose.
	setConfig(t, ctx, st, map[string]string{"protect": "false"})
	if r := h.Up(ctx, st, "unprotect"); r.Err != nil {
		t.Fatalf("up with protect false failed: %v\n%s", r.Err, r.Diagnostics())
	}
	if r := h.Destroy(ctx, st, "unprotected"); r.Err != nil {
		t.Fatalf("destroy after protect false failed: %v\n%s", r.Err, r.Diagnostics())
	}
	s.removed(t, ctx, st)
}

// prodBaseline checks that the production baseline Pulumi.prod.yaml turns on
// was deployed: each of its resources is in the simulated Azure, which refused
// any it would not take (their inputs are the unit tests', infra/azure_test.go).
func (s *rehearsal) prodBaseline(t *testing.T, inProd func(sim.Resource) bool) {
	t.Helper()
	want := map[string]int{
		sim.KindWorkspace: 1, sim.KindDCR: 1, sim.KindDCRA: 1, sim.KindDiagnostics: 2, sim.KindMaintenance: 2, sim.KindAgentPool: 1,
	}
	got := map[string]int{}
	for _, r := range s.cloudResources(t) {
		if inProd(r) && r.ProvisioningState == sim.StateSucceeded {
			got[r.Kind]++
		}
	}
	for kind, n := range want {
		if got[kind] != n {
			t.Errorf("prod stack: %d %s in the simulated Azure, want %d", got[kind], kind, n)
		}
	}
}

// clusterLost deletes a stack's cluster behind Pulumi's back, so its API server
// no longer answers: refresh says what to do instead of hanging, does it with
// PULUMI_K8S_DELETE_UNREACHABLE=true (docs/troubleshooting.md), and destroy
// then completes.
func (s *rehearsal) clusterLost(t *testing.T, ctx context.Context) {
	h := s.h
	st := s.sideStack(t, ctx, "lost")
	if r := h.Up(ctx, st, "lost"); r.Err != nil {
		t.Fatalf("up failed: %v\n%s", r.Err, r.Diagnostics())
	}
	cluster := s.cloudResource(t, "Microsoft.ContainerService/managedClusters", inStack(st))
	// Its API server stops answering with it: the front drops every connection
	// for a cluster Azure no longer has.
	if err := h.Cloud.DeleteOutOfBand(cluster.ID); err != nil {
		t.Fatal(err)
	}

	// Each command gets a bound well below the scenario's: past it, it hung.
	bounded := func(label string, run func(context.Context) Result) Result {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		r := run(cctx)
		if cctx.Err() != nil {
			t.Fatalf("%s did not finish in 2 minutes with the cluster gone", label)
		}
		return r
	}
	r := bounded("refresh", func(c context.Context) Result { return h.Refresh(c, st, "lost-plain") })
	if r.Err == nil {
		t.Errorf("refresh with the cluster gone succeeded; want it to stop at the unreachable Kubernetes resources")
	} else if msg := r.Stderr + r.Diagnostics(); !strings.Contains(msg, "PULUMI_K8S_DELETE_UNREACHABLE") {
		t.Errorf("refresh with the cluster gone failed without saying how to go on:\n%s", msg)
	}

	st.Workspace().SetEnvVar("PULUMI_K8S_DELETE_UNREACHABLE", "true")
	r = bounded("refresh with PULUMI_K8S_DELETE_UNREACHABLE", func(c context.Context) Result { return h.Refresh(c, st, "lost-unreachable") })
	if r.Err != nil {
		t.Fatalf("refresh with PULUMI_K8S_DELETE_UNREACHABLE=true failed: %v\n%s", r.Err, r.Diagnostics())
	}
	dep, err := st.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var state apitype.DeploymentV3
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		t.Fatal(err)
	}
	for _, res := range state.Resources {
		if typ := string(res.Type); res.Custom && (strings.HasPrefix(typ, "kubernetes:") && typ != "pulumi:providers:kubernetes" || strings.Contains(typ, ":ManagedCluster")) {
			t.Errorf("after refresh the state still holds %s", shortURN(string(res.URN)))
		}
	}
	if r := bounded("destroy", func(c context.Context) Result { return h.Destroy(c, st, "lost") }); r.Err != nil {
		t.Fatalf("destroy with the cluster gone failed: %v\n%s", r.Err, r.Diagnostics())
	}
	s.removed(t, ctx, st)
	// Its namespace went with the cluster in Azure; here the API server is shared.
	if err := h.Cluster.Kube.Do(ctx, "DELETE", "/api/v1/namespaces/guestbook-lost", "", nil, nil); err != nil {
		t.Error(err)
	}
}

// sideStack creates stack name beside dev: a second stack of the project, with no
// stack file, in its own namespace guestbook-<name> of the shared cluster.
func (s *rehearsal) sideStack(t *testing.T, ctx context.Context, name string) auto.Stack {
	t.Helper()
	st, err := s.h.Stack(ctx, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	setConfig(t, ctx, st, map[string]string{"azure-native:location": "japaneast", "namespace": "guestbook-" + name})
	return st
}

// inStack matches the cloud resources stack st created.
func inStack(st auto.Stack) func(sim.Resource) bool {
	return func(r sim.Resource) bool { return strings.HasPrefix(r.URN, "urn:pulumi:"+st.Name()+"::") }
}

// removed checks that the destroyed stack st left nothing in the cloud, and
// removes it.
func (s *rehearsal) removed(t *testing.T, ctx context.Context, st auto.Stack) {
	t.Helper()
	for _, r := range s.cloudResources(t) {
		if inStack(st)(r) {
			t.Errorf("after destroy the cloud still holds %s", r.ID)
		}
	}
	if err := st.Workspace().RemoveStack(ctx, st.Name()); err != nil {
		t.Error(err)
	}
}

func (s *rehearsal) cloudOps(t *testing.T) []sim.Operation {
	t.Helper()
	ops, err := s.h.Cloud.Operations()
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func (s *rehearsal) cloudResources(t *testing.T) []sim.Resource {
	t.Helper()
	res, err := s.h.Cloud.Resources()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// cloudResource returns the one resource of armType that match accepts.
func (s *rehearsal) cloudResource(t *testing.T, armType string, match func(sim.Resource) bool) sim.Resource {
	t.Helper()
	var found []sim.Resource
	for _, r := range s.cloudResources(t) {
		if strings.EqualFold(r.Type, armType) && match(r) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("found %d %s in the cloud, want 1: %+v", len(found), armType, found)
	}
	return found[0]
}

func (s *rehearsal) cloudByName(t *testing.T, name string) (sim.Resource, bool) {
	for _, r := range s.cloudResources(t) {
		if name != "" && strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return sim.Resource{}, false
}

// azureIDs returns the ids of the stack's azure-native resources.
func azureIDs(t *testing.T, ctx context.Context, st auto.Stack) []string {
	t.Helper()
	dep, err := st.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var state apitype.DeploymentV3
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range state.Resources {
		if r.Custom && strings.HasPrefix(string(r.Type), "azure-native:") && r.ID != "" {
			ids = append(ids, string(r.ID))
		}
	}
	return ids
}

func mustGet(t *testing.T, k *Kube, path string, out any) {
	t.Helper()
	if err := k.Get(context.Background(), path, out); err != nil {
		t.Fatal(err)
	}
}

func shortURNs(urns []string) []string {
	out := make([]string, len(urns))
	for i, u := range urns {
		out[i] = shortURN(u)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func scaled(d, scale time.Duration) time.Duration {
	return time.Duration(d.Seconds() * float64(scale))
}

// cliPID returns the pid of a running CLI whose executable is bin, or 0.
func cliPID(bin string) int {
	for _, p := range processesOf(filepath.Dir(bin)) {
		if p.exe == bin {
			return p.pid
		}
	}
	return 0
}

type process struct {
	pid int
	exe string
}

// processesOf lists running processes whose executable is in dir.
func processesOf(dir string) []process {
	entries, _ := os.ReadDir("/proc")
	var out []process
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != dir {
			continue
		}
		out = append(out, process{pid: pid, exe: exe})
	}
	return out
}

// killStrays kills what a killed CLI may have left running: plugins outlive the
// engine that started them unless they watch for it.
func killStrays(t *testing.T, dir string) {
	for _, p := range processesOf(dir) {
		if filepath.Base(p.exe) == "kube-control-plane" || filepath.Base(p.exe) == "kwok" {
			continue
		}
		t.Logf("killing stray %s (pid %d)", filepath.Base(p.exe), p.pid)
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// repoRoot is the repository's root: the directory holding Pulumi.yaml above
// the test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "Pulumi.yaml")) && fileExists(filepath.Join(d, "go.mod")) {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no Pulumi.yaml above %s", dir)
		}
	}
}
