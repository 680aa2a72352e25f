// Tests for configuration, process wiring and graceful shutdown.
package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	// Tests stop Redis on purpose; go-redis's dial-failure chatter would only
	// bury real failures in the output.
	redis.SetLogger(redisLogger{logger: discardLogger()})
	os.Exit(m.Run())
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string // substring; empty means success
	}{
		{name: "defaults", env: nil, want: config{Port: 8080, RedisAddr: "localhost:6379", Limits: DefaultLimits()}},
		{name: "all set", env: map[string]string{"PORT": "9090", "REDIS_ADDR": "redis:6380", "REDIS_PASSWORD": "s3cret", "REDIS_TLS": "true",
			"WRITES_PER_MINUTE": "30", "WRITE_BURST": "7", "MAX_ENTRIES": "500"},
			want: config{Port: 9090, RedisAddr: "redis:6380", RedisPassword: "s3cret", RedisTLS: true,
				Limits: Limits{WritesPerMinute: 30, WriteBurst: 7, MaxEntries: 500}}},
		{name: "lowest port", env: map[string]string{"PORT": "1"}, want: config{Port: 1, RedisAddr: "localhost:6379", Limits: DefaultLimits()}},
		{name: "highest port", env: map[string]string{"PORT": "65535"}, want: config{Port: 65535, RedisAddr: "localhost:6379", Limits: DefaultLimits()}},
		{name: "ipv6 redis", env: map[string]string{"REDIS_ADDR": "[::1]:6379"}, want: config{Port: 8080, RedisAddr: "[::1]:6379", Limits: DefaultLimits()}},
		{name: "highest limits", env: map[string]string{"WRITES_PER_MINUTE": "100000000", "WRITE_BURST": "1000000", "MAX_ENTRIES": "10000000"},
			want: config{Port: 8080, RedisAddr: "localhost:6379", Limits: Limits{WritesPerMinute: 100_000_000, WriteBurst: 1_000_000, MaxEntries: 10_000_000}}},
		{name: "port zero", env: map[string]string{"PORT": "0"}, wantErr: `invalid PORT "0"`},
		{name: "port too big", env: map[string]string{"PORT": "65536"}, wantErr: `invalid PORT "65536"`},
		{name: "port negative", env: map[string]string{"PORT": "-1"}, wantErr: "invalid PORT"},
		{name: "port with sign", env: map[string]string{"PORT": "+80"}, wantErr: "invalid PORT"},
		{name: "port not a number", env: map[string]string{"PORT": "http"}, wantErr: "invalid PORT"},
		{name: "port with space", env: map[string]string{"PORT": " 80"}, wantErr: "invalid PORT"},
		{name: "port overflow", env: map[string]string{"PORT": "99999999999999999999"}, wantErr: "invalid PORT"},
		{name: "redis without port", env: map[string]string{"REDIS_ADDR": "redis"}, wantErr: "invalid REDIS_ADDR"},
		{name: "redis without host", env: map[string]string{"REDIS_ADDR": ":6379"}, wantErr: "invalid REDIS_ADDR"},
		{name: "bad tls flag", env: map[string]string{"REDIS_TLS": "maybe"}, wantErr: "invalid REDIS_TLS"},
		{name: "zero writes per minute", env: map[string]string{"WRITES_PER_MINUTE": "0"}, wantErr: `invalid WRITES_PER_MINUTE "0": want a number from 1 to 100000000`},
		{name: "fractional writes per minute", env: map[string]string{"WRITES_PER_MINUTE": "0.5"}, wantErr: "invalid WRITES_PER_MINUTE"},
		{name: "burst too big", env: map[string]string{"WRITE_BURST": "1000001"}, wantErr: "invalid WRITE_BURST"},
		{name: "negative max entries", env: map[string]string{"MAX_ENTRIES": "-5"}, wantErr: "invalid MAX_ENTRIES"},
		{name: "every problem at once", env: map[string]string{"PORT": "x", "REDIS_TLS": "maybe", "MAX_ENTRIES": "0"},
			wantErr: "invalid PORT \"x\": want a number from 1 to 65535\ninvalid REDIS_TLS \"maybe\": want true or false\ninvalid MAX_ENTRIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("config: got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewServerHasTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s: got %v, want a positive timeout", name, d)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	store := &fakeStore{listHook: func(context.Context) {
		// Only the first List blocks: it is the in-flight request.
		select {
		case <-entered:
		default:
			close(entered)
			<-release
		}
	}}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, newServer(NewHandler(store, discardLogger())), ln, 5*time.Second, discardLogger())
	}()

	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
		resp, err := client.Get("http://" + addr + "/api/entries")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		inflight <- result{status: resp.StatusCode, body: string(body), err: err}
	}()

	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request never reached the handler")
	}

	cancel() // what SIGTERM does in main

	// Shutdown closes the listener promptly; poll briefly for that.
	refused := false
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			refused = true
			break
		}
		_ = conn.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Error("new connections: got accepted after shutdown began, want refused")
	}

	select {
	case <-served:
		t.Fatal("serve returned while a request was still in flight")
	default:
	}

	close(release)
	select {
	case r := <-inflight:
		if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, `"entries"`) {
			t.Errorf("in-flight request: got status %d body %q err %v, want 200 with entries", r.status, r.body, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request did not complete")
	}

	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: got %v, want nil after a clean shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after the in-flight request finished")
	}
}

func TestShutdownGraceIsBounded(t *testing.T) {
	// A request that outlives the grace period must not keep the process up.
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{})
	store := &fakeStore{listHook: func(context.Context) {
		close(entered)
		<-release
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, newServer(NewHandler(store, discardLogger())), ln, 200*time.Millisecond, discardLogger())
	}()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("serve: got %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not give up after the grace period")
	}
}
