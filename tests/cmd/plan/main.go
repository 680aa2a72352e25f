// Command plan shows the guestbook stack's deploy order without a cloud account or
// the Pulumi CLI: it compiles the real program, runs it as a preview of a first
// deploy against mocks with a stack's configuration, prints every resource, every
// dependency edge and the waves the engine will create them in, and writes the
// same as a Mermaid graph to docs/deploy-order.md and into the README.
//
//	go run ./tests/cmd/plan [-stack dev] [-doc docs/deploy-order.md] [-readme README.md]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

func main() {
	stack := flag.String("stack", "dev", "stack whose Pulumi.<stack>.yaml configures the run")
	dir := flag.String("dir", ".", "project directory (where Pulumi.yaml is)")
	doc := flag.String("doc", "docs/deploy-order.md", "Markdown file to write the graph to; empty to skip")
	readme := flag.String("readme", "README.md", "README whose deploy-order graph to refresh; empty to skip")
	flag.Parse()
	if err := run(*dir, *stack, *doc, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(1)
	}
}

func run(dir, stack, doc, readme string) error {
	tmp, err := os.MkdirTemp("", "guestbook-plan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	prog, err := stacktest.BuildProgram(dir, tmp)
	if err != nil {
		return err
	}
	planOf := func(stack string) (*stacktest.Plan, error) {
		cfg, err := stacktest.StackConfig(dir, stack)
		if err != nil {
			return nil, err
		}
		res, err := prog.Run(stack, true, cfg)
		if err != nil {
			return nil, err
		}
		if res.ExitCode != 0 {
			return nil, fmt.Errorf("the program failed on the %s stack (exit %d): %v", stack, res.ExitCode, res.Errors())
		}
		return stacktest.NewPlan(res.Graph), nil
	}
	shown, err := planOf(stack)
	if err != nil {
		return err
	}
	fmt.Print(shown.Text())
	// The files show the dev stack's graph and the prod stack's waves, whatever -stack is.
	plan, err := planOf("dev")
	if err != nil {
		return err
	}
	if doc != "" {
		prod, err := planOf("prod")
		if err != nil {
			return err
		}
		if err := os.WriteFile(doc, []byte(stacktest.DeployOrderDoc(plan, prod)), 0o644); err != nil {
			return err
		}
		fmt.Printf("\nwrote %s\n", doc)
	}
	if readme != "" {
		old, err := os.ReadFile(readme)
		if err != nil {
			return err
		}
		updated, err := plan.WithReadmeGraph(string(old))
		if err != nil {
			return err
		}
		if err := os.WriteFile(readme, []byte(updated), 0o644); err != nil {
			return err
		}
		fmt.Printf("refreshed the deploy-order graph in %s\n", readme)
	}
	return nil
}
