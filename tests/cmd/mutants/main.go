// Command mutants proves the safety-critical lines of the program load-bearing:
// for each named mutant (mutants.go) it changes that one line in a copy of the
// repository and runs the test lanes, cheapest first, until one fails. A mutant
// no lane kills is a line no test defends. It prints a table: the mutant, what a
// user would lose, and which lane and test killed it.
//
//	go run ./tests/cmd/mutants [-only name,name] [-lanes unit,rehearsal] [-out table.md]
//
// Lanes: unit is `go test` of the program's packages under Pulumi mocks, the
// config and the graph checks (seconds per mutant once the build cache is warm);
// rehearsal is `make e2e` (minutes). The copy shares bin/ with the checkout, so
// the rehearsal's tools are built once, and its lock keeps a concurrent `make e2e`
// out.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// lane is one way of running tests over the copy.
type lane struct {
	name string
	args []string
}

var lanes = []lane{
	{"unit", []string{"go", "test", "-count=1", "-timeout", "20m", ".", "./infra/...", "./app"}},
	{"admission", []string{"go", "test", "-tags", "admission", "-run", "^TestPodSecurityAdmission$", "-count=1", "-timeout", "30m", "."}},
	{"rehearsal", []string{"go", "test", "-tags", "e2e", "-run", "^TestRehearsal$", "-count=1", "-timeout", "60m", "."}},
}

// result is what became of one mutant.
type result struct {
	m        mutant
	killedBy string   // lane name, "" if it survived
	tests    []string // the failing tests that killed it
	took     time.Duration
	err      error
}

func main() {
	only := flag.String("only", "", "comma-separated mutant names to run (default: all)")
	laneNames := flag.String("lanes", "unit,admission,rehearsal", "lanes to try, cheapest first")
	out := flag.String("out", "", "also write the table to this file")
	list := flag.Bool("list", false, "list the mutants and exit")
	flag.Parse()
	if *list {
		for _, m := range mutants {
			fmt.Printf("%-34s %s\n", m.Name, m.Loses)
		}
		return
	}
	if err := run(*only, *laneNames, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}

func run(only, laneNames, out string) error {
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	selected := mutants
	if only != "" {
		selected = nil
		for _, name := range strings.Split(only, ",") {
			i := slices.IndexFunc(mutants, func(m mutant) bool { return m.Name == name })
			if i < 0 {
				return fmt.Errorf("no mutant named %q (-list names them)", name)
			}
			selected = append(selected, mutants[i])
		}
	}
	var use []lane
	for _, name := range strings.Split(laneNames, ",") {
		i := slices.IndexFunc(lanes, func(l lane) bool { return l.name == name })
		if i < 0 {
			return fmt.Errorf("no lane named %q (unit, admission, rehearsal)", name)
		}
		use = append(use, lanes[i])
	}
	copyDir, err := os.MkdirTemp("", "guestbook-mutants-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(copyDir)
	// Each lane's output is kept, so a failure can be read after the copy is gone.
	logDir, err := os.MkdirTemp("", "guestbook-mutants-logs-")
	if err != nil {
		return err
	}
	fmt.Printf("lane logs in %s\n", logDir)
	if err := copyRepo(repo, copyDir); err != nil {
		return err
	}
	// Every mutant's text must be where it is said to be, before any test runs:
	// a mutant that no longer applies would otherwise "survive" for nothing.
	for _, m := range selected {
		if n := strings.Count(readFile(filepath.Join(copyDir, m.File)), m.Old); n != 1 {
			return fmt.Errorf("mutant %s: its line occurs %d times in %s, want once: update tests/cmd/mutants/mutants.go", m.Name, n, m.File)
		}
	}
	fmt.Printf("baseline: the unmutated copy must pass the lanes first\n")
	for _, l := range use {
		log := filepath.Join(logDir, "baseline-"+l.name+".log")
		if failed, buildErr, err := runLane(copyDir, l, log); err != nil || len(failed) > 0 || buildErr {
			return fmt.Errorf("the unmutated repository fails lane %s (%v %v; see %s): fix that first", l.name, failed, err, log)
		}
	}
	var results []result
	for _, m := range selected {
		r := tryMutant(copyDir, m, use, logDir)
		results = append(results, r)
		status := "SURVIVED"
		if r.killedBy != "" {
			status = "killed by " + r.killedBy + " " + strings.Join(r.tests, ", ")
		}
		if r.err != nil {
			status = "error: " + r.err.Error()
		}
		fmt.Printf("%-34s %s (%s)\n", m.Name, status, r.took.Round(time.Second))
	}
	table := render(results)
	fmt.Print("\n" + table)
	if out != "" {
		doc := fmt.Sprintf(docHeader, time.Now().UTC().Format("2006-01-02"), laneNames) + table
		if err := os.WriteFile(out, []byte(doc), 0o644); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.killedBy == "" || r.err != nil {
			return fmt.Errorf("not every mutant was killed: a safety line has no test that fails without it")
		}
	}
	return nil
}

// tryMutant applies m to the copy, runs the lanes until one fails, and restores the file.
func tryMutant(dir string, m mutant, use []lane, logDir string) result {
	start := time.Now()
	r := result{m: m}
	path := filepath.Join(dir, m.File)
	orig := readFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(orig, m.Old, m.New, 1)), 0o644); err != nil {
		r.err = err
		return r
	}
	defer func() { _ = os.WriteFile(path, []byte(orig), 0o644) }()
	for _, l := range use {
		failed, buildErr, err := runLane(dir, l, filepath.Join(logDir, m.Name+"-"+l.name+".log"))
		if err != nil {
			r.err = err
			break
		}
		if len(failed) > 0 || buildErr {
			r.killedBy, r.tests = l.name, failed
			if buildErr && len(failed) == 0 {
				r.tests = []string{"(does not compile)"}
			}
			break
		}
	}
	r.took = time.Since(start)
	return r
}

// docHeader introduces the table in the file -out writes (docs/mutants.md).
const docHeader = `# Mutation check

Written by ` + "`make mutants`" + ` (tests/cmd/mutants) on %s, lanes %s. Each row is one
change of one safety-critical line of the program (the mutants are listed, with
the line each changes, in tests/cmd/mutants/mutants.go). The lanes run cheapest
first, and the first that fails kills the mutant: unit is ` + "`go test`" + ` of the program
under Pulumi mocks, the config contract and the whole-program checks (about 20 s a
mutant with a warm build cache); admission is ` + "`make admission`" + `'s test (about 25 s);
rehearsal is ` + "`make e2e`" + ` (3 to 7 minutes). A mutant no lane kills fails the run.

`

var failRE = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)

// runLane runs l in dir, writes its output to log, and returns the tests that
// failed (the innermost names), and whether the build failed.
func runLane(dir string, l lane, log string) (failed []string, buildErr bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.args[0], l.args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CI=true")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	runErr := cmd.Run()
	if err := os.WriteFile(log, buf.Bytes(), 0o644); err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := failRE.FindStringSubmatch(line); m != nil && !seen[m[1]] {
			// A parent test fails with its subtests; keep the most specific.
			for i, f := range failed {
				if strings.HasPrefix(m[1], f+"/") {
					failed = slices.Delete(failed, i, i+1)
					break
				}
			}
			seen[m[1]] = true
			failed = append(failed, m[1])
		}
		if strings.Contains(line, "[build failed]") || strings.Contains(line, "[setup failed]") {
			buildErr = true
		}
	}
	if runErr != nil && len(failed) == 0 && !buildErr {
		if _, ok := runErr.(*exec.ExitError); !ok {
			return nil, false, runErr
		}
		// A failure with no test named (a vet error, a panic before any test).
		buildErr = true
	}
	return failed, buildErr, nil
}

func render(results []result) string {
	var b strings.Builder
	b.WriteString("| mutant | what a user would lose | killed by |\n|---|---|---|\n")
	for _, r := range results {
		by := "**survived**"
		if r.killedBy != "" {
			by = r.killedBy + ": " + strings.Join(shorten(r.tests), ", ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.m.Name, r.m.Loses, by)
	}
	return b.String()
}

// shorten keeps the first three failing tests.
func shorten(tests []string) []string {
	if len(tests) > 3 {
		return append(slices.Clone(tests[:3]), fmt.Sprintf("and %d more", len(tests)-3))
	}
	return tests
}

// copyRepo copies the repository's files (not .git, and bin/ as a link, so the
// rehearsal's tools are shared) into dst.
func copyRepo(src, dst string) error {
	if err := os.MkdirAll(filepath.Join(src, "bin"), 0o755); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Join(src, "bin"), filepath.Join(dst, "bin")); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		switch {
		case rel == ".":
			return nil
		case rel == ".git":
			return filepath.SkipDir
		case rel == "bin":
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}
