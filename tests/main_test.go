// Package tests holds the checks that need the whole program's graph but no
// engine: the pull-permission proof, Pod Security admission by a real API server,
// kube-score, the deploy-order document. They compile the real program (main.go
// and everything it imports) and run it against mocks the way `pulumi up` runs
// it. The whole stack under the real engine is the rehearsal's (tests/e2e).
package tests

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

// projectDir is the repository root, where Pulumi.yaml and main.go live.
const projectDir = ".."

var (
	programDir  string
	programOnce sync.Once
	programVal  stacktest.Program
	programErr  error
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		var err error
		programDir, err = os.MkdirTemp("", "guestbook-program-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(programDir)
		return m.Run()
	}())
}

// program returns the compiled program, building it on first use. It is built
// inside a test rather than in TestMain so that the sources it reads count towards
// `go test`'s cache key (see stacktest.BuildProgram).
func program(t testing.TB) stacktest.Program {
	t.Helper()
	programOnce.Do(func() { programVal, programErr = stacktest.BuildProgram(projectDir, programDir) })
	if programErr != nil {
		t.Fatalf("building the Pulumi program: %v", programErr)
	}
	return programVal
}

// stacks are the stacks the repository ships; every whole-program check runs on each.
var stacks = []string{"dev", "prod"}

// stackConfig is a stack's configuration as the CLI would pass it.
func stackConfig(t testing.TB, stack string) map[string]string {
	t.Helper()
	cfg, err := stacktest.StackConfig(projectDir, stack)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// withConfig returns the dev configuration with some keys changed.
func withConfig(t testing.TB, overrides map[string]string) map[string]string {
	cfg := stackConfig(t, "dev")
	for k, v := range overrides {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

type runKey struct {
	stack  string
	dryRun bool
}

var (
	runsMu sync.Mutex
	runs   = map[runKey]*stacktest.Result{}
)

// stackRun returns a stack's update (dryRun false) or preview (dryRun true), run
// once per test binary and shared, since they are read-only.
func stackRun(t testing.TB, stack string, dryRun bool) *stacktest.Result {
	t.Helper()
	prog := program(t)
	runsMu.Lock()
	defer runsMu.Unlock()
	key := runKey{stack, dryRun}
	res, ok := runs[key]
	if !ok {
		var err error
		if res, err = prog.Run(stack, dryRun, stackConfig(t, stack)); err != nil {
			t.Fatal(err)
		}
		runs[key] = res
	}
	if res.ExitCode != 0 {
		t.Fatalf("%s stack (dryRun=%v) exited %d: %v\n%s", stack, dryRun, res.ExitCode, res.Errors(), res.Stderr)
	}
	return res
}
