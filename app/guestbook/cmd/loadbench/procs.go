// The processes under test (redis-server and the guestbook server) and what the
// bench reads about them and the machine from /proc.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// process is a child process whose CPU time the bench samples.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // valid once exited is closed
}

func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// cpu is the process's user+system CPU time so far, from /proc/<pid>/stat.
func (p *process) cpu() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it are plain.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc stat for %s", p.name)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return clockTicks(utime + stime), nil
}

// clockTicks converts a /proc time, counted in USER_HZ, to a duration. USER_HZ is
// 100 on every Linux the bench targets.
func clockTicks(n int64) time.Duration { return time.Duration(n) * 10 * time.Millisecond }

type redisProcess struct {
	*process
	addr string
}

// startRedis runs redis-server on a free loopback port with the persistence the
// stack deploys (append-only, fsync every second) and its memory policy.
func startRedis(ctx context.Context, bin, dir string) (*redisProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "redis")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", data, "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec",
		"--maxmemory", "200mb", "--maxmemory-policy", "noeviction",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := startProcess("redis-server", cmd)
	if err != nil {
		return nil, err
	}
	r := &redisProcess{process: p, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("redis-server exited: %v (log in %s)", p.err, logf.Name())
		default:
		}
		if c, err := net.DialTimeout("tcp", r.addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return r, nil
		}
	}
	r.stop()
	return nil, errors.New("redis-server did not start listening within 10s")
}

// waitIdle waits until Redis runs no background job (an append-only file rewrite or
// a snapshot) and the machine has had settle to write back what the previous path
// wrote, so that one path's aftermath is not measured as the next path's cost.
func (r *redisProcess) waitIdle(ctx context.Context, settle time.Duration) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		busy, err := r.backgroundJobs()
		if err != nil {
			return err
		}
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("redis still rewriting its append-only file after 2 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settle):
		return nil
	}
}

// backgroundJobs asks Redis (INFO persistence, spoken directly) whether a rewrite
// or snapshot is running or scheduled.
func (r *redisProcess) backgroundJobs() (bool, error) {
	conn, err := net.DialTimeout("tcp", r.addr, time.Second)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("INFO persistence\r\n")); err != nil {
		return false, err
	}
	br := bufio.NewReader(conn)
	header, err := br.ReadString('\n')
	if err != nil {
		return false, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(header, "$")))
	if err != nil || !strings.HasPrefix(header, "$") {
		return false, fmt.Errorf("INFO answered %q", header)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(body), "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "aof_rewrite_in_progress", "aof_rewrite_scheduled", "rdb_bgsave_in_progress":
			if v != "0" {
				return true, nil
			}
		}
	}
	return false, nil
}

type serverProcess struct {
	*process
	addr    string
	logPath string
	notes   []string
}

// startServer runs the guestbook server against addr and waits until it is ready.
// Its JSON log goes to a file, as a container's stdout goes to the node's log.
func startServer(ctx context.Context, bin, dir, redisAddr string, env map[string]string) (*serverProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "REDIS_ADDR="+redisAddr)
	var notes []string
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
		notes = append(notes, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := startProcess("guestbook", cmd)
	if err != nil {
		return nil, err
	}
	s := &serverProcess{process: p, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), logPath: logPath, notes: notes}
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := s.exitedEarly(); err != nil {
			return nil, err
		}
		resp, err := client.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.stop()
	return nil, fmt.Errorf("guestbook server not ready within 15s; log:\n%s", tail(logPath, 20))
}

// exitedEarly reports a server that died while the bench still needed it.
func (s *serverProcess) exitedEarly() error {
	select {
	case <-s.exited:
		return fmt.Errorf("guestbook server exited: %v; log:\n%s", s.err, tail(s.logPath, 20))
	default:
		return nil
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// machine describes the CPU the numbers were taken on.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%s, %d cores, %s/%s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}
