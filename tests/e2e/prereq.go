// prereq.go: what a rehearsal checks before it builds anything: the commands its
// scenarios run, the disk its builds need, and that no other rehearsal is using
// this checkout's tools.

package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// minFreeDisk is what a cold tool build and a rehearsal's world need: the Go
// build cache grows by about 5 GB building the CLI, the provider and the
// control plane, and the tools take 1 GB.
const minFreeDisk = 8 << 30

// checkPrerequisites fails, naming what is missing and how to get it, before
// any build starts.
func checkPrerequisites(repo string) error {
	var problems []string
	for cmd, pkg := range map[string]string{"jq": "jq"} {
		if _, err := exec.LookPath(cmd); err != nil {
			problems = append(problems, fmt.Sprintf("%s is not on PATH (the state-repair script of scenario 8 needs it): apt-get install -y %s", cmd, pkg))
		}
	}
	for _, dir := range []string{repo, os.TempDir()} {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			return fmt.Errorf("checking free disk at %s: %w", dir, err)
		}
		if free := st.Bavail * uint64(st.Bsize); free < minFreeDisk {
			problems = append(problems, fmt.Sprintf("%s has %.1f GB free; the rehearsal needs %d GB (tool builds and its world)", dir, float64(free)/(1<<30), minFreeDisk>>30))
		}
	}
	if len(problems) > 0 {
		return errors.New("the rehearsal cannot start:\n  - " + strings.Join(problems, "\n  - "))
	}
	return nil
}

// lockCheckout takes this checkout's rehearsal lock, or fails at once if another
// rehearsal holds it: two would rebuild the same tools under each other and kill
// each other's stray processes.
func lockCheckout(repo string) (unlock func(), err error) {
	dir := filepath.Join(repo, "bin", "e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "rehearsal.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("another rehearsal is running on this checkout (%s: %s); wait for it or run from another clone", path, strings.TrimSpace(string(holder)))
	}
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "pid %d\n", os.Getpid())
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
