// Test helper that runs a throwaway redis-server so the store is tested against real Redis.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// redisServer is one redis-server process owned by a single test.
type redisServer struct {
	Addr     string
	cmd      *exec.Cmd
	exited   chan struct{}
	output   bytes.Buffer // safe to read only after exited is closed
	stopOnce sync.Once
}

// startRedis launches redis-server on a free loopback port with persistence
// off and registers its shutdown with t.Cleanup. Without redis-server the
// test is skipped locally but fails under CI, where skipping would hide that
// the store was never exercised.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found on PATH (CI is set, so this is an error): install it, e.g. apt-get install -y redis-server: %v", err)
		}
		t.Skip("redis-server not found on PATH; install it (apt-get install -y redis-server) to run the Redis store tests")
	}
	// The free port can be taken by someone else between probing and
	// redis-server binding it, so retry a few times.
	var lastErr error
	for range 3 {
		srv, err := tryStartRedis(t, bin)
		if err == nil {
			t.Cleanup(srv.Stop)
			return srv
		}
		lastErr = err
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

func tryStartRedis(t *testing.T, bin string) (*redisServer, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	srv := &redisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exited: make(chan struct{})}
	srv.cmd = exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
	)
	srv.cmd.Dir = dir
	srv.cmd.Stdout = &srv.output
	srv.cmd.Stderr = &srv.output
	if err := srv.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	go func() {
		_ = srv.cmd.Wait()
		close(srv.exited)
	}()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-srv.exited:
			return nil, fmt.Errorf("redis-server exited early:\n%s", srv.output.String())
		default:
		}
		if pingRaw(srv.Addr) == nil {
			return srv, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.Stop()
	return nil, fmt.Errorf("redis-server on %s did not answer PING within 10s:\n%s", srv.Addr, srv.output.String())
}

// Stop kills the server and waits for it to exit; calling it again is a no-op.
func (s *redisServer) Stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// pingRaw speaks RESP directly so readiness polling does not depend on the
// client library under test.
func pingRaw(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
