// Checks the Dockerfile's security-relevant properties, since no test here can run docker build.
package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// dockerInstruction is one logical Dockerfile line, continuations joined.
type dockerInstruction struct {
	cmd  string // upper-cased keyword, e.g. FROM
	args string
}

func parseDockerfile(t *testing.T, path string) []dockerInstruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var out []dockerInstruction
	var pending strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		out = append(out, dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		pending.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	instrs := parseDockerfile(t, "Dockerfile")

	lastFrom := -1
	for i, in := range instrs {
		if in.cmd == "FROM" {
			lastFrom = i
		}
	}
	if lastFrom < 1 {
		t.Fatalf("FROM: got the final stage at instruction %d, want a multi-stage build", lastFrom)
	}

	builder := instrs[0]
	if builder.cmd != "FROM" || !strings.Contains(builder.args, "--platform=$BUILDPLATFORM") || !strings.Contains(builder.args, "golang:1.26.8-bookworm") {
		t.Errorf("builder: got %q, want FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm", builder.cmd+" "+builder.args)
	}
	var build string
	for _, in := range instrs[:lastFrom] {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", "-trimpath", `-ldflags="-s -w"`} {
		if !strings.Contains(build, want) {
			t.Errorf("go build step: got %q, want it to contain %q", build, want)
		}
	}

	final := instrs[lastFrom:]
	image := strings.Fields(final[0].args)[0]
	if image != "scratch" && !strings.HasPrefix(image, "gcr.io/distroless/") {
		t.Errorf("final image: got %q, want scratch or distroless", image)
	}

	var user, entrypoint string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "RUN":
			t.Errorf("final stage: got RUN %q, want no RUN (scratch has no shell)", in.args)
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	for what, v := range map[string]string{"uid": uid, "gid": gid} {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 10000 {
			t.Errorf("USER %s: got %q, want a number above 10000", what, v)
		}
	}
	if !strings.HasPrefix(entrypoint, "[") {
		t.Errorf("ENTRYPOINT: got %q, want exec form so SIGTERM reaches the server", entrypoint)
	}
}

func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	// Later lines override earlier ones in .dockerignore, so check order too.
	index := func(s string) int {
		for i, l := range lines {
			if l == s {
				return i
			}
		}
		return -1
	}
	for _, keep := range []string{"!go.mod", "!go.sum", "!*.go"} {
		if index(keep) < 0 {
			t.Errorf(".dockerignore: want %q so the build context has it", keep)
		}
	}
	if tests := index("*_test.go"); tests < index("!*.go") {
		t.Errorf(".dockerignore: got *_test.go at line %d, want it after !*.go (line %d) so tests are excluded", tests, index("!*.go"))
	}
}
