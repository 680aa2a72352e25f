// engine.go: a Pulumi engine in miniature. It serves the resource monitor and engine
// gRPC services a Pulumi program talks to, answering through Mocks, so the real
// compiled program can run as `pulumi up` or `pulumi preview` would run it, with no
// CLI, no cloud and unknown values carried the way the real engine carries them.

package stacktest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// LogEntry is one message the program logged through the engine.
type LogEntry struct {
	Severity pulumirpc.LogSeverity
	URN      string
	Message  string
}

// Engine serves one program run. Start it with StartEngine, run a program with
// RunInProcess, then read what it saw.
type Engine struct {
	pulumirpc.UnimplementedResourceMonitorServer

	mocks    *Mocks
	listener net.Listener
	server   *grpc.Server

	mu       sync.Mutex
	logs     []LogEntry
	outputs  map[string]resource.PropertyMap
	stackURN string
	root     string
}

// StartEngine starts an engine on a loopback port answering through mocks.
func StartEngine(mocks *Mocks) (*Engine, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the program: %w", err)
	}
	e := &Engine{mocks: mocks, listener: lis, server: grpc.NewServer(), outputs: map[string]resource.PropertyMap{}}
	pulumirpc.RegisterResourceMonitorServer(e.server, e)
	pulumirpc.RegisterEngineServer(e.server, &engineService{e: e})
	go func() { _ = e.server.Serve(lis) }()
	return e, nil
}

// Close stops the engine.
func (e *Engine) Close() { e.server.Stop() }

// Addr is the address the program connects to.
func (e *Engine) Addr() string { return e.listener.Addr().String() }

// Graph returns what the program registered.
func (e *Engine) Graph() *Graph { return e.mocks.Graph() }

// Logs returns what the program logged.
func (e *Engine) Logs() []LogEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.logs)
}

// StackOutputs returns the stack's exports, secrets still wrapped.
func (e *Engine) StackOutputs() resource.PropertyMap {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.outputs[e.stackURN]
}

// RunInProcess runs program in this process against the engine, as RunErr would in
// a real deployment. Unlike pulumi.WithMocks it carries unknown values, secret ones
// included, so it can run a preview.
func (e *Engine) RunInProcess(program pulumi.RunFunc, config map[string]string) error {
	return pulumi.RunErr(program, func(ri *pulumi.RunInfo) {
		ri.Project, ri.Stack = e.mocks.Project, e.mocks.Stack
		ri.MonitorAddr, ri.EngineAddr = e.Addr(), e.Addr()
		ri.DryRun = e.mocks.DryRun
		ri.Config = config
	})
}

var wireOptions = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

// features are what this engine supports, as the SDK's own mock monitor: notably not
// outputValues, so inputs arrive as plain, secret or unknown values.
var features = []pulumirpc.ResourceMonitorFeature{
	pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_SECRETS,
	pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
	pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
	pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_DELETED_WITH,
}

func (e *Engine) GetDeploymentInfo(context.Context, *emptypb.Empty) (*pulumirpc.DeploymentInfo, error) {
	return &pulumirpc.DeploymentInfo{Project: e.mocks.Project, Stack: e.mocks.Stack, SupportedFeatures: features}, nil
}

func (e *Engine) SupportsFeature(_ context.Context, req *pulumirpc.SupportsFeatureRequest) (*pulumirpc.SupportsFeatureResponse, error) {
	supported := map[string]bool{"secrets": true, "resourceReferences": true, "aliasSpecs": true, "deletedWith": true}
	return &pulumirpc.SupportsFeatureResponse{HasSupport: supported[req.GetId()]}, nil
}

func (e *Engine) Invoke(_ context.Context, req *pulumirpc.ResourceInvokeRequest) (*pulumirpc.ResourceInvokeResponse, error) {
	args, err := plugin.UnmarshalProperties(req.GetArgs(), wireOptions)
	if err != nil {
		return nil, err
	}
	out, err := e.mocks.Call(pulumi.MockCallArgs{Token: req.GetTok(), Args: args, Provider: req.GetProvider()})
	if err != nil {
		// The real engine reports a provider's invoke failure as a failure.
		return &pulumirpc.ResourceInvokeResponse{Failures: []*pulumirpc.CheckFailure{{Reason: err.Error()}}}, nil
	}
	ret, err := plugin.MarshalProperties(out, wireOptions)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ResourceInvokeResponse{Return: ret}, nil
}

func (e *Engine) RegisterResource(_ context.Context, req *pulumirpc.RegisterResourceRequest) (*pulumirpc.RegisterResourceResponse, error) {
	if req.GetType() == string(resource.RootStackType) && req.GetParent() == "" {
		urn := URN(e.mocks.Stack, e.mocks.Project, "", req.GetType(), req.GetName())
		e.mu.Lock()
		e.stackURN = urn
		e.mu.Unlock()
		return &pulumirpc.RegisterResourceResponse{Urn: urn}, nil
	}
	inputs, err := plugin.UnmarshalProperties(req.GetObject(), wireOptions)
	if err != nil {
		return nil, err
	}
	id, state, err := e.mocks.NewResource(pulumi.MockResourceArgs{
		TypeToken:   req.GetType(),
		Name:        req.GetName(),
		Inputs:      inputs,
		Provider:    req.GetProvider(),
		ID:          req.GetImportId(),
		Custom:      req.GetCustom(),
		RegisterRPC: req,
	})
	if err != nil {
		return nil, err
	}
	obj, err := plugin.MarshalProperties(state, wireOptions)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.RegisterResourceResponse{
		Urn:    URN(e.mocks.Stack, e.mocks.Project, req.GetParent(), req.GetType(), req.GetName()),
		Id:     id,
		Object: obj,
	}, nil
}

func (e *Engine) RegisterResourceOutputs(_ context.Context, req *pulumirpc.RegisterResourceOutputsRequest) (*emptypb.Empty, error) {
	outs, err := plugin.UnmarshalProperties(req.GetOutputs(), wireOptions)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.outputs[req.GetUrn()] = outs
	e.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (e *Engine) ReadResource(context.Context, *pulumirpc.ReadResourceRequest) (*pulumirpc.ReadResourceResponse, error) {
	return nil, status.Error(codes.Unimplemented, "the stack reads no existing resources; a Get/ReadResource is unexpected")
}

func (e *Engine) SignalAndWaitForShutdown(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// engineService is the Engine gRPC service: logs and the root resource.
type engineService struct {
	pulumirpc.UnimplementedEngineServer
	e *Engine
}

func (s *engineService) Log(_ context.Context, req *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	s.e.mu.Lock()
	s.e.logs = append(s.e.logs, LogEntry{Severity: req.GetSeverity(), URN: req.GetUrn(), Message: req.GetMessage()})
	s.e.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (s *engineService) GetRootResource(context.Context, *pulumirpc.GetRootResourceRequest) (*pulumirpc.GetRootResourceResponse, error) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return &pulumirpc.GetRootResourceResponse{Urn: s.e.root}, nil
}

func (s *engineService) SetRootResource(_ context.Context, req *pulumirpc.SetRootResourceRequest) (*pulumirpc.SetRootResourceResponse, error) {
	s.e.mu.Lock()
	s.e.root = req.GetUrn()
	s.e.mu.Unlock()
	return &pulumirpc.SetRootResourceResponse{}, nil
}

func (s *engineService) RequirePulumiVersion(context.Context, *pulumirpc.RequirePulumiVersionRequest) (*pulumirpc.RequirePulumiVersionResponse, error) {
	return &pulumirpc.RequirePulumiVersionResponse{}, nil
}

// Run runs program in this process under mocks and returns what it registered. An
// update goes through pulumi.WithMocks; a preview goes through an Engine, because
// the SDK's mock monitor cannot carry an unknown value inside a secret (it fails
// with "malformed RPC secret"), and a first preview of this stack has several.
func Run(program pulumi.RunFunc, mocks *Mocks) (*Graph, error) {
	if !mocks.DryRun {
		err := pulumi.RunErr(program, pulumi.WithMocks(mocks.Project, mocks.Stack, mocks))
		return mocks.Graph(), err
	}
	e, err := StartEngine(mocks)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	err = e.RunInProcess(program, nil)
	return mocks.Graph(), err
}
