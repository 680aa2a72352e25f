// Command guestbook serves the guestbook web page and JSON API backed by Redis.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// shutdownTimeout leaves headroom inside Kubernetes' default 30 s grace
	// period before the kubelet sends SIGKILL.
	shutdownTimeout = 20 * time.Second
	// startupPingTimeout only decides whether to log a warning; the pod starts
	// regardless and readiness keeps it out of rotation until Redis answers.
	startupPingTimeout = 2 * time.Second
)

// config is everything the server takes from the environment.
type config struct {
	Port          int
	RedisAddr     string
	RedisPassword string
	RedisTLS      bool
	Limits        Limits
}

// limitVars are the environment variables of the write limits, with their ranges.
// The ranges only keep the numbers meaningful; the stack deploys tighter ones.
var limitVars = []struct {
	name   string
	lo, hi int
	field  func(*Limits) *int
}{
	{"WRITES_PER_MINUTE", 1, 100_000_000, func(l *Limits) *int { return &l.WritesPerMinute }},
	{"WRITE_BURST", 1, 1_000_000, func(l *Limits) *int { return &l.WriteBurst }},
	{"MAX_ENTRIES", 1, 10_000_000, func(l *Limits) *int { return &l.MaxEntries }},
}

// loadConfig reads and validates the environment through getenv so tests do
// not have to mutate the process environment. It reports every bad variable.
func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		Port:          8080,
		RedisAddr:     "localhost:6379",
		RedisPassword: getenv("REDIS_PASSWORD"),
		Limits:        DefaultLimits(),
	}
	var errs []error
	if v := getenv("PORT"); v != "" {
		port, err := parseWhole("PORT", v, 1, 65535)
		errs = append(errs, err)
		cfg.Port = port
	}
	if v := getenv("REDIS_ADDR"); v != "" {
		host, port, err := net.SplitHostPort(v)
		if err != nil || host == "" || port == "" {
			errs = append(errs, fmt.Errorf("invalid REDIS_ADDR %q: want host:port, e.g. redis:6379", v))
		}
		cfg.RedisAddr = v
	}
	if v := getenv("REDIS_TLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid REDIS_TLS %q: want true or false", v))
		}
		cfg.RedisTLS = b
	}
	for _, lv := range limitVars {
		if v := getenv(lv.name); v != "" {
			n, err := parseWhole(lv.name, v, lv.lo, lv.hi)
			errs = append(errs, err)
			*lv.field(&cfg.Limits) = n
		}
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// parseWhole accepts only plain decimal digits so values like "+80" or
// "0x50" fail loudly instead of being interpreted.
func parseWhole(name, v string, lo, hi int) (int, error) {
	bad := fmt.Errorf("invalid %s %q: want a number from %d to %d", name, v, lo, hi)
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, bad
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, bad
	}
	return n, nil
}

// newRedisClient builds the client with timeouts short enough that a stuck
// Redis produces prompt 503s rather than hung requests.
func newRedisClient(cfg config) *redis.Client {
	opts := &redis.Options{
		Addr:         cfg.RedisAddr,
		Password:     cfg.RedisPassword,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		// A command retried after a lost reply could LPUSH the same entry
		// twice, so commands run at most once and failures surface as 503s.
		// Dialing is retried separately (nothing was sent yet), briefly, so
		// an outage answers fast instead of after seconds of backoff.
		MaxRetries:         -1,
		DialerRetries:      2,
		DialerRetryTimeout: 50 * time.Millisecond,
		// Per-call context deadlines (store and readiness) must bound the
		// socket I/O too, not just the wait for a pooled connection.
		ContextTimeoutEnabled: true,
	}
	if cfg.RedisTLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return redis.NewClient(opts)
}

// redisLogger routes go-redis's internal messages (e.g. failed dials) into
// the JSON log stream instead of plain text on stderr.
type redisLogger struct{ logger *slog.Logger }

// Printf implements the go-redis logging interface.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// newServer sets timeouts so slow or idle clients cannot hold connections forever.
func newServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// serve runs srv on ln until ctx is cancelled, then shuts down gracefully:
// the listener closes at once and in-flight requests get up to grace to finish.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "grace", grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Grace expired: cut the remaining connections so the process exits
		// before the kubelet kills it mid-write.
		_ = srv.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func run(ctx context.Context, logger *slog.Logger) error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}

	redis.SetLogger(redisLogger{logger: logger})
	client := newRedisClient(cfg)
	defer func() {
		if err := client.Close(); err != nil {
			logger.Warn("closing redis client", "error", err)
		}
	}()
	store := NewRedisStore(client, cfg.Limits, logger)
	defer store.Close()

	pingCtx, cancel := context.WithTimeout(ctx, startupPingTimeout)
	if err := store.Ping(pingCtx); err != nil {
		logger.Warn("redis not reachable yet; serving anyway, readiness will report it", "redis_addr", cfg.RedisAddr, "error", err)
	}
	cancel()

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	logger.Info("listening", "port", cfg.Port, "redis_addr", cfg.RedisAddr, "redis_tls", cfg.RedisTLS,
		"writes_per_minute", cfg.Limits.WritesPerMinute, "write_burst", cfg.Limits.WriteBurst, "max_entries", cfg.Limits.MaxEntries)
	return serve(ctx, newServer(NewHandler(store, logger)), ln, shutdownTimeout, logger)
}

// gcPercent is the server's GOGC unless the environment sets one. Its live heap is
// about 1 MB, so at Go's default of 100 it collected every 4 MB allocated, about 20
// times a second under make bench-app (GODEBUG=gctrace=1); at 400, every 16 MB.
// The stack's GOMEMLIMIT makes a heap that outgrows that be collected sooner.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// One line per request is a write per request unbuffered; batched, a busy
	// server writes its log a few times a second.
	out := newLogBuffer(os.Stdout, logBufferSize, logFlushInterval)
	logger := slog.New(slog.NewJSONHandler(out, nil))
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() {
		<-ctx.Done()
		// Restore default signal handling so a second Ctrl-C kills at once.
		stop()
	}()

	err := run(ctx, logger)
	if err != nil {
		logger.Error("guestbook exiting", "error", err)
	} else {
		logger.Info("guestbook stopped")
	}
	if cerr := out.Close(); cerr != nil {
		fmt.Fprintln(os.Stderr, "guestbook: writing the log:", cerr)
	}
	if err != nil {
		os.Exit(1)
	}
}
