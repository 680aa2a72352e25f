package tests

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

// wantResources is the dev stack: every resource the program must register.
var wantResources = []struct{ typ, name string }{
	{"guestbook:infra:Azure", "guestbook"},
	{stacktest.TypeResourceGroup, "guestbook-rg"},
	{stacktest.TypeRegistry, "guestbookacr"},
	{stacktest.TypeIdentity, "guestbook-control-plane"},
	{stacktest.TypeIdentity, "guestbook-kubelet"},
	{stacktest.TypeRoleAssignment, "guestbook-mi-operator"},
	{stacktest.TypeRoleAssignment, "guestbook-acr-pull"},
	{stacktest.TypeCluster, "guestbook-aks"},
	{stacktest.TypeK8sProvider, "guestbook-k8s"},
	{"guestbook:app:Guestbook", "guestbook"},
	{stacktest.TypeImage, "guestbook-image"},
	{stacktest.TypeNamespace, "guestbook-namespace"},
	{stacktest.TypeNetworkPolicy, "guestbook-default-deny"},
	{stacktest.TypeNetworkPolicy, "guestbook-allow-dns"},
	{stacktest.TypeNetworkPolicy, "guestbook-guestbook-ingress"},
	{stacktest.TypeNetworkPolicy, "guestbook-guestbook-to-redis"},
	{stacktest.TypeNetworkPolicy, "guestbook-redis-from-guestbook"},
	{stacktest.TypeService, "guestbook-redis"},
	{stacktest.TypeService, "guestbook-redis-headless"},
	{stacktest.TypeStatefulSet, "guestbook-redis"},
	{stacktest.TypeDeployment, "guestbook-app"},
	{stacktest.TypePDB, "guestbook-app"},
	{stacktest.TypeService, "guestbook-app"},
}

func TestDevStackRegistersEveryResource(t *testing.T) {
	for _, dryRun := range modes() {
		t.Run(mode(dryRun), func(t *testing.T) {
			g := devRun(t, dryRun).Graph
			var got, want []string
			for _, r := range g.Resources {
				got = append(got, r.String())
			}
			for _, w := range wantResources {
				want = append(want, w.typ+" "+w.name)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("registered resources differ from the dev stack's\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// TestDeployOrder checks the edges the deploy order depends on, in a preview (every
// computed value unknown) and in an update.
func TestDeployOrder(t *testing.T) {
	for _, dryRun := range modes() {
		t.Run(mode(dryRun), func(t *testing.T) {
			g := devRun(t, dryRun).Graph
			r := func(typ, name string) *stacktest.Resource { return g.Get(t, typ, name) }
			registry := r(stacktest.TypeRegistry, "guestbookacr")
			kubelet := r(stacktest.TypeIdentity, "guestbook-kubelet")
			operator := r(stacktest.TypeRoleAssignment, "guestbook-mi-operator")
			acrPull := r(stacktest.TypeRoleAssignment, "guestbook-acr-pull")
			cluster := r(stacktest.TypeCluster, "guestbook-aks")
			provider := r(stacktest.TypeK8sProvider, "guestbook-k8s")
			image := r(stacktest.TypeImage, "guestbook-image")
			namespace := r(stacktest.TypeNamespace, "guestbook-namespace")
			deployment := r(stacktest.TypeDeployment, "guestbook-app")

			must := []struct {
				from, to *stacktest.Resource
				why      string
			}{
				{cluster, operator, "AKS refuses a kubelet identity its control plane may not operate"},
				{acrPull, registry, "the assignment's scope is the registry"},
				{acrPull, kubelet, "the assignment's principal is the kubelet identity"},
				{provider, cluster, "the provider's kubeconfig comes from the cluster"},
				{image, registry, "the image is pushed to the registry"},
				{deployment, acrPull, "pods must not pull before the nodes may (401 Unauthorized)"},
				{deployment, image, "the deployment runs the pushed image's digest"},
				{deployment, namespace, "the deployment lives in the namespace"},
			}
			for _, m := range must {
				if !g.Waits(m.from, m.to) {
					t.Errorf("%s does not wait for %s: %s (dependencies %v, provider %q)", m.from, m.to, m.why, m.from.Dependencies, m.from.Provider)
				}
			}
			mustNot := []struct {
				from, to *stacktest.Resource
				why      string
			}{
				{acrPull, cluster, "AcrPull must propagate while AKS provisions"},
				{registry, cluster, "registry and cluster are independent"},
				{cluster, registry, "registry and cluster are independent"},
				{cluster, acrPull, "the cluster does not need the pull grant to be created"},
				{image, cluster, "the image can be pushed while AKS provisions"},
			}
			for _, m := range mustNot {
				if path, ok := g.WaitsTransitively(m.from, m.to); ok {
					t.Errorf("%s waits for %s (%s): %s", m.from, m.to, stacktest.Path(path), m.why)
				}
			}
			for _, res := range g.Resources {
				if strings.HasPrefix(res.Type, "kubernetes:") && res.Provider != provider.URN {
					t.Errorf("%s uses provider %q, want the stack's cluster provider %s", res, res.Provider, provider.URN)
				}
			}
		})
	}
}

func TestPreviewPlansTheSameGraphAsUpdate(t *testing.T) {
	update, preview := devRun(t, false).Graph.EdgeList(), devRun(t, true).Graph.EdgeList()
	if !slices.Equal(preview, update) {
		t.Errorf("preview and update differ\nonly in preview: %v\nonly in update:  %v", minus(preview, update), minus(update, preview))
	}
	if len(update) < 20 {
		t.Errorf("only %d edges in the update graph; the comparison would prove little", len(update))
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func TestStackOutputs(t *testing.T) {
	res := devRun(t, false)
	g := res.Graph
	registry := g.Get(t, stacktest.TypeRegistry, "guestbookacr")
	kubelet := g.Get(t, stacktest.TypeIdentity, "guestbook-kubelet")
	cluster := g.Get(t, stacktest.TypeCluster, "guestbook-aks")
	rg := g.Get(t, stacktest.TypeResourceGroup, "guestbook-rg")
	image := g.Get(t, stacktest.TypeImage, "guestbook-image")
	out := func(r *stacktest.Resource, key string) string {
		v, _ := stacktest.String(r.Outputs, key)
		return v
	}

	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range maps.Keys(res.Outputs) {
			if !yield(string(k)) {
				return
			}
		}
	})
	wantKeys := []string{"clusterName", "guestbookImage", "guestbookUrl", "kubeconfig", "kubeletIdentityObjectId", "registryLoginServer", "resourceGroupName"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("stack outputs = %v, want %v", keys, wantKeys)
	}
	want := map[string]string{
		"resourceGroupName":       out(rg, "name"),
		"registryLoginServer":     out(registry, "loginServer"),
		"clusterName":             out(cluster, "name"),
		"kubeletIdentityObjectId": out(kubelet, "principalId"),
		"guestbookImage":          out(image, "repoDigest"),
		"guestbookUrl":            "http://" + stacktest.LoadBalancerIP,
	}
	for key, w := range want {
		if got, _ := stacktest.String(res.Outputs, key); got != w || w == "" {
			t.Errorf("output %s = %q, want %q", key, got, w)
		}
	}
	kubeconfig, _ := stacktest.String(res.Outputs, "kubeconfig")
	if !strings.Contains(kubeconfig, out(cluster, "fqdn")) {
		t.Errorf("output kubeconfig does not target the cluster %s:\n%s", out(cluster, "fqdn"), kubeconfig)
	}
	for _, dryRun := range modes() {
		if o := devRun(t, dryRun).Outputs; !stacktest.IsSecret(o, "kubeconfig") {
			t.Errorf("%s: output kubeconfig is not a secret: %v", mode(dryRun), o["kubeconfig"])
		}
	}
}

func TestClusterIPStackHasNoURL(t *testing.T) {
	res, err := program(t).Run("dev", false, withConfig(t, map[string]string{"guestbook:serviceType": "ClusterIP"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("ClusterIP stack exited %d: %v", res.ExitCode, res.Errors())
	}
	if v, ok := res.Outputs["guestbookUrl"]; ok {
		t.Errorf("ClusterIP stack exports guestbookUrl = %v; there is no public URL", v)
	}
	svc := res.Graph.Get(t, stacktest.TypeService, "guestbook-app")
	if got, _ := stacktest.String(svc.Inputs, "spec.type"); got != "ClusterIP" {
		t.Errorf("guestbook service type = %q, want ClusterIP", got)
	}
}

func TestImagePushUsesTheDeployingIdentity(t *testing.T) {
	t.Run("update", func(t *testing.T) {
		res := devRun(t, false)
		registry := res.Graph.Get(t, stacktest.TypeRegistry, "guestbookacr")
		image := res.Graph.Get(t, stacktest.TypeImage, "guestbook-image")
		loginServer, _ := stacktest.String(registry.Outputs, "loginServer")

		if n := len(res.Graph.InvokesOf(stacktest.InvokeGetClientToken)); n != 1 {
			t.Errorf("getClientToken invoked %d times, want once", n)
		}
		want := []stacktest.Exchange{{Host: loginServer, GrantType: "access_token", Service: loginServer, AccessToken: stacktest.AADToken}}
		if got := res.Exchanges; !slices.Equal(got, want) {
			t.Errorf("registry token exchanges = %+v, want %+v", got, want)
		}
		if got, _ := stacktest.String(image.Inputs, "registry.password"); got != stacktest.RefreshToken {
			t.Errorf("image registry.password = %q, want the exchanged refresh token", got)
		}
		if !stacktest.IsSecret(image.Inputs, "registry.password") {
			t.Error("image registry.password is not a secret")
		}
		if got, _ := stacktest.String(image.Inputs, "registry.username"); got != "00000000-0000-0000-0000-000000000000" {
			t.Errorf("image registry.username = %q, want the token user", got)
		}
		if got, _ := stacktest.String(registry.Inputs, "adminUserEnabled"); got != "" {
			t.Errorf("registry adminUserEnabled is a string %q", got)
		}
		if v, _ := stacktest.Value(registry.Inputs, "adminUserEnabled"); v != false {
			t.Errorf("registry adminUserEnabled = %v, want false", v)
		}
		if len(res.Refused) > 0 {
			t.Errorf("the program tried to reach %v; a run must reach only the registry", res.Refused)
		}
	})
	t.Run("preview", func(t *testing.T) {
		res := devRun(t, true)
		if n := len(res.Graph.InvokesOf(stacktest.InvokeGetClientToken)); n != 0 {
			t.Errorf("getClientToken invoked %d times in a preview, want none", n)
		}
		if len(res.Exchanges) != 0 {
			t.Errorf("registry token exchanges in a preview = %+v, want none", res.Exchanges)
		}
	})
}

func TestOnlyExpectedInvokes(t *testing.T) {
	want := map[bool][]string{
		false: {stacktest.InvokeGetClientToken, stacktest.InvokeListUserCredentials},
		true:  nil, // a first preview knows no cluster to list credentials of
	}
	for _, dryRun := range modes() {
		var got []string
		for _, inv := range devRun(t, dryRun).Graph.Invokes {
			got = append(got, inv.Token)
			if inv.Err != nil {
				t.Errorf("%s: invoke %s failed: %v", mode(dryRun), inv.Token, inv.Err)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want[dryRun]) {
			t.Errorf("%s: invokes = %v, want %v", mode(dryRun), got, want[dryRun])
		}
	}
}

// TestSecretsStaySecret looks for the cluster's credentials and the registry token
// anywhere the engine would store them in plain text: resource inputs and outputs.
func TestSecretsStaySecret(t *testing.T) {
	res := devRun(t, false)
	secrets := []string{"mock-cluster-user-token", stacktest.RefreshToken}
	check := func(where string, m resource.PropertyMap) {
		for _, leak := range plaintext(resource.NewProperty(m), secrets) {
			t.Errorf("%s holds %q outside a secret", where, leak)
		}
	}
	for _, r := range res.Graph.Resources {
		check(r.String()+" inputs", r.Inputs)
		check(r.String()+" outputs", r.Outputs)
	}
	check("stack outputs", res.Outputs)
}

// plaintext returns the needles found in v's strings that are not under a secret.
func plaintext(v resource.PropertyValue, needles []string) []string {
	switch {
	case v.IsSecret():
		return nil
	case v.IsOutput():
		if v.OutputValue().Secret {
			return nil
		}
		return plaintext(v.OutputValue().Element, needles)
	case v.IsString():
		var found []string
		for _, n := range needles {
			if strings.Contains(v.StringValue(), n) {
				found = append(found, n)
			}
		}
		return found
	case v.IsArray():
		var found []string
		for _, e := range v.ArrayValue() {
			found = append(found, plaintext(e, needles)...)
		}
		return found
	case v.IsObject():
		var found []string
		for _, e := range v.ObjectValue() {
			found = append(found, plaintext(e, needles)...)
		}
		return found
	}
	return nil
}
