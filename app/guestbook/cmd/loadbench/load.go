// The load: keep-alive HTTP clients, one loopback address each, looping over one
// request for a bounded time and recording each request's latency.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// path is one measured request shape.
type path struct {
	name       string // as printed: "POST /entries (JSON)"
	ceiling    bool   // the run's HTTP ceiling, GET /healthz
	wantStatus int
	newRequest func(client, n int) (*http.Request, error)
}

// benchPaths are the paths in the order they run: the ceiling, then the reads, then
// the writes, so that Redis's work for a write (its append-only file growing, and
// being rewritten) happens during the write path's own measurement.
func benchPaths(base string) []path {
	get := func(url string) func(int, int) (*http.Request, error) {
		return func(int, int) (*http.Request, error) { return http.NewRequest(http.MethodGet, url, nil) }
	}
	bodies := entryBodies()
	return []path{
		{name: "`GET /healthz` (the HTTP ceiling)", ceiling: true, wantStatus: http.StatusOK, newRequest: get(base + "/healthz")},
		{name: "`GET /api/entries` (100 entries)", wantStatus: http.StatusOK, newRequest: get(base + "/api/entries")},
		{name: "`GET /` (HTML, 100 entries)", wantStatus: http.StatusOK, newRequest: get(base + "/")},
		{name: "`POST /entries` (JSON)", wantStatus: http.StatusCreated, newRequest: func(client, n int) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, base+"/entries", bytes.NewReader(bodies[(client+n)%len(bodies)]))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		}},
	}
}

// entryBodies are the JSON bodies the bench posts: a few distinct messages, so
// entries differ without the clients spending time formatting bodies, of a
// typical guestbook entry's size.
func entryBodies() [][]byte {
	var bodies [][]byte
	for i := range 16 {
		bodies = append(bodies, fmt.Appendf(nil, `{"name":"bench client","message":"Hello from the load bench, message %d of a small set: the quick brown fox jumps over the lazy dog."}`, i))
	}
	return bodies
}

// newClient is one bench client: a single keep-alive connection from its own
// loopback address (127.0.0.2, 127.0.0.3, ...), so the server sees as many client
// addresses as there are clients, as it would behind the load balancer. Go's
// net/http client is what hey, the tool of the first measurement, uses.
func newClient(i int) *http.Client {
	dialer := &net.Dialer{
		Timeout:   5 * time.Second,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))},
		// The bench opens and closes many connections over its runs; reusing the
		// local ports of closed ones avoids running out of them.
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// result is one measurement of one path.
type result struct {
	path       path
	window     time.Duration
	latencies  []time.Duration          // sorted
	failures   int                      // transport errors
	badStatus  map[int]int              // unexpected statuses and their counts
	cpu        map[string]time.Duration // CPU time of each process during the window
	cpuPerReq  map[string]time.Duration // set by summarize, over all rounds
	bytesPerOK int64
}

// summary is a path's measurements over all rounds.
type summary struct {
	result             // all rounds' requests together; window is their sum
	roundRPS []float64 // req/s of each round
	shares   []float64 // each round's req/s over the same round's /healthz req/s
}

// summarize pools a path's rounds; ceiling holds the /healthz rounds.
func summarize(rounds, ceiling []result) summary {
	s := summary{result: result{path: rounds[0].path, badStatus: map[int]int{}, cpu: map[string]time.Duration{}, cpuPerReq: map[string]time.Duration{}}}
	var bytes int64
	for i, r := range rounds {
		s.window += r.window
		s.latencies = append(s.latencies, r.latencies...)
		s.failures += r.failures
		for k, v := range r.badStatus {
			s.badStatus[k] += v
		}
		for k, v := range r.cpu {
			s.cpu[k] += v
		}
		bytes += r.bytesPerOK * int64(len(r.latencies))
		s.roundRPS = append(s.roundRPS, r.rps())
		if c := ceiling[i].rps(); c > 0 {
			s.shares = append(s.shares, r.rps()/c)
		}
	}
	slices.Sort(s.latencies)
	if n := len(s.latencies); n > 0 {
		s.bytesPerOK = bytes / int64(n)
		for k, v := range s.cpu {
			s.cpuPerReq[k] = v / time.Duration(n)
		}
	}
	return s
}

// median of xs, which it sorts.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

func (r result) rps() float64 { return float64(len(r.latencies)) / r.window.Seconds() }

func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

// drive runs opts.clients clients against p for the warm-up and then the measured
// window. Only requests that start and finish inside the window count; a request
// with a transport error or an unexpected status counts as a failure, not a latency.
func drive(ctx context.Context, p path, opts options, procs []*process) (result, error) {
	start := time.Now()
	measureFrom := start.Add(opts.warmup)
	end := measureFrom.Add(opts.duration)

	type clientResult struct {
		latencies []time.Duration
		failures  int
		badStatus map[int]int
		bytes     int64
		err       error
	}
	out := make([]clientResult, opts.clients)
	var wg sync.WaitGroup
	// Sample the processes' CPU at the window's edges, not at the goroutines' start.
	cpuStart := make(chan map[string]time.Duration, 1)
	go func() {
		time.Sleep(time.Until(measureFrom))
		cpuStart <- sampleCPU(procs)
	}()
	for i := range opts.clients {
		wg.Go(func() {
			cr := clientResult{latencies: make([]time.Duration, 0, 1<<14), badStatus: map[int]int{}}
			defer func() { out[i] = cr }()
			client := newClient(i)
			defer client.CloseIdleConnections()
			for n := 0; ctx.Err() == nil; n++ {
				req, err := p.newRequest(i, n)
				if err != nil {
					cr.err = err
					return
				}
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				resp, err := client.Do(req.WithContext(ctx))
				var nbytes int64
				if err == nil {
					nbytes, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) {
					continue
				}
				switch {
				case err != nil:
					cr.failures++
				case resp.StatusCode != p.wantStatus:
					cr.badStatus[resp.StatusCode]++
				default:
					cr.latencies = append(cr.latencies, t1.Sub(t0))
					cr.bytes += nbytes
				}
			}
		})
	}
	wg.Wait()
	cpuEnd := sampleCPU(procs)
	before := <-cpuStart
	if ctx.Err() != nil {
		return result{}, ctx.Err()
	}

	r := result{path: p, window: opts.duration, badStatus: map[int]int{}, cpu: map[string]time.Duration{}}
	var totalBytes int64
	for _, cr := range out {
		if cr.err != nil {
			return result{}, cr.err
		}
		r.latencies = append(r.latencies, cr.latencies...)
		r.failures += cr.failures
		for s, n := range cr.badStatus {
			r.badStatus[s] += n
		}
		totalBytes += cr.bytes
	}
	slices.Sort(r.latencies)
	if n := len(r.latencies); n > 0 {
		r.bytesPerOK = totalBytes / int64(n)
		for name, t := range cpuEnd {
			r.cpu[name] = t - before[name]
		}
	}
	return r, nil
}

// sampleCPU reads the CPU time of the processes under test and of the bench itself.
func sampleCPU(procs []*process) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, p := range procs {
		if t, err := p.cpu(); err == nil {
			out[p.name] = t
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		out["load driver"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if t, err := idleCPU(); err == nil {
		out[idleCores] = t
	}
	return out
}

// idleCores names, in sampleCPU's map, the time the machine's cores sat idle. A path
// can fall short of its share without costing more CPU per request: its requests
// wait while the cores have nothing to run.
const idleCores = "idle cores"

// idleCPU is the machine's idle time so far, all cores together, from /proc/stat.
func idleCPU() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	// "cpu  user nice system idle iowait ...", in clock ticks.
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	idle, err1 := strconv.ParseInt(f[4], 10, 64)
	iowait, err2 := strconv.ParseInt(f[5], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return clockTicks(idle + iowait), nil
}

// seed makes sure the guestbook holds at least n entries, like those the POST path
// writes, so the read paths serve the same page whether they run before it or after.
func seed(ctx context.Context, base string, n int) error {
	client := &http.Client{Timeout: 5 * time.Second}
	bodies := entryBodies()
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/entries", bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("seeding entries: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("seeding entries: POST /entries answered %d", resp.StatusCode)
		}
	}
	return nil
}
