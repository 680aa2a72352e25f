// stack.go: running the real program in this process against mocks, as `pulumi
// up` or `pulumi preview` would run it, with a stack's configuration.

package stacktest

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Result is what one run of the program did.
type Result struct {
	// Err is the program's error, if it failed.
	Err error
	// Graph is every resource the program registered and every invoke it made.
	Graph *Graph
	// Outputs are the stack's exports, secrets still wrapped.
	Outputs resource.PropertyMap
	// Logs are the messages it sent the engine (errors among them).
	Logs []LogEntry
}

// RunStack runs program once as stack of project against fresh mocks, through
// an engine that carries unknown and secret values as the real one does: a
// preview when dryRun, else an update. config is the stack configuration with
// full keys (see StackConfig).
func RunStack(program pulumi.RunFunc, project, stack string, dryRun bool, config map[string]string) (*Result, error) {
	engine, err := StartEngine(NewMocks(project, stack, dryRun))
	if err != nil {
		return nil, err
	}
	defer engine.Close()
	runErr := engine.RunInProcess(program, config)
	return &Result{Err: runErr, Graph: engine.Graph(), Outputs: engine.StackOutputs(), Logs: engine.Logs()}, nil
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

// GoCommand returns the go command to run tools with: GOROOT's, else the one on PATH.
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

// ReadSources reads every file under dir a build depends on. A test that builds
// with a child process must call it: `go test` does not watch the child, but files
// the test process itself opens are part of its cache key, so a cached pass is
// never reused after a source, go.mod or go.sum changes.
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
