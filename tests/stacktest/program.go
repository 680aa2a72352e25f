// program.go: building the real program and running it against mocks, as the CLI would.

package stacktest

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Program is a compiled Pulumi Go program and its project directory.
type Program struct {
	Binary  string
	Dir     string
	Project string
}

// BuildProgram compiles the Pulumi program in dir (the directory of Pulumi.yaml)
// into outDir, the way `pulumi up` builds a Go program before running it.
func BuildProgram(dir, outDir string) (Program, error) {
	var project struct{ Name string }
	if err := readYAML(filepath.Join(dir, "Pulumi.yaml"), &project); err != nil {
		return Program{}, err
	}
	if err := ReadSources(dir); err != nil {
		return Program{}, err
	}
	bin := filepath.Join(outDir, project.Name)
	cmd := exec.Command(GoCommand(), "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return Program{}, fmt.Errorf("go build in %s: %w\n%s", dir, err, out)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Program{}, err
	}
	return Program{Binary: bin, Dir: abs, Project: project.Name}, nil
}

// ReadSources reads every file under dir a build depends on. A test that builds with
// a child process must call it: `go test` does not watch the child, but files the
// test process itself opens are part of its cache key, so a cached pass is never
// reused after a source, go.mod, go.sum or Pulumi file changes.
func ReadSources(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != dir && (strings.HasPrefix(name, ".") || name == "bin" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch ext := filepath.Ext(path); {
		case ext == ".go", ext == ".mod", ext == ".sum", ext == ".yaml", d.Name() == "Dockerfile":
			_, err := os.ReadFile(path)
			return err
		}
		return nil
	})
}

// GoCommand returns the go command to build with: GOROOT's, else the one on PATH.
func GoCommand() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Result is what one run of the program did.
type Result struct {
	// ExitCode and Stderr are the program's.
	ExitCode int
	Stderr   string
	// Graph is every resource the program registered and every invoke it made.
	Graph *Graph
	// Outputs are the stack's exports, secrets still wrapped.
	Outputs resource.PropertyMap
	// Logs are the messages it sent the engine (errors among them).
	Logs []LogEntry
	// Exchanges are the registry token exchanges it made.
	Exchanges []Exchange
	// Refused are the network destinations it tried and was refused.
	Refused []string
}

// Run runs the program once against fresh mocks: a preview when dryRun, else an
// update. config is the stack configuration (see StackConfig).
func (p Program) Run(stack string, dryRun bool, config map[string]string) (*Result, error) {
	tmp, err := os.MkdirTemp("", "stacktest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	registry, err := StartFakeRegistry(tmp)
	if err != nil {
		return nil, err
	}
	defer registry.Close()
	engine, err := StartEngine(NewMocks(p.Project, stack, dryRun))
	if err != nil {
		return nil, err
	}
	defer engine.Close()

	code, stderr, err := engine.RunProgram(ProgramRun{Binary: p.Binary, Dir: p.Dir, Config: config, Env: registry.Env})
	if err != nil {
		return nil, err
	}
	return &Result{
		ExitCode:  code,
		Stderr:    stderr,
		Graph:     engine.Graph(),
		Outputs:   engine.StackOutputs(),
		Logs:      engine.Logs(),
		Exchanges: registry.Exchanges(),
		Refused:   registry.Refused(),
	}, nil
}

// Errors returns the error messages the program logged.
func (r *Result) Errors() []string {
	var out []string
	for _, l := range r.Logs {
		if l.Severity == pulumirpc.LogSeverity_ERROR {
			out = append(out, l.Message)
		}
	}
	return out
}
