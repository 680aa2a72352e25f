package sim

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestOpenNeedsAbsolutePath(t *testing.T) {
	if _, err := Open("relative/dir"); err == nil {
		t.Error("Open(relative) succeeded, want an error")
	}
}

// Two handles on one directory stand for two plugin processes.
func TestTwoHandlesSeeEachOther(t *testing.T) {
	a := newCloud(t)
	b, err := Open(a.Dir())
	if err != nil {
		t.Fatal(err)
	}
	id, _ := create(t, NewAzureProvider(a), tokRG, "rg", pm(map[string]any{"location": "japaneast"}))
	if got := resources(t, b); len(got) != 1 || got[0].ID != id {
		t.Fatalf("other handle sees %v, want %s", got, id)
	}
	if err := b.DeleteOutOfBand(id); err != nil {
		t.Fatal(err)
	}
	if got := resources(t, a); len(got) != 0 {
		t.Errorf("first handle still sees %v after the other deleted it", got)
	}
}

// Concurrent writers through separate handles lose nothing.
func TestConcurrentCreatesLoseNothing(t *testing.T) {
	dir := newCloud(t).Dir()
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Open(dir)
			if err != nil {
				errs <- err
				return
			}
			p := NewAzureProvider(c)
			name := fmt.Sprintf("rg-%d", i)
			_, err = p.Create(context.Background(), &pulumirpc.CreateRequest{
				Urn: urnOf(tokRG, name), Type: tokRG,
				Properties: wireOf(t, pm(map[string]any{"resourceGroupName": name, "location": "japaneast"})),
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, _ := Open(dir)
	if got := len(resources(t, c)); got != n {
		t.Errorf("cloud holds %d resource groups, want %d", got, n)
	}
	if got := len(ops(t, c, OpCreate)); got != n {
		t.Errorf("log holds %d creates, want %d", got, n)
	}
}

func TestLatencyAndCreatingState(t *testing.T) {
	c := newCloud(t)
	if err := c.SetLatency(Latency{Scale: time.Millisecond, Create: map[string]float64{KindResourceGroup: 300}}); err != nil {
		t.Fatal(err)
	}
	p := NewAzureProvider(c)
	ins := check(t, p, tokRG, "rg", pm(map[string]any{"location": "japaneast"}))
	done := make(chan error, 1)
	go func() {
		_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urnOf(tokRG, "rg"), Type: tokRG, Properties: wireOf(t, ins)})
		done <- err
	}()

	// While the create runs, the cloud (and a Read) says Creating.
	var seen Resource
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if rs := resources(t, c); len(rs) == 1 {
			seen = rs[0]
			break
		}
	}
	if seen.ProvisioningState != StateCreating {
		t.Fatalf("during create: state %q, want %q", seen.ProvisioningState, StateCreating)
	}
	read, err := p.Read(context.Background(), &pulumirpc.ReadRequest{Id: seen.ID, Urn: urnOf(tokRG, "rg"), Type: tokRG})
	if err != nil {
		t.Fatal(err)
	}
	props := propsOf(t, read.Properties)["properties"].ObjectValue()
	if got := propStr(props, "provisioningState"); got != StateCreating {
		t.Errorf("Read during create: provisioningState %q, want %q", got, StateCreating)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	op := ops(t, c, OpCreate)[0]
	if got := op.End.Sub(op.Start); got < 300*time.Millisecond {
		t.Errorf("create took %v, want at least the 300ms latency", got)
	}
	if rs := resources(t, c); rs[0].ProvisioningState != StateSucceeded || rs[0].ReadyAt.Sub(rs[0].CreatedAt) != 300*time.Millisecond {
		t.Errorf("after create: %s, ready %v after creation; want Succeeded, 300ms", rs[0].ProvisioningState, rs[0].ReadyAt.Sub(rs[0].CreatedAt))
	}
}

// A create whose request dies (the CLI was killed) goes on in ARM.
func TestInterruptedCreateCompletesInTheCloud(t *testing.T) {
	c := newCloud(t)
	if err := c.SetLatency(Latency{Scale: time.Millisecond, Create: map[string]float64{KindResourceGroup: 200}}); err != nil {
		t.Fatal(err)
	}
	p := NewAzureProvider(c)
	ins := check(t, p, tokRG, "rg", pm(map[string]any{"location": "japaneast"}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: urnOf(tokRG, "rg"), Type: tokRG, Properties: wireOf(t, ins)}); err == nil {
		t.Fatal("Create with a cancelled request succeeded")
	}
	if rs := resources(t, c); len(rs) != 1 || rs[0].ProvisioningState != StateCreating {
		t.Fatalf("right after the interrupted create: %+v, want one Creating resource", rs)
	}
	time.Sleep(time.Until(resources(t, c)[0].ReadyAt) + 10*time.Millisecond)
	if rs := resources(t, c); rs[0].ProvisioningState != StateSucceeded {
		t.Errorf("after ReadyAt: state %q, want Succeeded", rs[0].ProvisioningState)
	}
	if got := ops(t, c, OpCreate); len(got) != 1 || got[0].Err == "" {
		t.Errorf("logged creates = %+v, want one that failed", got)
	}
}

func TestLatencyFractions(t *testing.T) {
	l := Latency{Scale: time.Second, Create: map[string]float64{KindCluster: 400}}
	tests := []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"create", l.CreateTime(KindCluster), 400 * time.Second},
		{"update", l.UpdateTime(KindCluster), 100 * time.Second},
		{"delete", l.DeleteTime(KindCluster), 100 * time.Second},
		{"missing kind", l.CreateTime(KindRegistry), 0},
		{"zero scale", Latency{Create: l.Create}.CreateTime(KindCluster), 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestPlainKeepsSecretValues(t *testing.T) {
	m := resource.PropertyMap{"password": resource.MakeSecret(resource.NewProperty("s3cret"))}
	if got := plainMap(m)["password"]; got != "s3cret" {
		t.Errorf("plain secret = %v, want its value (the cloud holds the real thing)", got)
	}
}
