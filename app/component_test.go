package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	containerservice "github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2/v20241001"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// fakeRegistry is a registry token endpoint that hands out refreshToken for the
// mocks' Azure token and counts the exchanges.
type fakeRegistry struct {
	srv       *httptest.Server
	exchanges int
}

const refreshToken = "acr-refresh-token-for-tests"

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.exchanges++
		if err := r.ParseForm(); err != nil ||
			stacktest.RefuseExchange(r.PostForm.Get("grant_type"), r.PostForm.Get("access_token"), r.PostForm.Get("service"), r.Host, time.Now()) != "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"refresh_token":%q}`, refreshToken)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// loginServer is the fake registry's host, standing in for <name>.azurecr.io.
func (f *fakeRegistry) loginServer() string { return strings.TrimPrefix(f.srv.URL, "https://") }

var devGuestbook = GuestbookArgs{
	SourceDir:   "guestbook",
	ImageTag:    "dev",
	Namespace:   "guestbook",
	Replicas:    2,
	ServiceType: "LoadBalancer",
	RedisImage:  pulumi.String("guestbookacr.azurecr.io/library/redis:7.2.11-alpine"),

	WritesPerMinute: 10,
	WriteBurst:      5,
	MaxEntries:      10000,
}

// pullRoles are the pull grants runGuestbook declares: logical name, role.
var pullRoles = [][2]string{
	{"acr-pull", "7f951dda-4ed3-4680-a7ca-43fe172d538d"},
	{"repository-reader", "b93aa761-3e63-49ed-ac28-beffa264f7ac"},
}

type guestbookRun struct {
	g         *stacktest.Graph
	registry  *fakeRegistry
	component *Guestbook
}

// runGuestbook declares the app layer under mocks next to the two things it takes
// from the Azure layer: a Kubernetes provider and the pull grants.
func runGuestbook(t *testing.T, dryRun bool, args GuestbookArgs) (guestbookRun, error) {
	t.Helper()
	reg := newFakeRegistry(t)
	run := guestbookRun{registry: reg}
	args.tokens = exchangerFor(reg.srv, 5*time.Second)
	mocks := stacktest.NewMocks("guestbook", "test", dryRun)
	g, err := stacktest.Run(func(ctx *pulumi.Context) error {
		provider, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{
			Kubeconfig: pulumi.ToSecret(pulumi.String("apiVersion: v1\nkind: Config\n")).(pulumi.StringOutput),
		})
		if err != nil {
			return err
		}
		// The two pull grants the Azure layer hands over: AcrPull and Container
		// Registry Repository Reader (one per registry permission mode).
		args.PullGrants = nil
		for _, pr := range pullRoles {
			name, role := pr[0], pr[1]
			grant, err := authorization.NewRoleAssignment(ctx, name, &authorization.RoleAssignmentArgs{
				Scope:            pulumi.String("/subscriptions/" + tenant.SubscriptionID + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr"),
				PrincipalId:      pulumi.String("11111111-2222-3333-4444-555555555555"),
				PrincipalType:    pulumi.String("ServicePrincipal"),
				RoleDefinitionId: pulumi.String("/subscriptions/" + tenant.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + role),
			})
			if err != nil {
				return err
			}
			args.PullGrants = append(args.PullGrants, grant)
		}
		// The user pool the Azure layer hands over: the nodes the workloads run on.
		pool, err := containerservice.NewAgentPool(ctx, "user", &containerservice.AgentPoolArgs{
			ResourceGroupName: pulumi.String("rg"), ResourceName: pulumi.String("aks"), Mode: pulumi.String("User"),
		})
		if err != nil {
			return err
		}
		args.Nodes = []pulumi.Resource{pool}
		args.Provider = provider
		args.RegistryLoginServer = pulumi.String(reg.loginServer()).ToStringOutput()
		run.component, err = NewGuestbook(ctx, "guestbook", &args)
		return err
	}, mocks)
	run.g = g
	return run, err
}

func mustRunGuestbook(t *testing.T, dryRun bool, args GuestbookArgs) guestbookRun {
	t.Helper()
	run, err := runGuestbook(t, dryRun, args)
	if err != nil {
		t.Fatalf("NewGuestbook under mocks (dryRun=%v): %v", dryRun, err)
	}
	return run
}

type inputCheck struct {
	path string
	want any
}

func checkInputs(t *testing.T, r *stacktest.Resource, checks []inputCheck) {
	t.Helper()
	for _, c := range checks {
		got, ok := stacktest.Value(r.Inputs, c.path)
		if !ok {
			t.Errorf("%s: input %s is missing or unknown, want %#v", r, c.path, c.want)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: input %s = %#v, want %#v", r, c.path, got, c.want)
		}
	}
}

func TestImage(t *testing.T) {
	run := mustRunGuestbook(t, false, devGuestbook)
	image := run.g.Get(t, stacktest.TypeImage, "guestbook-image")
	server := run.registry.loginServer()
	checkInputs(t, image, []inputCheck{
		{"imageName", server + "/guestbook:dev"},
		{"build.context", "guestbook"},
		{"build.dockerfile", "guestbook/Dockerfile"},
		{"build.platform", "linux/amd64"},
		{"buildOnPreview", false},
		{"registry.server", server},
		{"registry.username", "00000000-0000-0000-0000-000000000000"},
		{"registry.password", refreshToken},
	})
	if !stacktest.IsSecret(image.Inputs, "registry.password") {
		t.Error("image registry.password is not a secret")
	}
	calls := run.g.InvokesOf(stacktest.InvokeGetClientToken)
	if n := len(calls); n != 1 {
		t.Fatalf("getClientToken invoked %d times in an update, want once", n)
	}
	// The registry's own audience: a registry with ARM-audience tokens turned off
	// (a built-in Azure Policy does that) refuses any other, and the fake does.
	if got, _ := stacktest.String(calls[0].Args, "endpoint"); got != tenant.RegistryAudience {
		t.Errorf("getClientToken endpoint = %q, want the registry audience %s", got, tenant.RegistryAudience)
	}
	if run.registry.exchanges != 1 {
		t.Errorf("registry token exchanges in an update = %d, want 1", run.registry.exchanges)
	}
}

func TestPreviewAsksAzureForNothing(t *testing.T) {
	run := mustRunGuestbook(t, true, devGuestbook)
	if n := len(run.g.InvokesOf(stacktest.InvokeGetClientToken)); n != 0 {
		t.Errorf("getClientToken invoked %d times in a preview, want 0", n)
	}
	if run.registry.exchanges != 0 {
		t.Errorf("registry token exchanges in a preview = %d, want 0", run.registry.exchanges)
	}
	image := run.g.Get(t, stacktest.TypeImage, "guestbook-image")
	if _, known := stacktest.Value(image.Inputs, "registry.password"); known {
		t.Error("preview: image registry.password is known, want unknown (no token asked for)")
	}
	if !stacktest.IsSecret(image.Inputs, "registry.password") {
		t.Error("preview: image registry.password is not a secret")
	}
	checkInputs(t, image, []inputCheck{{"buildOnPreview", false}})
}

func TestDeployment(t *testing.T) {
	run := mustRunGuestbook(t, false, devGuestbook)
	dep := run.g.Get(t, stacktest.TypeDeployment, "guestbook-app")
	image := run.g.Get(t, stacktest.TypeImage, "guestbook-image")

	const c = "spec.template.spec.containers[0]."
	checkInputs(t, dep, []inputCheck{
		{"metadata.name", "guestbook-app"},
		{"metadata.namespace", "guestbook"},
		{"metadata.annotations", map[string]any{"pulumi.com/patchForce": "true"}},
		{"spec.replicas", 2.0},
		{"spec.selector.matchLabels", map[string]any{"app": "guestbook"}},
		{"spec.template.metadata.labels.app", "guestbook"},
		{"spec.strategy.type", "RollingUpdate"},
		{"spec.strategy.rollingUpdate.maxUnavailable", 0.0},
		{"spec.strategy.rollingUpdate.maxSurge", 1.0},
		{"spec.template.spec.automountServiceAccountToken", false},
		{"spec.template.spec.securityContext.runAsNonRoot", true},
		{"spec.template.spec.securityContext.runAsUser", 10001.0},
		{"spec.template.spec.securityContext.runAsGroup", 10001.0},
		{"spec.template.spec.securityContext.seccompProfile.type", "RuntimeDefault"},
		{"spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey", "kubernetes.io/hostname"},
		{c + "name", "guestbook"},
		{c + "imagePullPolicy", "Always"},
		{c + "env", []any{
			map[string]any{"name": "PORT", "value": "8080"},
			map[string]any{"name": "REDIS_ADDR", "value": "redis:6379"},
			map[string]any{"name": "REDIS_PASSWORD", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "redis-auth", "key": "password"}}},
			map[string]any{"name": "WRITES_PER_MINUTE", "value": "10"},
			map[string]any{"name": "WRITE_BURST", "value": "5"},
			map[string]any{"name": "MAX_ENTRIES", "value": "10000"},
			map[string]any{"name": "GOMEMLIMIT", "value": "102MiB"},
		}},
		{c + "ports[0].containerPort", 8080.0},
		{c + "readinessProbe.httpGet.path", "/readyz"},
		{c + "livenessProbe.httpGet.path", "/healthz"},
		{c + "resources.requests.cpu", "50m"},
		{c + "resources.requests.memory", "128Mi"},
		{c + "resources.requests.ephemeral-storage", "64Mi"},
		{c + "resources.limits.cpu", "500m"},
		{c + "resources.limits.memory", "128Mi"},
		{c + "resources.limits.ephemeral-storage", "128Mi"},
		{c + "securityContext.runAsNonRoot", true},
		{c + "securityContext.runAsUser", 10001.0},
		{c + "securityContext.runAsGroup", 10001.0},
		{c + "securityContext.allowPrivilegeEscalation", false},
		{c + "securityContext.privileged", false},
		{c + "securityContext.readOnlyRootFilesystem", true},
		{c + "securityContext.capabilities.drop", []any{"ALL"}},
		{c + "securityContext.seccompProfile.type", "RuntimeDefault"},
		{c + "lifecycle.preStop.sleep.seconds", 5.0},
	})

	t.Run("image pinned by the image resource's digest", func(t *testing.T) {
		got, _ := stacktest.String(dep.Inputs, c+"image")
		digest, _ := stacktest.String(image.Outputs, "repoDigest")
		if got != digest {
			t.Errorf("deployment image = %q, want the image resource's repoDigest %q", got, digest)
		}
		if !regexp.MustCompile(`^[^@]+/guestbook@sha256:[0-9a-f]{64}$`).MatchString(got) {
			t.Errorf("deployment image = %q, want <registry>/guestbook@sha256:<digest>", got)
		}
		if deps := dep.PropertyDependencies["spec"]; !slices.Contains(deps, image.URN) {
			t.Errorf("deployment spec dependencies = %v, want the image %s", deps, image.URN)
		}
	})
	t.Run("waits for the image and the user pool", func(t *testing.T) {
		if !slices.Contains(dep.Dependencies, image.URN) {
			t.Errorf("deployment dependencies = %v, want %s", dep.Dependencies, image)
		}
		// That it waits for its pull grants is the pull proof's (pullproof_test.go),
		// which also sees that they are the kubelet's, on the registry, for this cluster.
		if pool := run.g.Get(t, stacktest.TypeAgentPool, "user"); !slices.Contains(dep.ExplicitDependencies(), pool.URN) {
			t.Errorf("deployment explicit dependencies = %v, want the user pool %s: the system pool's taint keeps its pods off the other nodes", dep.ExplicitDependencies(), pool)
		}
	})
	t.Run("rollout failure is bounded", func(t *testing.T) {
		if dep.Timeouts.Create != "10m" || dep.Timeouts.Update != "10m" {
			t.Errorf("deployment customTimeouts = %+v, want create and update 10m", dep.Timeouts)
		}
		if v, _ := stacktest.String(dep.Inputs, `metadata.annotations["pulumi.com/skipAwait"]`); v == "true" {
			t.Error("deployment skips the rollout await")
		}
		checkInputs(t, dep, []inputCheck{{"spec.progressDeadlineSeconds", 300.0}})
	})
}

func TestRedis(t *testing.T) {
	run := mustRunGuestbook(t, false, devGuestbook)
	sts := run.g.Get(t, stacktest.TypeStatefulSet, "guestbook-redis")
	svc := run.g.Get(t, stacktest.TypeService, "guestbook-redis")
	const c = "spec.template.spec.containers[0]."
	checkInputs(t, sts, []inputCheck{
		{"metadata.name", "redis"},
		{"metadata.namespace", "guestbook"},
		{"spec.replicas", 1.0},
		{"spec.serviceName", "redis-headless"},
		{c + "image", "guestbookacr.azurecr.io/library/redis:7.2.11-alpine"},
		{c + "env[0].name", "REDIS_PASSWORD"},
		{c + "env[0].valueFrom.secretKeyRef", map[string]any{"name": "redis-auth", "key": "password"}},
		{c + "env[1].name", "REDISCLI_AUTH"},
		{c + "env[1].valueFrom.secretKeyRef", map[string]any{"name": "redis-auth", "key": "password"}},
		{"spec.volumeClaimTemplates[0].metadata.name", "data"},
		{"spec.volumeClaimTemplates[0].spec.accessModes", []any{"ReadWriteOnce"}},
		{"spec.volumeClaimTemplates[0].spec.resources.requests.storage", "1Gi"},
		{c + "volumeMounts[0].mountPath", "/data"},
		{c + "volumeMounts[0].name", "data"},
		{"spec.template.spec.automountServiceAccountToken", false},
		{"spec.template.spec.securityContext.runAsNonRoot", true},
		{"spec.template.spec.securityContext.runAsUser", 10999.0},
		{"spec.template.spec.securityContext.fsGroup", 10999.0},
		{c + "securityContext.readOnlyRootFilesystem", true},
		{c + "securityContext.allowPrivilegeEscalation", false},
		{c + "securityContext.capabilities.drop", []any{"ALL"}},
		{c + "securityContext.seccompProfile.type", "RuntimeDefault"},
		{c + "resources.limits.memory", "256Mi"},
		{c + "resources.limits.ephemeral-storage", "128Mi"},
	})
	args, _ := stacktest.Value(sts.Inputs, c+"args")
	argv := fmt.Sprint(args)
	for _, want := range []string{"--appendonly yes", "--dir /data", "--maxmemory-policy noeviction", "--requirepass $(REDIS_PASSWORD)"} {
		if !strings.Contains(argv, want) {
			t.Errorf("redis args %v do not contain %q", argv, want)
		}
	}
	if pool := run.g.Get(t, stacktest.TypeAgentPool, "user"); !slices.Contains(sts.ExplicitDependencies(), pool.URN) {
		t.Errorf("redis explicit dependencies = %v, want the user pool %s: its pod has no other nodes to go to", sts.ExplicitDependencies(), pool)
	}
	if _, ok := stacktest.Value(sts.Inputs, "spec.volumeClaimTemplates[0].spec.storageClassName"); ok {
		t.Error("redis volume names a storage class; want the cluster's default")
	}
	checkInputs(t, svc, []inputCheck{
		{"metadata.name", "redis"},
		{"spec.type", "ClusterIP"},
		{"spec.ports[0].port", 6379.0},
		{"spec.selector", map[string]any{"app": "redis"}},
	})
	headless := run.g.Get(t, stacktest.TypeService, "guestbook-redis-headless")
	checkInputs(t, headless, []inputCheck{
		{"metadata.name", "redis-headless"},
		{"spec.clusterIP", "None"},
		{"spec.selector", map[string]any{"app": "redis"}},
	})
	if sts.Timeouts.Create != "10m" {
		t.Errorf("redis customTimeouts = %+v, want create 10m", sts.Timeouts)
	}
}

// TestRedisPassword: a password Redis requires, drawn by the program, kept across
// updates, a Pulumi secret and a Kubernetes Secret both workloads read by name.
func TestRedisPassword(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		run := mustRunGuestbook(t, dryRun, devGuestbook)
		secret := run.g.Get(t, "kubernetes:core/v1:Secret", "guestbook-redis-auth")
		checkInputs(t, secret, []inputCheck{
			{"metadata.name", "redis-auth"},
			{"metadata.namespace", "guestbook"},
			{"immutable", true},
		})
		if !stacktest.IsSecret(secret.Inputs, "stringData.password") {
			t.Errorf("dryRun=%v: the Redis password is not a Pulumi secret", dryRun)
		}
		if pw, _ := stacktest.String(secret.Inputs, "stringData.password"); len(pw) != 43 {
			t.Errorf("dryRun=%v: the Redis password has %d characters, want 43 (256 random bits, base64url)", dryRun, len(pw))
		}
		// The first deploy's password stays: a later run's draw is ignored.
		if !slices.Contains(secret.IgnoreChanges, "stringData") || !slices.Contains(secret.IgnoreChanges, "data") {
			t.Errorf("dryRun=%v: Secret ignoreChanges = %v, want stringData and data", dryRun, secret.IgnoreChanges)
		}
		dep := run.g.Get(t, stacktest.TypeDeployment, "guestbook-app")
		for _, w := range []*stacktest.Resource{dep, run.g.Get(t, stacktest.TypeStatefulSet, "guestbook-redis")} {
			if !run.g.Waits(w, secret) {
				t.Errorf("dryRun=%v: %s does not wait for the Secret; a rotated password would not roll it", dryRun, w)
			}
		}
	}
	a, b := mustRunGuestbook(t, false, devGuestbook), mustRunGuestbook(t, false, devGuestbook)
	pa, _ := stacktest.String(a.g.Get(t, "kubernetes:core/v1:Secret", "guestbook-redis-auth").Inputs, "stringData.password")
	pb, _ := stacktest.String(b.g.Get(t, "kubernetes:core/v1:Secret", "guestbook-redis-auth").Inputs, "stringData.password")
	if pa == pb {
		t.Errorf("two runs drew the same Redis password %q: it is not random", pa)
	}
}

func TestNamespaceAndPolicies(t *testing.T) {
	run := mustRunGuestbook(t, false, devGuestbook)
	ns := run.g.Get(t, stacktest.TypeNamespace, "guestbook-namespace")
	checkInputs(t, ns, []inputCheck{
		{"metadata.name", "guestbook"},
		{`metadata.labels["pod-security.kubernetes.io/enforce"]`, "restricted"},
		{`metadata.labels["pod-security.kubernetes.io/audit"]`, "restricted"},
		{`metadata.labels["pod-security.kubernetes.io/warn"]`, "restricted"},
	})

	policy := func(name string) *stacktest.Resource {
		return run.g.Get(t, stacktest.TypeNetworkPolicy, "guestbook-"+name)
	}
	checkInputs(t, policy("default-deny"), []inputCheck{
		{"spec.podSelector", map[string]any{}},
		{"spec.policyTypes", []any{"Ingress", "Egress"}},
	})
	checkInputs(t, policy("allow-dns"), []inputCheck{
		{"spec.policyTypes", []any{"Egress"}},
		{`spec.egress[0].to[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"]`, "kube-system"},
		{`spec.egress[0].to[0].podSelector.matchLabels["k8s-app"]`, "kube-dns"},
		{"spec.egress[0].ports", []any{
			map[string]any{"protocol": "UDP", "port": 53.0},
			map[string]any{"protocol": "TCP", "port": 53.0},
		}},
	})
	checkInputs(t, policy("guestbook-ingress"), []inputCheck{
		{"spec.podSelector.matchLabels", map[string]any{"app": "guestbook"}},
		{"spec.ingress[0].ports", []any{map[string]any{"protocol": "TCP", "port": 8080.0}}},
	})
	checkInputs(t, policy("guestbook-to-redis"), []inputCheck{
		{"spec.podSelector.matchLabels", map[string]any{"app": "guestbook"}},
		{"spec.policyTypes", []any{"Egress"}},
		{"spec.egress[0].to[0].podSelector.matchLabels", map[string]any{"app": "redis"}},
		{"spec.egress[0].ports", []any{map[string]any{"protocol": "TCP", "port": 6379.0}}},
	})
	checkInputs(t, policy("redis-from-guestbook"), []inputCheck{
		{"spec.podSelector.matchLabels", map[string]any{"app": "redis"}},
		{"spec.policyTypes", []any{"Ingress"}},
		{"spec.ingress[0].from[0].podSelector.matchLabels", map[string]any{"app": "guestbook"}},
		{"spec.ingress[0].ports", []any{map[string]any{"protocol": "TCP", "port": 6379.0}}},
	})
	for _, r := range run.g.OfType(stacktest.TypeNetworkPolicy) {
		checkInputs(t, r, []inputCheck{{"metadata.namespace", "guestbook"}})
	}
}

func TestDisruptionBudget(t *testing.T) {
	tests := []struct {
		replicas int
		want     inputCheck
		absent   string
	}{
		{2, inputCheck{"spec.minAvailable", 1.0}, "spec.maxUnavailable"},
		{5, inputCheck{"spec.minAvailable", 1.0}, "spec.maxUnavailable"},
		// minAvailable 1 of 1 would block every node drain and node-image upgrade.
		{1, inputCheck{"spec.maxUnavailable", 1.0}, "spec.minAvailable"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("replicas=%d", tt.replicas), func(t *testing.T) {
			args := devGuestbook
			args.Replicas = tt.replicas
			run := mustRunGuestbook(t, false, args)
			pdb := run.g.Get(t, stacktest.TypePDB, "guestbook-app")
			checkInputs(t, pdb, []inputCheck{tt.want, {"spec.selector.matchLabels", map[string]any{"app": "guestbook"}}})
			if v, ok := stacktest.Value(pdb.Inputs, tt.absent); ok {
				t.Errorf("PDB %s = %v, want it unset", tt.absent, v)
			}
		})
	}
}

func TestServiceAndURL(t *testing.T) {
	tests := []struct {
		serviceType string
		wantURL     string
		// Local keeps the client's address for the per-client write limit; a
		// ClusterIP Service may not set the field at all.
		wantTrafficPolicy string
	}{
		{"LoadBalancer", "http://" + stacktest.LoadBalancerIP, "Local"},
		{"ClusterIP", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.serviceType, func(t *testing.T) {
			args := devGuestbook
			args.ServiceType = tt.serviceType
			run := mustRunGuestbook(t, false, args)
			svc := run.g.Get(t, stacktest.TypeService, "guestbook-app")
			checkInputs(t, svc, []inputCheck{
				{"metadata.name", "guestbook"},
				{"spec.type", tt.serviceType},
				{"spec.selector", map[string]any{"app": "guestbook"}},
				{"spec.ports[0].port", 80.0},
				{"spec.ports[0].targetPort", "http"},
			})
			policy, set := stacktest.String(svc.Inputs, "spec.externalTrafficPolicy")
			if policy != tt.wantTrafficPolicy || set != (tt.wantTrafficPolicy != "") {
				t.Errorf("service spec.externalTrafficPolicy = %q (set %v), want %q", policy, set, tt.wantTrafficPolicy)
			}
			url := awaitString(t, run.component.URL)
			if url != tt.wantURL {
				t.Errorf("Guestbook.URL = %q, want %q", url, tt.wantURL)
			}
		})
	}
}

func TestEveryKubernetesResourceUsesTheClusterProvider(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		run := mustRunGuestbook(t, dryRun, devGuestbook)
		provider := run.g.Get(t, stacktest.TypeK8sProvider, "cluster")
		var n int
		for _, r := range run.g.Resources {
			if !strings.HasPrefix(r.Type, "kubernetes:") {
				continue
			}
			n++
			if r.Provider != provider.URN {
				t.Errorf("dryRun=%v: %s uses provider %q, want the cluster's %s", dryRun, r, r.Provider, provider.URN)
			}
		}
		if n < 10 {
			t.Errorf("dryRun=%v: %d Kubernetes resources registered, want the namespace, Redis, the workload and 5 policies", dryRun, n)
		}
	}
}

func TestNewGuestbookRefusesMissingWiring(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*GuestbookArgs)
		wantErr string
	}{
		{"no provider", func(a *GuestbookArgs) { a.Provider = nil }, "Kubernetes provider"},
		{"no pull grant", func(a *GuestbookArgs) { a.PullGrants = nil }, "pull grants"},
		{"no node pool", func(a *GuestbookArgs) { a.Nodes = nil }, "node pools"},
		{"no Redis image", func(a *GuestbookArgs) { a.RedisImage = nil }, "Redis image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mocks := stacktest.NewMocks("guestbook", "test", false)
			g, err := stacktest.Run(func(ctx *pulumi.Context) error {
				provider, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{Kubeconfig: pulumi.String("x")})
				if err != nil {
					return err
				}
				args := devGuestbook
				args.Provider, args.PullGrants, args.Nodes = provider, []pulumi.Resource{provider}, []pulumi.Resource{provider}
				tt.mutate(&args)
				_, err = NewGuestbook(ctx, "guestbook", &args)
				return err
			}, mocks)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewGuestbook with %s: error = %v, want one about the %s", tt.name, err, tt.wantErr)
			}
			if n := len(g.OfType(stacktest.TypeDeployment)); n != 0 {
				t.Errorf("NewGuestbook with %s declared %d deployments, want none", tt.name, n)
			}
		})
	}
}

// awaitString resolves a string output outside a program run's callbacks.
func awaitString(t *testing.T, o pulumi.StringOutput) string {
	t.Helper()
	ch := make(chan string, 1)
	o.ApplyT(func(s string) string { ch <- s; return s })
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("output did not resolve")
		return ""
	}
}
