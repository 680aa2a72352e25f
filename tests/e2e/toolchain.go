// tools.go: the programs the rehearsal runs, built from the Go module proxy.

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
	"golang.org/x/sync/errgroup"
)

// Tools are the rehearsal's executables, all in one directory that goes on the
// CLI's $PATH: that is how the engine finds the provider plugins (it never
// downloads one: PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION is set).
type Tools struct {
	// Root holds bin/, the layout auto.NewPulumiCommand expects.
	Root string
	// Pulumi is the real CLI.
	Pulumi string
	// ControlPlane is tests/apiserver: etcd, kube-apiserver, controller manager, scheduler.
	ControlPlane string
	// Kwok plays the nodes' kubelets; KwokStages is its module's kustomize/stage
	// directory, where kwok v0.8.0 keeps the node, pod and volume stages.
	Kwok, KwokStages string
	// PulumiVersion is the CLI's version; KubernetesVersion is the Kubernetes SDK
	// version the program asks the engine for, and KubernetesProviderVersion the
	// provider code's (the only one the module proxy serves: see tools/kubernetes).
	PulumiVersion, KubernetesVersion, KubernetesProviderVersion string
}

// BinDir is where the CLI and the plugins are.
func (t Tools) BinDir() string { return filepath.Join(t.Root, "bin") }

// tool is one executable and how to build it.
type tool struct {
	name string
	// dir is the module directory the build runs in, relative to the repository.
	dir string
	// pkg is the package to build, relative to dir or a module path.
	pkg     string
	ldflags string
	// prepare runs before the build (the provider's embedded schema).
	prepare func(ctx context.Context, moduleDir string) error
}

// BuildTools builds every tool into root/bin. `go build` relinks only what
// changed, so a warm call costs seconds; a cold one is dominated by compiling the
// CLI and the Kubernetes provider (~10 minutes each on 2 cores, alone).
func BuildTools(ctx context.Context, repo, root string, logf func(string, ...any)) (Tools, error) {
	pulumiVersion, err := requiredVersion(filepath.Join(repo, "tests/e2e/tools/pulumi/go.mod"), "github.com/pulumi/pulumi/pkg/v3")
	if err != nil {
		return Tools{}, err
	}
	k8sVersion, err := requiredVersion(filepath.Join(repo, "go.mod"), "github.com/pulumi/pulumi-kubernetes/sdk/v4")
	if err != nil {
		return Tools{}, err
	}
	k8sProviderVersion, err := requiredVersion(filepath.Join(repo, "tests/e2e/tools/kubernetes/go.mod"), "github.com/pulumi/pulumi-kubernetes/provider/v4")
	if err != nil {
		return Tools{}, err
	}
	kubeVersion, err := requiredVersion(filepath.Join(repo, "tests/apiserver/go.mod"), "k8s.io/kubernetes")
	if err != nil {
		return Tools{}, err
	}
	tools := []tool{
		{name: "pulumi", dir: "tests/e2e/tools/pulumi", pkg: "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
			ldflags: "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=" + pulumiVersion},
		{name: "pulumi-resource-kubernetes", dir: "tests/e2e/tools/kubernetes", pkg: ".",
			ldflags: "-X main.version=" + strings.TrimPrefix(k8sProviderVersion, "v"), prepare: embedKubernetesSchema},
		{name: "pulumi-resource-azure-native", dir: ".", pkg: "./tests/e2e/sim/cmd/pulumi-resource-azure-native"},
		{name: "pulumi-resource-docker", dir: ".", pkg: "./tests/e2e/sim/cmd/pulumi-resource-docker"},
		{name: "kubelogin", dir: ".", pkg: "./tests/e2e/sim/cmd/kubelogin"},
		{name: "kube-control-plane", dir: "tests/apiserver", pkg: ".",
			ldflags: "-X k8s.io/component-base/version.gitVersion=" + kubeVersion + " -X k8s.io/component-base/version.gitTreeState=clean"},
		{name: "kwok", dir: "tests/e2e/tools/kwok", pkg: "sigs.k8s.io/kwok/cmd/kwok"},
	}
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return Tools{}, err
	}
	// The real path: the rehearsal finds its CLI and plugins among the running
	// processes by /proc/<pid>/exe, which names no symlink (the mutation check's
	// copy of the repository links bin/ to the checkout's).
	if root, err = filepath.EvalSymlinks(root); err != nil {
		return Tools{}, err
	}
	bin = filepath.Join(root, "bin")
	// Two builds at a time: one go build leaves a core idle while it links or
	// waits on a long chain of packages, and the CLI and the provider (first in
	// the list, the two longest) share almost no compiled package, so running
	// them side by side fills those gaps without doing any work twice.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for _, tl := range tools {
		g.Go(func() error {
			start := time.Now()
			moduleDir := filepath.Join(repo, tl.dir)
			if tl.prepare != nil {
				if err := tl.prepare(gctx, moduleDir); err != nil {
					return fmt.Errorf("preparing %s: %w", tl.name, err)
				}
			}
			// -w: no DWARF. Nothing debugs these binaries, and without it the
			// provider's 440 MB link takes 35 s instead of 60.
			args := []string{"build", "-o", filepath.Join(bin, tl.name), "-ldflags", strings.TrimSpace("-w " + tl.ldflags), tl.pkg}
			if out, err := goCmd(gctx, moduleDir, args...); err != nil {
				return fmt.Errorf("building %s (go %s in %s): %w\n%s", tl.name, strings.Join(args, " "), tl.dir, err, out)
			}
			logf("built %-30s %6s", tl.name, time.Since(start).Round(100*time.Millisecond))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Tools{}, err
	}
	kwokDir, err := goCmd(ctx, filepath.Join(repo, "tests/e2e/tools/kwok"), "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok")
	if err != nil {
		return Tools{}, fmt.Errorf("locating the kwok module: %w\n%s", err, kwokDir)
	}
	return Tools{
		Root:                      root,
		KwokStages:                filepath.Join(strings.TrimSpace(string(kwokDir)), "kustomize", "stage"),
		Pulumi:                    filepath.Join(bin, "pulumi"),
		ControlPlane:              filepath.Join(bin, "kube-control-plane"),
		Kwok:                      filepath.Join(bin, "kwok"),
		PulumiVersion:             strings.TrimPrefix(pulumiVersion, "v"),
		KubernetesVersion:         strings.TrimPrefix(k8sVersion, "v"),
		KubernetesProviderVersion: strings.TrimPrefix(k8sProviderVersion, "v"),
	}, nil
}

// embedKubernetesSchema copies the provider module's schema and mapping to the
// names the provider command embeds. The provider's repository generates them in
// its release build; the module ships the sources they are made from.
func embedKubernetesSchema(ctx context.Context, moduleDir string) error {
	// `go mod download`, not `go list -m`: this runs before the build, and on an
	// empty module cache `go list -m` names no directory for a module not yet
	// downloaded.
	out, err := goCmdStdout(ctx, moduleDir, "mod", "download", "-json", "github.com/pulumi/pulumi-kubernetes/provider/v4")
	if err != nil {
		return fmt.Errorf("downloading the provider module: %w\n%s", err, out)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("locating the provider module: %v %s\n%s", err, mod.Error, out)
	}
	src := filepath.Join(mod.Dir, "cmd", "pulumi-resource-kubernetes")
	for from, to := range map[string]string{
		"schema.json":            "schema-embed.json",
		"terraform-mapping.json": "terraform-mapping-embed.json",
	} {
		b, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			return err
		}
		dst := filepath.Join(moduleDir, to)
		if old, err := os.ReadFile(dst); err == nil && string(old) == string(b) {
			continue // unchanged: keep the build cache's idea of the package valid
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// requiredVersion returns the version of module that gomod requires.
func requiredVersion(gomod, module string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`).FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s does not require %s", gomod, module)
	}
	return string(m[1]), nil
}

// goCmd runs the go command of the toolchain running the tests and returns its
// combined output.
func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	return toolGo(ctx, dir, args...).CombinedOutput()
}

// goCmdStdout is goCmd for output to parse: stdout only, stderr in the error.
func goCmdStdout(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := toolGo(ctx, dir, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, stderr.String())
	}
	return out, err
}

func toolGo(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, stacktest.GoCommand(), args...)
	cmd.Dir = dir
	// Builds of the nested tool modules must not be bent by a GOFLAGS meant for
	// the root module; the proxy's checksum database does not answer for some
	// pulumi modules, whose sums are in the committed go.sum files. No VCS
	// stamp: it changes with every commit and would relink every tool (minutes)
	// although none of them changed.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GONOSUMDB=github.com/pulumi")
	return cmd
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
