package enginetest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	containerregistry "github.com/pulumi/pulumi-azure-native-sdk/containerregistry/v2/v20241101preview"
	containerservice "github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2/v20241001"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

const kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: simulated\n"

// pulumiCLI returns the real CLI to test with: $PULUMI_CLI, the rehearsal's build
// in /tmp/e2ebin, or pulumi on $PATH.
func pulumiCLI(t *testing.T) string {
	for _, c := range []string{os.Getenv("PULUMI_CLI"), "/tmp/e2ebin/pulumi"} {
		if c != "" {
			if _, err := os.Stat(c); err == nil {
				return c
			}
		}
	}
	if p, err := exec.LookPath("pulumi"); err == nil {
		return p
	}
	t.Skip("no pulumi CLI: set PULUMI_CLI to run the simulators under the real engine")
	return ""
}

// setup builds the plugins next to a link to the CLI and returns the stack.
func setup(t *testing.T, ctx context.Context) (auto.Stack, *sim.Cloud) {
	cli := pulumiCLI(t)
	if testing.Short() {
		t.Skip("-short: the real engine takes a while")
	}
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	for _, name := range []string{"pulumi-resource-azure-native", "pulumi-resource-docker"} {
		out, err := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, name),
			"github.com/guestbook-aks/guestbook/tests/e2e/sim/cmd/"+name).CombinedOutput()
		if err != nil {
			t.Fatalf("building %s: %v\n%s", name, err, out)
		}
	}
	if err := os.Symlink(cli, filepath.Join(bin, "pulumi")); err != nil {
		t.Fatal(err)
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	if err != nil {
		t.Fatal(err)
	}

	cloud, err := sim.Open(filepath.Join(root, "cloud"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.SetKubeconfig([]byte(kubeconfig)); err != nil {
		t.Fatal(err)
	}
	// Fast, but long enough that the engine runs creates side by side.
	if err := cloud.SetLatency(sim.Latency{Scale: time.Millisecond, Create: map[string]float64{
		sim.KindResourceGroup: 15, sim.KindRegistry: 45, sim.KindIdentity: 10, sim.KindRoleAssignment: 20,
		sim.KindCluster: 420, sim.KindImage: 120,
	}}); err != nil {
		t.Fatal(err)
	}

	project := filepath.Join(root, "project")
	for name, content := range map[string]string{
		"app/Dockerfile": "FROM scratch\nCOPY . /\n",
		"app/main.go":    "package main\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(project, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(project, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"PATH":                     bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PULUMI_HOME":              filepath.Join(root, "home"),
		"PULUMI_BACKEND_URL":       "file://" + filepath.Join(root, "state"),
		"PULUMI_CONFIG_PASSPHRASE": "rehearsal",
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		sim.EnvDir: cloud.Dir(),
	}
	if err := os.MkdirAll(filepath.Join(root, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An inline program's plugins run in this process's working directory, not in
	// the project's: the build context is given as an absolute path.
	st, err := auto.UpsertStackInlineSource(ctx, "dev", "guestbook", program(filepath.Join(project, "app")),
		auto.WorkDir(project), auto.EnvVars(env), auto.Pulumi(cmd))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"azure-native:location": "japaneast", "nodeMaxCount": "3"} {
		if err := st.SetConfig(ctx, k, auto.ConfigValue{Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	return st, cloud
}

// program is the guestbook's Azure layer and image, without Kubernetes.
func program(contextDir string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error { return declare(ctx, contextDir) }
}

func declare(ctx *pulumi.Context, contextDir string) error {
	maxCount := config.GetInt(ctx, "nodeMaxCount")
	rg, err := resources.NewResourceGroup(ctx, "guestbook-rg", &resources.ResourceGroupArgs{Location: pulumi.String("japaneast")}, adopt(ctx, "guestbook-rg")...)
	if err != nil {
		return err
	}
	registry, err := containerregistry.NewRegistry(ctx, "guestbookacr", &containerregistry.RegistryArgs{
		ResourceGroupName: rg.Name, Location: rg.Location, Sku: &containerregistry.SkuArgs{Name: pulumi.String("Basic")},
		AdminUserEnabled: pulumi.Bool(false), AnonymousPullEnabled: pulumi.Bool(false),
	}, adopt(ctx, "guestbookacr")...)
	if err != nil {
		return err
	}
	cp, err := managedidentity.NewUserAssignedIdentity(ctx, "guestbook-control-plane", &managedidentity.UserAssignedIdentityArgs{ResourceGroupName: rg.Name, Location: rg.Location}, adopt(ctx, "guestbook-control-plane")...)
	if err != nil {
		return err
	}
	kubelet, err := managedidentity.NewUserAssignedIdentity(ctx, "guestbook-kubelet", &managedidentity.UserAssignedIdentityArgs{ResourceGroupName: rg.Name, Location: rg.Location}, adopt(ctx, "guestbook-kubelet")...)
	if err != nil {
		return err
	}
	grant := func(name string, scope pulumi.StringOutput, principal pulumi.StringOutput, role string) (*authorization.RoleAssignment, error) {
		roleDef := pulumi.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", sim.SubscriptionID, role)
		assignmentName := pulumi.All(scope, principal).ApplyT(func(v []any) string {
			return deterministicGUID(v[0].(string) + v[1].(string) + role)
		}).(pulumi.StringOutput)
		return authorization.NewRoleAssignment(ctx, name, &authorization.RoleAssignmentArgs{
			RoleAssignmentName: assignmentName, Scope: scope, PrincipalId: principal,
			PrincipalType: pulumi.String("ServicePrincipal"), RoleDefinitionId: roleDef,
		}, adopt(ctx, name)...)
	}
	operator, err := grant("guestbook-mi-operator", kubelet.ID().ToStringOutput(), cp.PrincipalId, "f1a07417-d97a-45cb-824c-7a7467783830")
	if err != nil {
		return err
	}
	if _, err := grant("guestbook-acr-pull", registry.ID().ToStringOutput(), kubelet.PrincipalId, "7f951dda-4ed3-4680-a7ca-43fe172d538d"); err != nil {
		return err
	}
	cluster, err := containerservice.NewManagedCluster(ctx, "guestbook-aks", &containerservice.ManagedClusterArgs{
		ResourceGroupName: rg.Name, Location: rg.Location, DnsPrefix: pulumi.String("guestbook"),
		Identity: &containerservice.ManagedClusterIdentityArgs{
			Type:                   containerservice.ResourceIdentityTypeUserAssigned,
			UserAssignedIdentities: pulumi.StringArray{cp.ID().ToStringOutput()},
		},
		IdentityProfile: containerservice.UserAssignedIdentityMap{"kubeletidentity": containerservice.UserAssignedIdentityArgs{
			ResourceId: kubelet.ID().ToStringOutput(), ClientId: kubelet.ClientId, ObjectId: kubelet.PrincipalId,
		}},
		OidcIssuerProfile: &containerservice.ManagedClusterOIDCIssuerProfileArgs{Enabled: pulumi.Bool(true)},
		AgentPoolProfiles: containerservice.ManagedClusterAgentPoolProfileArray{containerservice.ManagedClusterAgentPoolProfileArgs{
			Name: pulumi.String("system"), Mode: pulumi.String("System"), VmSize: pulumi.String("Standard_D2s_v5"),
			Count: pulumi.Int(2), MinCount: pulumi.Int(2), MaxCount: pulumi.Int(maxCount), EnableAutoScaling: pulumi.Bool(true),
		}},
	}, append(adopt(ctx, "guestbook-aks"), pulumi.DependsOn([]pulumi.Resource{operator}),
		pulumi.IgnoreChanges([]string{"agentPoolProfiles[0].count"}))...)
	if err != nil {
		return err
	}
	creds := containerservice.ListManagedClusterUserCredentialsOutput(ctx, containerservice.ListManagedClusterUserCredentialsOutputArgs{
		ResourceGroupName: rg.Name, ResourceName: cluster.Name,
	})
	kc := creds.Kubeconfigs().ApplyT(func(kcs []containerservice.CredentialResultResponse) (string, error) {
		if len(kcs) == 0 {
			return "", errors.New("no kubeconfig")
		}
		raw, err := base64.StdEncoding.DecodeString(kcs[0].Value)
		return string(raw), err
	}).(pulumi.StringOutput)

	password := pulumi.ToSecret(pulumi.UnsafeUnknownOutput(nil).ApplyT(func(any) string { return "" })).(pulumi.StringOutput)
	if !ctx.DryRun() {
		password = pulumi.ToSecret(authorization.GetClientTokenOutput(ctx, authorization.GetClientTokenOutputArgs{}).Token()).(pulumi.StringOutput)
	}
	image, err := docker.NewImage(ctx, "guestbook-image", &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s/guestbook:dev", registry.LoginServer),
		Build: &docker.DockerBuildArgs{
			Context: pulumi.String(contextDir), Dockerfile: pulumi.String(filepath.Join(contextDir, "Dockerfile")), Platform: pulumi.String("linux/amd64"),
		},
		BuildOnPreview: pulumi.Bool(false),
		Registry: &docker.RegistryArgs{
			Server: registry.LoginServer, Username: pulumi.String("00000000-0000-0000-0000-000000000000"), Password: password,
		},
	})
	if err != nil {
		return err
	}
	ctx.Export("kubeconfig", pulumi.ToSecret(kc))
	ctx.Export("image", image.RepoDigest)
	ctx.Export("kubeletObjectId", kubelet.PrincipalId)
	return nil
}

// adopt returns the import option for the resource named name when config
// "imports" (a JSON object from logical names to ids) names it.
func adopt(ctx *pulumi.Context, name string) []pulumi.ResourceOption {
	var imports map[string]string
	if err := config.GetObject(ctx, "imports", &imports); err == nil && imports[name] != "" {
		return []pulumi.ResourceOption{pulumi.Import(pulumi.ID(imports[name]))}
	}
	return nil
}

func deterministicGUID(s string) string {
	h := sha256hex(s)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestUnderRealEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	st, cloud := setup(t, ctx)

	t.Log("preview of a new stack")
	pre, err := st.Preview(ctx)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if got := pre.ChangeSummary["create"]; got != 9 { // 8 resources and the stack
		t.Errorf("preview plans %d creates, want 9: %v", got, pre.ChangeSummary)
	}
	if res, _ := cloud.Resources(); len(res) != 0 {
		t.Errorf("after a preview the cloud holds %d resources", len(res))
	}

	t.Log("up")
	up, err := st.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if got := (*up.Summary.ResourceChanges)["create"]; got != 9 {
		t.Errorf("up created %d, want 9: %v", got, *up.Summary.ResourceChanges)
	}
	if got := up.Outputs["kubeconfig"]; got.Value != kubeconfig || !got.Secret {
		t.Errorf("kubeconfig output = %+v, want the simulator's, secret", got)
	}
	if img, _ := up.Outputs["image"].Value.(string); !strings.Contains(img, ".azurecr.io/guestbook@sha256:") {
		t.Errorf("image output = %q", img)
	}
	res, err := cloud.Resources()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 7 {
		t.Errorf("the cloud holds %d resources, want 7", len(res))
	}
	if images, _ := cloud.Images(); len(images) != 1 {
		t.Errorf("the registry holds %d images, want 1", len(images))
	}
	pids := map[int]bool{}
	ops, _ := cloud.Operations()
	for _, op := range ops {
		if op.Provider == sim.ProviderAzure {
			pids[op.PID] = true
		}
	}
	t.Logf("azure-native plugin processes: %d", len(pids))

	t.Log("second up: nothing to do")
	again, err := st.Up(ctx)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	for op, n := range *again.Summary.ResourceChanges {
		if op != "same" && n > 0 {
			t.Errorf("second up: %d %s, want none", n, op)
		}
	}
	if _, err := st.Preview(ctx, optpreview.ExpectNoChanges()); err != nil {
		t.Errorf("preview --expect-no-changes: %v", err)
	}

	t.Log("preview of nodeMaxCount=5")
	if err := st.SetConfig(ctx, "nodeMaxCount", auto.ConfigValue{Value: "5"}); err != nil {
		t.Fatal(err)
	}
	pre, err = st.Preview(ctx, optpreview.Diff())
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if pre.ChangeSummary["update"] != 1 || pre.ChangeSummary["replace"] != 0 || pre.ChangeSummary["create-replacement"] != 0 {
		t.Errorf("preview of a maxCount change: %v, want exactly one update\n%s", pre.ChangeSummary, pre.StdOut)
	}
	if err := st.SetConfig(ctx, "nodeMaxCount", auto.ConfigValue{Value: "3"}); err != nil {
		t.Fatal(err)
	}

	t.Log("drift: AcrPull deleted out of band")
	for _, r := range res {
		if r.Kind == sim.KindRoleAssignment && strings.HasSuffix(r.URN, "guestbook-acr-pull") {
			if err := cloud.DeleteOutOfBand(r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	ref, err := st.Refresh(ctx)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if got := (*ref.Summary.ResourceChanges)["delete"]; got != 1 {
		t.Errorf("refresh: %v, want one resource gone", *ref.Summary.ResourceChanges)
	}
	repair, err := st.Up(ctx, optup.Diff())
	if err != nil {
		t.Fatalf("up after refresh: %v", err)
	}
	if got := *repair.Summary.ResourceChanges; got["create"] != 1 || got["update"] != 0 {
		t.Errorf("up after drift: %v, want one create", got)
	}

	// The state as the backend stores it: Stack.Export runs `pulumi stack export
	// --show-secrets`, which decrypts every secret.
	files, err := filepath.Glob(filepath.Join(cloud.Dir(), "..", "state", ".pulumi", "stacks", "guestbook", "dev.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("state file: %v %v", files, err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	state := string(raw)
	if !strings.Contains(state, `"4dabf18193072939515e22adb298388d"`) {
		t.Error("the state holds no secret at all: the check below cannot fail")
	}
	for what, secret := range map[string]string{"the Azure token": sim.AADToken, "the kubeconfig": "current-context"} {
		if i := strings.Index(state, secret); i >= 0 {
			t.Errorf("the state holds %s in plain text: …%s…", what, state[max(0, i-300):min(len(state), i+100)])
		}
	}

	t.Log("destroy")
	if _, err := st.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if res, _ := cloud.Resources(); len(res) != 0 {
		t.Errorf("after destroy the cloud holds %d resources", len(res))
	}
}

// A CLI killed while the cluster is being created leaves the create going on in
// Azure, pending creates in the state and no plugin behind. Importing what Azure
// holds (through the simulator's Read) lets the stack converge without twins; an
// update before that would create a second cluster (the engine gives each
// deployment a new autonaming seed) and fail on a role assignment whose create
// was caught too (its name is deterministic).
//
// `refresh --import-pending-creates` would be the shorter way, but the v3.274.1
// engine drops the "importing" operations it makes without reading anything.
func TestKilledCLIRecovers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	st, cloud := setup(t, ctx)
	if err := cloud.SetLatency(sim.Latency{Scale: 10 * time.Millisecond, Create: map[string]float64{sim.KindCluster: 300}}); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := st.Up(ctx)
		done <- err
	}()
	var cli int
	var cluster sim.Resource
	for deadline := time.Now().Add(2 * time.Minute); cli == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cluster create never started")
		}
		res, err := cloud.Resources()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Kind == sim.KindCluster && r.ProvisioningState == sim.StateCreating {
				cluster, cli = r, childNamed("pulumi")
			}
		}
	}
	plugins := descendantsNamed(cli, "pulumi-resource-")
	if len(plugins) == 0 {
		t.Error("found no plugin process under the CLI")
	}
	if err := syscall.Kill(cli, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("up survived SIGKILL")
	}
	for _, pid := range plugins {
		for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("plugin %d outlived the killed CLI", pid)
				break
			}
		}
	}

	// The killed CLI's lock stays behind: `pulumi cancel` removes it.
	if err := st.Cancel(ctx); err != nil {
		t.Fatalf("pulumi cancel: %v", err)
	}
	dep, err := st.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var state apitype.DeploymentV3
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		t.Fatal(err)
	}
	var pending []string
	for _, op := range state.PendingOperations {
		if op.Type == apitype.OperationTypeCreating {
			pending = append(pending, string(op.Resource.URN))
		}
	}
	if _, err := st.Refresh(ctx, optrefresh.ClearPendingCreates()); err != nil {
		t.Fatalf("refresh --clear-pending-creates: %v", err)
	}
	// The program adopts what Azure holds with the import resource option
	// (`pulumi import` would need the Go language plugin): the engine reads each
	// and requires the program's inputs to match what it read.
	imports := map[string]string{}
	res, err := cloud.Resources()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		for _, urn := range pending {
			if r.URN == urn {
				imports[urnName(urn)] = r.ID
			}
		}
	}
	if imports["guestbook-aks"] != cluster.ID {
		t.Fatalf("adopting %v: the cluster is not among the pending creates %v", imports, pending)
	}
	b, err := json.Marshal(imports)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetConfig(ctx, "imports", auto.ConfigValue{Value: string(b)}); err != nil {
		t.Fatal(err)
	}
	adopted, err := st.Up(ctx)
	if err != nil {
		t.Fatalf("up adopting %v: %v", imports, err)
	}
	if got := (*adopted.Summary.ResourceChanges)["import"]; got != len(imports) {
		t.Errorf("up imported %d resources, want %d: %v", got, len(imports), *adopted.Summary.ResourceChanges)
	}
	if err := st.RemoveConfig(ctx, "imports"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Preview(ctx, optpreview.ExpectNoChanges()); err != nil {
		t.Errorf("the stack did not converge: %v", err)
	}
	if res, _ := cloud.Resources(); len(res) != 7 {
		t.Errorf("the cloud holds %d resources, want 7 (no twins)", len(res))
	}
	if _, err := st.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if res, _ := cloud.Resources(); len(res) != 0 {
		t.Errorf("after destroy the cloud holds %d resources", len(res))
	}
}

func urnName(urn string) string { return urn[strings.LastIndex(urn, "::")+2:] }

// childNamed returns a child process of this one whose command starts with name.
func childNamed(name string) int {
	for _, pid := range children(os.Getpid()) {
		if strings.HasPrefix(comm(pid), name) {
			return pid
		}
	}
	return 0
}

// descendantsNamed returns pid's descendants whose command starts with prefix.
func descendantsNamed(pid int, prefix string) []int {
	var out []int
	for _, c := range children(pid) {
		if strings.HasPrefix(comm(c), prefix[:min(len(prefix), 15)]) {
			out = append(out, c)
		}
		out = append(out, descendantsNamed(c, prefix)...)
	}
	return out
}

func children(parent int) []int {
	dirs, _ := os.ReadDir("/proc")
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(parent) {
			out = append(out, pid)
		}
	}
	return out
}

// comm is a process's command name (at most 15 characters).
func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}
