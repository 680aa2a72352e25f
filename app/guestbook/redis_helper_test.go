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

// redisServer is one redis-server owned by a single test. Kill and Restart model
// a crash and the pod coming back: the same address, the same data directory.
type redisServer struct {
	Addr string
	bin  string
	args []string
	dir  string

	mu   sync.Mutex
	proc *redisProc // the running process; nil after Stop
}

type redisProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	output bytes.Buffer // safe to read only after exited is closed
}

// redisOptions are the settings a test needs beyond a plain in-memory server.
type redisOptions struct {
	// appendOnly turns on the persistence the stack deploys: an append-only file,
	// fsynced every second.
	appendOnly bool
}

// startRedis launches redis-server on a free loopback port with persistence
// off and registers its shutdown with t.Cleanup. Without redis-server the
// test is skipped locally but fails under CI, where skipping would hide that
// the store was never exercised.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	return startRedisWith(t, redisOptions{})
}

func startRedisWith(t *testing.T, opts redisOptions) *redisServer {
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
		srv, err := tryStartRedis(t, bin, opts)
		if err == nil {
			t.Cleanup(srv.Stop)
			return srv
		}
		lastErr = err
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

func tryStartRedis(t *testing.T, bin string, opts redisOptions) (*redisServer, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	appendOnly := "no"
	if opts.appendOnly {
		appendOnly = "yes"
	}
	srv := &redisServer{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		bin:  bin,
		dir:  dir,
		args: []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", appendOnly,
			"--appendfsync", "everysec",
			"--dir", dir,
		},
	}
	if err := srv.start(); err != nil {
		return nil, err
	}
	return srv, nil
}

// start runs redis-server with srv's arguments and waits until it answers PING.
func (s *redisServer) start() error {
	p := &redisProc{cmd: exec.Command(s.bin, s.args...), exited: make(chan struct{})}
	p.cmd.Dir = s.dir
	p.cmd.Stdout = &p.output
	p.cmd.Stderr = &p.output
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", s.bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("redis-server exited early:\n%s", p.output.String())
		default:
		}
		if pingRaw(s.Addr) == nil {
			s.mu.Lock()
			s.proc = p
			s.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("redis-server on %s did not answer PING within 10s:\n%s", s.Addr, p.output.String())
}

// Stop kills the server (SIGKILL: a crash, not a clean shutdown that would
// flush) and waits for it to exit; calling it again is a no-op.
func (s *redisServer) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Restart starts the server again on the same address and data directory, as
// Kubernetes restarts the Redis pod on its volume. The address was just released,
// so binding it again is retried briefly.
func (s *redisServer) Restart(t *testing.T) {
	t.Helper()
	var err error
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart redis-server: %v", err)
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
// client library under test. A Redis still loading its data answers -LOADING,
// which is not ready either.
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
