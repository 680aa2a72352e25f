package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

// The checks in this package that need the whole program's graph run run (main.go
// and everything it declares) in this process, against mocks, with each stack's
// configuration: the pull-permission proof, kube-score, the deploy-order document
// and, with -tags admission, Pod Security admission by a real API server. The
// whole stack under the real engine is the rehearsal's (e2e_test.go).

// stacks are the stacks the repository ships; every whole-program check runs on each.
var stacks = []string{"dev", "prod"}

// scratchDir is the test binary's own temporary directory, removed when it ends.
var scratchDir string

// registryEnv are the variables TestMain sets to route the program to the local
// registry (a proxy that refuses every other host).
var registryEnv []string

// childEnv is this process's environment without registryEnv: what a tool the
// tests start (go build, go tool) needs to reach the module proxy.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(registryEnv, k) {
			env = append(env, kv)
		}
	}
	return env
}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		var err error
		if scratchDir, err = os.MkdirTemp("", "guestbook-tests-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(scratchDir)
		defer func() {
			if registry != nil {
				registry.Close()
			}
		}()
		return m.Run()
	}())
}

var (
	registryOnce sync.Once
	registry     *stacktest.FakeRegistry
	registryErr  error
)

// useFakeRegistry routes the program's token exchange at <registry>.azurecr.io
// to a local registry, as the CLI's environment would route it to the real one,
// for the rest of the test binary. Only the tests that run the program call it:
// the rehearsal (e2e_test.go) shares the package and needs the real network.
func useFakeRegistry(t testing.TB) {
	t.Helper()
	registryOnce.Do(func() {
		if registry, registryErr = stacktest.StartFakeRegistry(scratchDir); registryErr != nil {
			return
		}
		for _, kv := range registry.Env {
			k, v, _ := strings.Cut(kv, "=")
			registryEnv = append(registryEnv, k)
			if registryErr = os.Setenv(k, v); registryErr != nil {
				return
			}
		}
	})
	if registryErr != nil {
		t.Fatalf("starting the local registry: %v", registryErr)
	}
}

// stackSettings is a stack's configuration as the CLI would pass it, with some keys
// changed ("" removes one).
func stackSettings(t testing.TB, stack string, overrides map[string]string) map[string]string {
	t.Helper()
	cfg, err := stacktest.StackConfig(".", stack)
	if err != nil {
		t.Fatal(err)
	}
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
	useFakeRegistry(t)
	runsMu.Lock()
	defer runsMu.Unlock()
	key := runKey{stack, dryRun}
	res, ok := runs[key]
	if !ok {
		var err error
		if res, err = stacktest.RunStack(run, "guestbook", stack, dryRun, stackSettings(t, stack, nil)); err != nil {
			t.Fatal(err)
		}
		runs[key] = res
	}
	if res.Err != nil {
		t.Fatalf("%s stack (dryRun=%v) failed: %v\n%v", stack, dryRun, res.Err, res.Errors())
	}
	return res
}
