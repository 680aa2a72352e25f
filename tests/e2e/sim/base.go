// base.go: what both simulated providers share: plugin info, configuration, cancellation, latency and logging.

package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// base implements the provider RPCs that do not depend on the resource types.
type base struct {
	pulumirpc.UnimplementedResourceProviderServer

	cloud    *Cloud
	provider string // ProviderAzure or ProviderDocker
	version  string

	// stop is cancelled by the engine's Cancel RPC: every wait ends with it.
	stop    context.Context
	stopAll context.CancelFunc
}

func newBase(c *Cloud, provider, version string) base {
	stop, stopAll := context.WithCancel(context.Background())
	return base{cloud: c, provider: provider, version: version, stop: stop, stopAll: stopAll}
}

// GetPluginInfo returns the provider's version.
func (b *base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: b.version}, nil
}

// GetSchema returns a schema with no types: a Go program needs none at run time.
func (b *base) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":%q,"version":%q}`, b.provider, b.version)}, nil
}

// CheckConfig accepts any configuration.
func (b *base) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// DiffConfig reports no change: no configuration change replaces the provider.
func (b *base) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// configured returns the capabilities both providers have, those of the real ones.
func configured() *pulumirpc.ConfigureResponse {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}
}

// Cancel ends every operation waiting on its latency, as the engine asks when it
// is interrupted or done with the provider.
func (b *base) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	b.stopAll()
	return &emptypb.Empty{}, nil
}

// wait sleeps d, the simulated duration of an operation, unless the request is
// cancelled, the engine cancels, or the operation's timeout (seconds, 0 = none)
// passes first. The cloud lock is never held here.
func (b *base) wait(ctx context.Context, d time.Duration, timeout float64) error {
	if d <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(b.stop, cancel)()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(time.Duration(timeout * float64(time.Second)))
		defer t.Stop()
		deadline = t.C
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-deadline:
		return fmt.Errorf("operation did not complete within its timeout of %s", time.Duration(timeout*float64(time.Second)))
	case <-ctx.Done():
		return fmt.Errorf("operation interrupted: %w", ctx.Err())
	}
}

// newOp starts an operation record.
func (b *base) newOp(kind, token, urn string, preview bool) *Operation {
	return &Operation{Provider: b.provider, Kind: kind, Token: token, URN: urn, Preview: preview, Start: time.Now()}
}

// finish logs op, ended now with err, and returns err. A failure to log is
// returned only when the operation itself succeeded.
func (b *base) finish(op *Operation, err error) error {
	op.End = time.Now()
	if err != nil {
		op.Err = err.Error()
	}
	if lerr := b.cloud.logOp(*op); lerr != nil && err == nil {
		return fmt.Errorf("logging %s operation: %w", op.Kind, lerr)
	}
	return err
}

// tokenOf returns the resource type of a request: its type field, else its URN's.
func tokenOf(typ, urn string) string {
	if typ != "" {
		return typ
	}
	return string(resource.URN(urn).Type())
}
