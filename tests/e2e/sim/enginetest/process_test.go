package enginetest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

// The plugin speaks the plugin protocol (port on stdout, gRPC on it) and dies
// with the process that started it, as it must when the CLI is SIGKILLed.
func TestPluginDiesWithParent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "pulumi-resource-azure-native")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin,
		"github.com/guestbook-aks/guestbook/tests/e2e/sim/cmd/pulumi-resource-azure-native").CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}

	// A shell stands for the CLI: it starts the plugin and waits.
	parent := exec.CommandContext(ctx, "bash", "-c", `"$0" & echo "pid:$!"; wait`, bin)
	parent.Env = append(os.Environ(), sim.EnvDir+"="+t.TempDir())
	stdout, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill() //nolint:errcheck // already dead when the test passes

	var pid, port int
	lines := bufio.NewScanner(stdout)
	for (pid == 0 || port == 0) && lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "pid:"); ok {
			pid, _ = strconv.Atoi(rest)
		} else {
			port, _ = strconv.Atoi(lines.Text())
		}
	}
	if pid == 0 || port == 0 {
		t.Fatalf("plugin pid %d, port %d: want both", pid, port)
	}

	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	info, err := pulumirpc.NewResourceProviderClient(conn).GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != sim.AzureVersion {
		t.Errorf("plugin version = %q, want %q", info.Version, sim.AzureVersion)
	}

	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck // cleaning up after a failure
			t.Fatalf("plugin %d still running 10s after its parent was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie nobody has reaped yet does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
