// Command loadbench measures the guestbook server under load on this machine
// (`make bench-app`): it starts redis-server and the server on loopback, drives
// each path with a fixed number of keep-alive clients for a bounded time, and
// prints req/s, p50 and p99 per path next to the GET /healthz ceiling of the
// same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	var opts options
	flag.StringVar(&opts.server, "server", "", "path of the built guestbook server binary (required)")
	flag.StringVar(&opts.redisServer, "redis-server", "redis-server", "redis-server binary")
	flag.IntVar(&opts.clients, "c", 50, "concurrent clients")
	flag.DurationVar(&opts.duration, "d", 5*time.Second, "measured time per path and round")
	flag.DurationVar(&opts.warmup, "warmup", time.Second, "unmeasured load before each path's measurement")
	flag.IntVar(&opts.rounds, "rounds", 3, "times every path is measured, in turn")
	flag.StringVar(&opts.only, "only", "", "measure only the paths whose name contains this, e.g. POST (the /healthz windows still run)")
	flag.Parse()
	if opts.server == "" {
		fmt.Fprintln(os.Stderr, "loadbench: -server is required (make bench-app builds it)")
		os.Exit(2)
	}
	if opts.rounds < 1 {
		fmt.Fprintln(os.Stderr, "loadbench: -rounds must be at least 1")
		os.Exit(2)
	}
	if opts.clients < 1 || opts.clients > 250 {
		// Each client has a loopback address of its own: 127.0.0.2 to 127.0.0.251.
		fmt.Fprintln(os.Stderr, "loadbench: -c must be from 1 to 250")
		os.Exit(2)
	}

	if len(selectPaths(benchPaths("")[1:], opts.only)) == 0 {
		fmt.Fprintf(os.Stderr, "loadbench: -only %q matches no path\n", opts.only)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

type options struct {
	server, redisServer string
	only                string
	clients, rounds     int
	duration, warmup    time.Duration
}

// Limits the server runs with in the bench. The write limit is per client address;
// the bench's clients write hundreds of entries a second each, so the limit is raised
// far above the stack's range (at most 600 a minute) to keep them from being
// throttled, while the limiter still runs for every POST. The entry cap stays at the
// stack's default, so the POST run also trims.
const (
	benchWritesPerMinute = 60_000_000
	benchWriteBurst      = 100_000
	benchMaxEntries      = 10_000
)

// settleBetweenPaths is an idle pause before each path, for the kernel to write back
// the append-only file the previous path grew.
const settleBetweenPaths = 3 * time.Second

func run(ctx context.Context, opts options) error {
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	loadBefore := loadAverage()
	redis, err := startRedis(ctx, opts.redisServer, dir)
	if err != nil {
		return err
	}
	defer redis.stop()
	srv, err := startServer(ctx, opts.server, dir, redis.addr, map[string]string{
		"WRITES_PER_MINUTE": fmt.Sprint(benchWritesPerMinute),
		"WRITE_BURST":       fmt.Sprint(benchWriteBurst),
		"MAX_ENTRIES":       fmt.Sprint(benchMaxEntries),
	})
	if err != nil {
		return err
	}
	defer srv.stop()

	base := "http://" + srv.addr
	// The read paths show the newest 100 entries; make sure there are 100 before the
	// first one is measured, whatever order the paths run in.
	if err := seed(ctx, base, 100); err != nil {
		return err
	}

	// Every path is measured once per round, each right after a /healthz window of
	// its own, and its share is taken against that window: this VM's speed drifts by
	// a fifth within minutes, and shares taken against one ceiling per round moved by
	// ten points for the same code depending on how far from it a path ran. A
	// disturbance of the machine spoils one round, not the result.
	paths := benchPaths(base)
	ceiling, measured := paths[0], selectPaths(paths[1:], opts.only)
	ceilings := make([][]result, len(measured)) // per path, the window before each of its rounds
	rounds := make([][]result, len(measured))
	for round := range opts.rounds {
		for i, p := range measured {
			for _, step := range []struct {
				p    path
				into *[]result
			}{{ceiling, &ceilings[i]}, {p, &rounds[i]}} {
				if err := redis.waitIdle(ctx, settleBetweenPaths); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "loadbench: round %d/%d: %s for %v (+%v warm-up) at %d clients...\n",
					round+1, opts.rounds, step.p.name, opts.duration, opts.warmup, opts.clients)
				r, err := drive(ctx, step.p, opts, []*process{srv.process, redis.process})
				if err != nil {
					return fmt.Errorf("%s: %w", step.p.name, err)
				}
				*step.into = append(*step.into, r)
			}
		}
	}
	var allCeilings []result
	for _, c := range ceilings {
		allCeilings = append(allCeilings, c...)
	}
	results := []summary{summarize(allCeilings, allCeilings)}
	for i := range measured {
		results = append(results, summarize(rounds[i], ceilings[i]))
	}
	if err := srv.exitedEarly(); err != nil {
		return err
	}

	report(os.Stdout, reportInfo{
		when:        time.Now().UTC(),
		machine:     machine(),
		goVersion:   runtime.Version(),
		redis:       redisVersion(opts.redisServer),
		loadBefore:  loadBefore,
		loadAfter:   loadAverage(),
		opts:        opts,
		serverNotes: srv.notes,
	}, results)
	return nil
}

// selectPaths keeps the paths whose name contains only (all of them for ""), in
// place.
func selectPaths(paths []path, only string) []path {
	return slices.DeleteFunc(paths, func(p path) bool { return !strings.Contains(p.name, only) })
}

// redisVersion is redis-server's own "v=7.2.4" field, or "unknown".
func redisVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return strings.TrimSpace(string(out))
}
