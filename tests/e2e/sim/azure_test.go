package sim

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestCheckAutonames(t *testing.T) {
	p := NewAzureProvider(newCloud(t))
	tests := []struct {
		typ, name string
		ins       resource.PropertyMap
		nameProp  string
		want      *regexp.Regexp
	}{
		{tokRG, "guestbook-rg", pm(map[string]any{"location": "japaneast"}), "resourceGroupName", regexp.MustCompile(`^guestbook-rg[0-9a-f]{8}$`)},
		{tokRegistry, "guestbookacr", pm(map[string]any{"resourceGroupName": "rg", "sku": map[string]any{"name": "Basic"}}), "registryName", regexp.MustCompile(`^guestbookacr[0-9a-f]{8}$`)},
		{tokIdentity, "guestbook-kubelet", pm(map[string]any{"resourceGroupName": "rg"}), "resourceName", regexp.MustCompile(`^guestbook-kubelet[0-9a-f]{8}$`)},
		{tokCluster, "guestbook-aks", pm(map[string]any{"resourceGroupName": "rg"}), "resourceName", regexp.MustCompile(`^guestbook-aks[0-9a-f]{8}$`)},
		{tokRA, "guestbook-acr-pull", pm(map[string]any{"scope": "/s", "principalId": "p", "roleDefinitionId": "r"}), "roleAssignmentName",
			regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkWith := func(seed string, olds resource.PropertyMap) string {
				resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
					Urn: urnOf(tt.typ, tt.name), Type: tt.typ, News: wireOf(t, tt.ins), Olds: wireOf(t, olds), RandomSeed: []byte(seed),
				})
				if err != nil {
					t.Fatal(err)
				}
				return propStr(propsOf(t, resp.Inputs), tt.nameProp)
			}
			first := checkWith("seed-1", nil)
			if !tt.want.MatchString(first) {
				t.Errorf("autoname = %q, want match for %s", first, tt.want)
			}
			if again := checkWith("seed-1", nil); again != first {
				t.Errorf("autoname with the same seed = %q, want %q (deterministic for the engine)", again, first)
			}
			olds := tt.ins.Copy()
			olds[resource.PropertyKey(tt.nameProp)] = resource.NewProperty(first)
			if kept := checkWith("seed-2", olds); kept != first {
				t.Errorf("name on update = %q, want the old name %q", kept, first)
			}
		})
	}
}

func TestCheckRequiredInputs(t *testing.T) {
	p := NewAzureProvider(newCloud(t))
	tests := []struct {
		typ  string
		ins  map[string]any
		want string
	}{
		{tokRG, map[string]any{}, "location"},
		{tokIdentity, map[string]any{"location": "japaneast"}, "resourceGroupName"},
		{tokRA, map[string]any{"scope": "/s", "roleDefinitionId": "r"}, "principalId"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf(tt.typ, "x"), Type: tt.typ, News: wireOf(t, pm(tt.ins))})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Failures) != 1 || resp.Failures[0].Property != tt.want {
				t.Fatalf("failures = %v, want one for %s", resp.Failures, tt.want)
			}
			if got, want := resp.Failures[0].Reason, "missing required property '"+tt.want+"'"; got != want {
				t.Errorf("reason = %q, want %q", got, want)
			}
		})
	}
}

func TestCheckDefaultsLocationFromConfig(t *testing.T) {
	p := NewAzureProvider(newCloud(t))
	if _, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: wireOf(t, pm(map[string]any{"location": "japaneast"}))}); err != nil {
		t.Fatal(err)
	}
	ins := check(t, p, tokRG, "rg", pm(map[string]any{}))
	if got, want := propStr(ins, "location"), "japaneast"; got != want {
		t.Errorf("location = %q, want %q", got, want)
	}
}

func TestCreateReadDeleteOutOfBand(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	s := deployAzure(t, p, true)

	read := func(id, typ string) *pulumirpc.ReadResponse {
		resp, err := p.Read(context.Background(), &pulumirpc.ReadRequest{Id: id, Urn: urnOf(typ, "x"), Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// ARM ids are case-insensitive.
	got := read(strings.ToUpper(s.clusterID), tokCluster)
	if got.Id != s.clusterID {
		t.Fatalf("Read id = %q, want %q", got.Id, s.clusterID)
	}
	outs := propsOf(t, got.Properties)
	for k, want := range map[string]string{
		"provisioningState": StateSucceeded,
		"nodeResourceGroup": "MC_" + s.rg + "_" + s.clusterName + "_japaneast",
		"name":              s.clusterName,
	} {
		if got := propStr(outs, k); got != want {
			t.Errorf("cluster %s = %q, want %q", k, got, want)
		}
	}
	if fqdn := propStr(outs, "fqdn"); !regexp.MustCompile(`^guestbook-[0-9a-f]{8}\.hcp\.japaneast\.azmk8s\.io$`).MatchString(fqdn) {
		t.Errorf("fqdn = %q", fqdn)
	}
	if ins := propsOf(t, got.Inputs); propStr(ins, "dnsPrefix") != "guestbook" {
		t.Errorf("Read inputs = %v, want the created inputs", ins)
	}

	if err := c.DeleteOutOfBand(s.clusterID); err != nil {
		t.Fatal(err)
	}
	if got := read(s.clusterID, tokCluster); got.Id != "" {
		t.Errorf("Read after out-of-band delete: id = %q, want empty (gone)", got.Id)
	}
	if err := c.DeleteOutOfBand(s.clusterID); err == nil {
		t.Error("DeleteOutOfBand of a missing id: no error")
	}
	if got := ops(t, c, OpDeleteOutOfBand); len(got) != 2 || got[1].Err == "" {
		t.Errorf("out-of-band deletes logged = %+v, want two, the second failed", got)
	}
}

func TestCreateExistingFails(t *testing.T) {
	p := NewAzureProvider(newCloud(t))
	ins := pm(map[string]any{"location": "japaneast", "resourceGroupName": "guestbook-rg"})
	id, _ := create(t, p, tokRG, "rg", ins)
	_, _, err := tryCreate(t, p, tokRG, "rg", ins)
	if want := "cannot create already existing resource '" + id + "'"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("second Create: %v, want %q", err, want)
	}
}

func TestCacheRule(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	s := deployAzure(t, p, false)
	rule := pm(map[string]any{"resourceGroupName": s.rg, "registryName": s.registryName,
		"sourceRepository": "public.ecr.aws/docker/library/redis", "targetRepository": "docker/library/redis"})
	id, outs := create(t, p, tokCache, "guestbook-cache-redis", rule)
	if want := s.registryID + "/cacheRules/" + propStr(outs, "name"); id != want || propStr(outs, "provisioningState") != "Succeeded" {
		t.Errorf("cache rule id = %s (%s), want %s (Succeeded)", id, propStr(outs, "provisioningState"), want)
	}
	if _, _, err := tryCreate(t, p, tokCache, "twin", rule); err == nil || !strings.Contains(err.Error(), "CacheRuleTargetRepositoryConflict") {
		t.Errorf("a second rule for docker/library/redis: %v, want a conflict", err)
	}
}

func TestRoleAssignmentForClientIDIsAcceptedAndNoted(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	s := deployAzure(t, p, false)
	id, _ := create(t, p, tokRA, "by-client-id", roleAssignment(s.registryID, s.kubeletClient, acrPullRole))
	for _, r := range resources(t, c) {
		if r.ID == id {
			if !strings.Contains(r.Note, "grants nothing") {
				t.Errorf("note = %q, want it to say the assignment grants nothing", r.Note)
			}
			return
		}
	}
	t.Fatalf("assignment %s not in the cloud", id)
}

func TestDiff(t *testing.T) {
	p := NewAzureProvider(newCloud(t))
	s := stack{rg: "rg", controlPlaneID: "/cp", kubeletID: "/k", kubeletClient: "c", kubeletObject: "o"}
	ra := roleAssignment("/scope", "principal-a", acrPullRole)
	raOther := ra.Copy()
	raOther["principalId"] = resource.NewProperty("principal-b")
	rgOld := pm(map[string]any{"resourceGroupName": "rg", "location": "japaneast"})
	rgNew := pm(map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
	unknownPrincipal := ra.Copy()
	unknownPrincipal["principalId"] = resource.MakeComputed(resource.NewProperty(""))
	countChanged := clusterInputs(s, 3)
	countChanged["agentPoolProfiles"].ArrayValue()[0].ObjectValue()["count"] = resource.NewProperty(3.0)

	tests := []struct {
		name          string
		typ           string
		olds, news    resource.PropertyMap
		ignore        []string
		wantChanges   pulumirpc.DiffResponse_DiffChanges
		wantReplaces  []string
		wantDetailKey string
		wantKind      pulumirpc.PropertyDiff_Kind
	}{
		{"no change", tokCluster, clusterInputs(s, 3), clusterInputs(s, 3), nil, pulumirpc.DiffResponse_DIFF_NONE, nil, "", 0},
		{"role assignment principal", tokRA, ra, raOther, nil, pulumirpc.DiffResponse_DIFF_SOME, []string{"principalId"}, "principalId", pulumirpc.PropertyDiff_UPDATE_REPLACE},
		{"unknown principal", tokRA, ra, unknownPrincipal, nil, pulumirpc.DiffResponse_DIFF_SOME, []string{"principalId"}, "principalId", pulumirpc.PropertyDiff_UPDATE_REPLACE},
		{"cluster maxCount", tokCluster, clusterInputs(s, 3), clusterInputs(s, 5), nil, pulumirpc.DiffResponse_DIFF_SOME, nil, "agentPoolProfiles[0].maxCount", pulumirpc.PropertyDiff_UPDATE},
		{"ignored count", tokCluster, clusterInputs(s, 3), countChanged, []string{"agentPoolProfiles[0].count"}, pulumirpc.DiffResponse_DIFF_NONE, nil, "", 0},
		{"resource group location", tokRG, rgOld, rgNew, nil, pulumirpc.DiffResponse_DIFF_SOME, []string{"location"}, "location", pulumirpc.PropertyDiff_UPDATE_REPLACE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
				Id: "id", Urn: urnOf(tt.typ, "x"), Type: tt.typ,
				OldInputs: wireOf(t, tt.olds), Olds: wireOf(t, tt.olds), News: wireOf(t, tt.news), IgnoreChanges: tt.ignore,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Changes != tt.wantChanges {
				t.Errorf("changes = %v, want %v (detailed %v)", got.Changes, tt.wantChanges, got.DetailedDiff)
			}
			if strings.Join(got.Replaces, ",") != strings.Join(tt.wantReplaces, ",") {
				t.Errorf("replaces = %v, want %v", got.Replaces, tt.wantReplaces)
			}
			if got.DeleteBeforeReplace {
				t.Error("deleteBeforeReplace = true, want false")
			}
			if tt.wantDetailKey != "" {
				d := got.DetailedDiff[tt.wantDetailKey]
				if d == nil || d.Kind != tt.wantKind {
					t.Errorf("detailedDiff[%s] = %v, want %v (all: %v)", tt.wantDetailKey, d, tt.wantKind, got.DetailedDiff)
				}
			}
		})
	}
}

func TestPreviewCreateTouchesNothing(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	ins := check(t, p, tokRegistry, "guestbookacr", pm(map[string]any{"resourceGroupName": "rg", "sku": map[string]any{"name": "Basic"}}))
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnOf(tokRegistry, "guestbookacr"), Type: tokRegistry, Properties: wireOf(t, ins), Preview: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	outs := propsOf(t, resp.Properties)
	for _, k := range []resource.PropertyKey{"loginServer", "name", "provisioningState"} {
		if !outs[k].IsComputed() {
			t.Errorf("preview output %s = %v, want unknown", k, outs[k])
		}
	}
	if got := propStr(outs, "resourceGroupName"); got != "rg" {
		t.Errorf("preview output resourceGroupName = %q, want the input", got)
	}
	if got := resources(t, c); len(got) != 0 {
		t.Errorf("cloud after a preview holds %v, want nothing", got)
	}
	if got := ops(t, c, OpCreate); len(got) != 1 || !got[0].Preview {
		t.Errorf("logged creates = %+v, want one preview", got)
	}
}

func TestUpdateKeepsComputedOutputs(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	s := deployAzure(t, p, true)
	old := clusterInputs(s, 3)
	old["resourceName"] = resource.NewProperty(s.clusterName)
	before, err := p.Read(context.Background(), &pulumirpc.ReadRequest{Id: s.clusterID, Urn: urnOf(tokCluster, "aks"), Type: tokCluster})
	if err != nil {
		t.Fatal(err)
	}
	news := clusterInputs(s, 5)
	news["resourceName"] = resource.NewProperty(s.clusterName)
	for _, preview := range []bool{true, false} {
		resp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
			Id: s.clusterID, Urn: urnOf(tokCluster, "aks"), Type: tokCluster,
			Olds: before.Properties, OldInputs: wireOf(t, old), News: wireOf(t, news), Preview: preview,
		})
		if err != nil {
			t.Fatal(err)
		}
		outs := propsOf(t, resp.Properties)
		if got, want := propStr(outs, "fqdn"), propStr(propsOf(t, before.Properties), "fqdn"); got != want {
			t.Errorf("preview=%v: fqdn after update = %q, want unchanged %q", preview, got, want)
		}
		pool := outs["agentPoolProfiles"].ArrayValue()[0].ObjectValue()
		if got := pool["maxCount"].NumberValue(); got != 5 {
			t.Errorf("preview=%v: maxCount = %v, want 5", preview, got)
		}
	}
}

func TestDeleteCascadesAndIsIdempotent(t *testing.T) {
	c := newCloud(t)
	p := NewAzureProvider(c)
	s := deployAzure(t, p, true)
	del := func() {
		if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{Id: s.rgID, Urn: urnOf(tokRG, "rg"), Type: tokRG}); err != nil {
			t.Fatal(err)
		}
	}
	del()
	if got := resources(t, c); len(got) != 0 {
		t.Errorf("after deleting the resource group the cloud holds %d resources, want 0", len(got))
	}
	del() // ARM answers 204 for what is gone
}
