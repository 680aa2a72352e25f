// Package e2e rehearses the whole stack offline under the real Pulumi engine:
// the real `pulumi` CLI (built from the module proxy) runs the program through the
// Go Automation API with the real pulumi-kubernetes provider against a real
// Kubernetes control plane whose nodes are kwok's. Only Azure and Docker are
// simulated, at the provider boundary (package sim), together with the parts of
// Azure a provider does not see: ACR's token exchange (stacktest.FakeRegistry)
// and a node's image pull (PullGate).
//
// The program under test is passed in by the caller (the repository's package
// main, whose run function cannot be imported): see Rehearse.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
	"github.com/guestbook-aks/guestbook/tests/stacktest"
	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// Harness is one rehearsal's world: the tools, the simulated cloud and cluster,
// the fake registry endpoint, and a Pulumi workspace holding a copy of the
// repository's project files.
type Harness struct {
	Tools    Tools
	Cluster  *Cluster
	Cloud    *sim.Cloud
	Registry *stacktest.FakeRegistry
	Pulls    *PullGate
	// Front is where the simulated AKS's credentials point the stack's
	// Kubernetes provider: each cluster's API server endpoint, authorizing as
	// AKS does, in front of the one real control plane.
	Front *Front
	// GitHub is the GitHub Actions ID token service a CI-like run gets its
	// federated tokens from.
	GitHub *GitHubOIDC
	// WorkDir is the project directory the CLI runs in: Pulumi.yaml and the stack
	// files copied from the repository, app/ linked to it (the image's context).
	WorkDir string
	// StateDir is the file backend's directory.
	StateDir string

	program   pulumi.RunFunc
	grantWait time.Duration
	env       map[string]string
	home      string
	cmd       auto.PulumiCommand
	outDir    string
	logf      func(string, ...any)

	mu  sync.Mutex
	seq int
}

// Options configure a Harness.
type Options struct {
	// Repo is the repository's root.
	Repo string
	// Dir holds everything the rehearsal writes (state, logs, the cloud).
	Dir string
	// Program is the Pulumi program under test.
	Program pulumi.RunFunc
	// Latency is the simulated cloud's, propagation and replication included.
	Latency sim.Latency
	// PodStartDelay is a pod's wall time from pulled images to Ready.
	PodStartDelay time.Duration
	// GrantWait is guestbook:grantPropagation for every stack, in wall time: the
	// program's default, scaled like the cloud's times.
	GrantWait time.Duration
	// OutDir, if set, receives each command's engine events (E2E_OUT).
	OutDir string
	Logf   func(string, ...any)
}

// Start builds the tools and starts the world; stop tears it down.
func Start(ctx context.Context, opts Options) (h *Harness, stop func() error, err error) {
	var stops stoppers
	stop = stops.stop
	defer func() {
		if err != nil {
			_ = stop()
		}
	}()
	h = &Harness{program: opts.Program, grantWait: opts.GrantWait, outDir: opts.OutDir, logf: opts.Logf}

	if h.Tools, err = BuildTools(ctx, opts.Repo, filepath.Join(opts.Repo, "bin", "e2e"), opts.Logf); err != nil {
		return nil, stop, err
	}
	cluster, stopCluster, err := StartCluster(ctx, h.Tools, filepath.Join(opts.Dir, "cluster"), ClusterOptions{PodStartDelay: opts.PodStartDelay}, opts.Logf)
	if err != nil {
		return nil, stop, err
	}
	h.Cluster = cluster
	stops.add(stopCluster)

	cloudDir := filepath.Join(opts.Dir, "cloud")
	if h.Cloud, err = sim.Open(cloudDir); err != nil {
		return nil, stop, err
	}
	if h.Front, err = NewFront(h.Cloud, cluster.Kube.URL, cluster.CAFile, cluster.Kube.Token); err != nil {
		return nil, stop, err
	}
	stops.add(h.Front.Close)
	if err := h.Cloud.SetKubeconfig(h.Front.Kubeconfig()); err != nil {
		return nil, stop, err
	}
	if err := h.Cloud.SetLatency(opts.Latency); err != nil {
		return nil, stop, err
	}
	// A person's `az login`, as the deploying identity: it stays signed in.
	// A CI-like run signs in with a federated token instead (SignInAsCI).
	if err := h.Cloud.SetSettings(sim.Settings{SignIn: sim.SignIn{Principal: tenant.DeployerObjectID, At: time.Now()}}); err != nil {
		return nil, stop, err
	}
	if h.GitHub, err = StartGitHubOIDC(); err != nil {
		return nil, stop, err
	}
	stops.add(h.GitHub.Close)

	// The program runs in this process (an inline program), so this process's
	// environment routes its token exchange to the fake registry. It must be set
	// before the first HTTPS request: Go reads the proxy and the CA file once.
	if h.Registry, err = stacktest.StartFakeRegistry(opts.Dir); err != nil {
		return nil, stop, err
	}
	stops.add(func() error { h.Registry.Close(); return nil })
	h.StateDir = filepath.Join(opts.Dir, "state")
	h.env = map[string]string{
		"PULUMI_BACKEND_URL":                          "file://" + h.StateDir,
		"PULUMI_CONFIG_PASSPHRASE":                    "rehearsal",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_SKIP_CONFIRMATIONS":                   "true",
		"PATH":                                        h.Tools.BinDir() + string(os.PathListSeparator) + os.Getenv("PATH"),
		sim.EnvDir:                                    cloudDir,
	}
	for _, kv := range h.Registry.Env {
		k, v, _ := strings.Cut(kv, "=")
		h.env[k] = v
		if err := os.Setenv(k, v); err != nil {
			return nil, stop, err
		}
	}
	if err := os.MkdirAll(h.StateDir, 0o700); err != nil {
		return nil, stop, err
	}

	h.Pulls = NewPullGate(h.Cloud, cluster.Kube, h.Front, opts.Latency.Scale)
	gateCtx, cancelGate := context.WithCancel(context.Background())
	gateDone := make(chan struct{})
	go func() { h.Pulls.Run(gateCtx, opts.Logf); close(gateDone) }()
	stops.add(func() error { cancelGate(); <-gateDone; return nil })
	pools := &NodePools{cloud: h.Cloud, kube: cluster.Kube}
	poolsCtx, cancelPools := context.WithCancel(context.Background())
	poolsDone := make(chan struct{})
	go func() { pools.Run(poolsCtx, opts.Logf); close(poolsDone) }()
	stops.add(func() error { cancelPools(); <-poolsDone; return nil })

	h.home = filepath.Join(opts.Dir, "pulumi-home")
	if h.WorkDir, err = projectCopy(opts.Repo, filepath.Join(opts.Dir, "project")); err != nil {
		return nil, stop, err
	}
	if h.cmd, err = auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: h.Tools.Root, SkipVersionCheck: true}); err != nil {
		return nil, stop, err
	}
	if h.outDir != "" {
		if err := os.MkdirAll(h.outDir, 0o755); err != nil {
			return nil, stop, err
		}
	}
	return h, stop, nil
}

// projectCopy makes a project directory holding copies of the repository's
// Pulumi.yaml and stack files, so the CLI's own config handling runs on them,
// and a link to app/, where the image's build context is.
func projectCopy(repo, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files, err := filepath.Glob(filepath.Join(repo, "Pulumi*.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, os.Symlink(filepath.Join(repo, "app"), filepath.Join(dir, "app"))
}

// Stack selects or creates stack name in the project, running program (nil: the
// harness's program).
func (h *Harness) Stack(ctx context.Context, name string, program pulumi.RunFunc) (auto.Stack, error) {
	if program == nil {
		program = h.program
	}
	ws, err := auto.NewLocalWorkspace(ctx,
		auto.WorkDir(h.WorkDir),
		auto.Program(program),
		auto.PulumiHome(h.home),
		auto.Pulumi(h.cmd),
		auto.EnvVars(h.env),
	)
	if err != nil {
		return auto.Stack{}, err
	}
	st, err := auto.UpsertStack(ctx, name, ws)
	if err != nil {
		return st, err
	}
	// What Pulumi.<stack>.yaml tells every user to do first: name the deploying
	// identity (here the simulated Azure CLI login) as a cluster admin.
	for key, value := range map[string]string{
		"clusterAdmins[0].objectId": tenant.DeployerObjectID,
		"clusterAdmins[0].type":     sim.Directory[tenant.DeployerObjectID],
	} {
		if err := st.SetConfigWithOptions(ctx, key, auto.ConfigValue{Value: value}, &auto.ConfigOptions{Path: true}); err != nil {
			return st, fmt.Errorf("pulumi config set --path %s: %w", key, err)
		}
	}
	// The program's wait for a new grant, in the rehearsal's time.
	if err := st.SetConfig(ctx, "grantPropagation", auto.ConfigValue{Value: h.grantWait.String()}); err != nil {
		return st, fmt.Errorf("pulumi config set grantPropagation: %w", err)
	}
	return st, nil
}

// CLI runs the pulumi CLI itself in the project directory, with the workspace's
// environment: for what a user types that the automation API does differently
// (its stack export shows secrets) or not at all.
func (h *Harness) CLI(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, h.Tools.Pulumi, append(args, "--non-interactive")...)
	cmd.Dir = h.WorkDir
	cmd.Env = os.Environ()
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PULUMI_HOME="+h.home)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("pulumi %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// Event is an engine event and when this process received it.
type Event struct {
	events.EngineEvent
	Received time.Time
}

// Result is what one CLI command did.
type Result struct {
	Command        string
	Events         []Event
	Stdout, Stderr string
	Err            error
	Outputs        auto.OutputMap
	Start, End     time.Time
}

// Steps returns the URN of every resource step of kind op ("create", "update",
// "replace", "delete", "same", ...), from the engine's own events.
func (r Result) Steps(op apitype.OpType) []string {
	var urns []string
	for _, e := range r.Events {
		if e.ResourcePreEvent != nil && e.ResourcePreEvent.Metadata.Op == op {
			urns = append(urns, e.ResourcePreEvent.Metadata.URN)
		}
	}
	return urns
}

// Changes returns the resource steps other than "same", as "op type name".
func (r Result) Changes() []string {
	var out []string
	for _, e := range r.Events {
		if pre := e.ResourcePreEvent; pre != nil && pre.Metadata.Op != apitype.OpSame && pre.Metadata.Op != apitype.OpRead {
			out = append(out, string(pre.Metadata.Op)+" "+shortURN(pre.Metadata.URN))
		}
	}
	return out
}

// Diagnostics returns the engine's error and warning messages.
func (r Result) Diagnostics() string {
	var b strings.Builder
	for _, e := range r.Events {
		if d := e.DiagnosticEvent; d != nil && (d.Severity == "error" || d.Severity == "warning") {
			fmt.Fprintf(&b, "%s: %s %s\n", d.Severity, shortURN(d.URN), strings.TrimSpace(d.Message))
		}
	}
	return b.String()
}

// Info returns the engine's info messages, the program's ctx.Log.Info among them.
func (r Result) Info() string {
	var b strings.Builder
	for _, e := range r.Events {
		if d := e.DiagnosticEvent; d != nil && strings.HasPrefix(d.Severity, "info") {
			fmt.Fprintf(&b, "%s %s\n", shortURN(d.URN), strings.TrimSpace(d.Message))
		}
	}
	return b.String()
}

// Why says what went wrong during r, from every side the rehearsal sees: the
// engine's errors and warnings, the pulls the registry refused (with the kubelet's
// reason), the requests the clusters' API servers refused, and the operations
// Azure failed.
func (h *Harness) Why(r Result) string {
	var b strings.Builder
	b.WriteString(r.Diagnostics())
	// The kubelet retries; one line per pod and reason, with how often.
	seen, order := map[string]int{}, []string(nil)
	for _, a := range h.Pulls.Refused(r.Start) {
		line := fmt.Sprintf("refused pull: pod %s, image %s: %s", a.Pod, a.Image, a.Reason)
		if seen[line] == 0 {
			order = append(order, line)
		}
		seen[line]++
	}
	for _, line := range order {
		fmt.Fprintf(&b, "%s (%d times)\n", line, seen[line])
	}
	for _, q := range h.Front.Refused(r.Start) {
		fmt.Fprintf(&b, "refused by the API server of %s: %s %s as %s: %s\n", q.ClusterID, q.Method, q.Path, q.Principal, q.Reason)
	}
	if ops, err := h.Cloud.Operations(); err == nil {
		for _, op := range ops {
			if op.Err != "" && !op.Start.Before(r.Start) {
				fmt.Fprintf(&b, "Azure refused %s %s %s: %s\n", op.Kind, op.Token, op.Name, op.Err)
			}
		}
	}
	return b.String()
}

// shortURN is "Type name" of a URN, the type without its package and module
// ("ManagedCluster guestbook-aks"): what a reader recognises.
func shortURN(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return urn
	}
	types := strings.Split(parts[2], "$")
	typ := types[len(types)-1]
	if strings.HasPrefix(typ, "pulumi:providers:") {
		return typ + " " + parts[3]
	}
	return typ[strings.LastIndex(typ, ":")+1:] + " " + parts[3]
}

// collector gathers a command's events as they arrive.
type collector struct {
	ch     chan events.EngineEvent
	done   chan struct{}
	events []Event
}

func newCollector() *collector {
	c := &collector{ch: make(chan events.EngineEvent), done: make(chan struct{})}
	go func() {
		for e := range c.ch {
			c.events = append(c.events, Event{EngineEvent: e, Received: time.Now()})
		}
		close(c.done)
	}()
	return c
}

// wait returns the events once the command has closed the channel; a command
// that failed before streaming may never open it, hence the bound.
func (c *collector) wait() []Event {
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
	return c.events
}

// Preview runs `pulumi preview`.
func (h *Harness) Preview(ctx context.Context, st auto.Stack, label string, opts ...optpreview.Option) Result {
	return h.command(st, "preview", label, func(ch chan<- events.EngineEvent, r *Result) error {
		res, err := st.Preview(ctx, append(opts, optpreview.EventStreams(ch))...)
		r.Stdout, r.Stderr = res.StdOut, res.StdErr
		return err
	})
}

// Up runs `pulumi up`.
func (h *Harness) Up(ctx context.Context, st auto.Stack, label string, opts ...optup.Option) Result {
	return h.command(st, "up", label, func(ch chan<- events.EngineEvent, r *Result) error {
		res, err := st.Up(ctx, append(opts, optup.EventStreams(ch))...)
		r.Stdout, r.Stderr, r.Outputs = res.StdOut, res.StdErr, res.Outputs
		return err
	})
}

// Refresh runs `pulumi refresh`.
func (h *Harness) Refresh(ctx context.Context, st auto.Stack, label string, opts ...optrefresh.Option) Result {
	return h.command(st, "refresh", label, func(ch chan<- events.EngineEvent, r *Result) error {
		res, err := st.Refresh(ctx, append(opts, optrefresh.EventStreams(ch))...)
		r.Stdout, r.Stderr = res.StdOut, res.StdErr
		return err
	})
}

// Destroy runs `pulumi destroy`.
func (h *Harness) Destroy(ctx context.Context, st auto.Stack, label string, opts ...optdestroy.Option) Result {
	return h.command(st, "destroy", label, func(ch chan<- events.EngineEvent, r *Result) error {
		res, err := st.Destroy(ctx, append(opts, optdestroy.EventStreams(ch))...)
		r.Stdout, r.Stderr = res.StdOut, res.StdErr
		return err
	})
}

// command runs one CLI command through run, collecting its engine events.
func (h *Harness) command(st auto.Stack, command, label string, run func(chan<- events.EngineEvent, *Result) error) Result {
	c := newCollector()
	r := Result{Command: command, Start: time.Now()}
	r.Err = run(c.ch, &r)
	r.End = time.Now()
	return h.finish(st, label, r, c, r.Err)
}

// finish completes r with its events and, with E2E_OUT, writes them there as
// JSON lines, the format of the CLI's --event-log.
func (h *Harness) finish(st auto.Stack, label string, r Result, c *collector, err error) Result {
	if err != nil {
		// The automation API's error carries the CLI's stdout and stderr.
		r.Stderr = err.Error()
	}
	r.Events = c.wait()
	if h.outDir == "" {
		return r
	}
	h.mu.Lock()
	h.seq++
	name := fmt.Sprintf("%02d-%s-%s-%s.json", h.seq, st.Name(), r.Command, label)
	h.mu.Unlock()
	f, ferr := os.Create(filepath.Join(h.outDir, name))
	if ferr != nil {
		h.logf("E2E_OUT: %v", ferr)
		return r
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, e := range r.Events {
		if err := enc.Encode(e.EngineEvent); err != nil {
			h.logf("E2E_OUT: %v", err)
			return r
		}
	}
	return r
}
