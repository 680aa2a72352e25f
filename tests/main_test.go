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

// devConfig is the dev stack's configuration as the CLI would pass it.
func devConfig(t testing.TB) map[string]string {
	t.Helper()
	cfg, err := stacktest.StackConfig(projectDir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// withConfig returns the dev configuration with some keys changed.
func withConfig(t testing.TB, overrides map[string]string) map[string]string {
	cfg := devConfig(t)
	for k, v := range overrides {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

var (
	devRunsOnce sync.Once
	devRuns     map[bool]*stacktest.Result
	devRunsErr  error
)

// devRun returns the dev stack's update (dryRun false) or preview (dryRun true),
// run once per test binary and shared, since they are read-only.
func devRun(t testing.TB, dryRun bool) *stacktest.Result {
	t.Helper()
	prog := program(t)
	devRunsOnce.Do(func() {
		devRuns = map[bool]*stacktest.Result{}
		cfg, err := stacktest.StackConfig(projectDir, "dev")
		if err != nil {
			devRunsErr = err
			return
		}
		for _, dry := range []bool{false, true} {
			res, err := prog.Run("dev", dry, cfg)
			if err != nil {
				devRunsErr = err
				return
			}
			devRuns[dry] = res
		}
	})
	if devRunsErr != nil {
		t.Fatal(devRunsErr)
	}
	res := devRuns[dryRun]
	if res.ExitCode != 0 {
		t.Fatalf("dev stack (dryRun=%v) exited %d: %v\n%s", dryRun, res.ExitCode, res.Errors(), res.Stderr)
	}
	return res
}
