// The printed result: a Markdown table ready for the README, the conditions it
// was measured under, and where each path's CPU went.
package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

type reportInfo struct {
	when                  time.Time
	machine, goVersion    string
	redis                 string
	loadBefore, loadAfter string
	opts                  options
	serverNotes           []string
}

// Targets of issue 10 at 50 clients: shares of the /healthz ceiling and p99.
const (
	targetReadShare  = 0.50
	targetWriteShare = 0.60
	targetP99        = 15 * time.Millisecond
)

func report(w io.Writer, info reportInfo, results []summary) {
	fmt.Fprintf(w, "guestbook bench-app, %s\n", info.when.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "machine: %s; load average before %s, after %s\n", info.machine, info.loadBefore, info.loadAfter)
	fmt.Fprintf(w, "server: %s, redis %s (appendonly yes, appendfsync everysec), everything on loopback\n", info.goVersion, info.redis)
	slices.Sort(info.serverNotes)
	fmt.Fprintf(w, "server settings: %s\n", strings.Join(info.serverNotes, " "))
	fmt.Fprintf(w, "  (the write limit is raised far above the stack's range so the bench's clients are not throttled; the limiter still runs on every POST)\n")
	fmt.Fprintf(w, "load: %d keep-alive clients (Go net/http, each from its own loopback address); %d rounds of every path in turn, each right after a /healthz window of its own; every window %v warm-up then %v measured\n",
		info.opts.clients, info.opts.rounds, info.opts.warmup, info.opts.duration)
	fmt.Fprintf(w, "req/s and share: the median round (share: a round's req/s over the /healthz window just before it, all rounds in brackets); p50, p99: all rounds' requests\n\n")

	fmt.Fprintln(w, "| path | req/s | p50 | p99 | share of `/healthz` | target |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	allMet := true
	for _, r := range results {
		share := "100%"
		target := ""
		if !r.path.ceiling {
			want := targetReadShare
			if strings.Contains(r.path.name, "POST") {
				want = targetWriteShare
			}
			var each []string
			for _, x := range r.shares {
				each = append(each, fmt.Sprintf("%.0f", 100*x))
			}
			s := median(slices.Clone(r.shares))
			// Truncated, not rounded, so that a share printed as meeting the target does.
			share = fmt.Sprintf("%.1f%% (%s)", math.Floor(1000*s)/10, strings.Join(each, ", "))
			met := s >= want && r.percentile(0.99) <= targetP99 && r.failures == 0 && len(r.badStatus) == 0
			allMet = allMet && met
			verdict := "met"
			if !met {
				verdict = "**missed**"
			}
			target = fmt.Sprintf("≥ %.0f%%, p99 ≤ %v: %s", 100*want, targetP99, verdict)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.path.name, thousands(median(slices.Clone(r.roundRPS))),
			ms(r.percentile(0.50)), ms(r.percentile(0.99)), share, target)
	}

	fmt.Fprintln(w, "\nper request (CPU time of each process, and the cores' idle time, during the measured windows / successful requests):")
	for _, r := range results {
		var parts []string
		var total time.Duration
		for _, name := range []string{"load driver", "guestbook", "redis-server"} {
			t := r.cpuPerReq[name]
			total += t
			parts = append(parts, fmt.Sprintf("%s %dµs", name, t.Microseconds()))
		}
		fmt.Fprintf(w, "  %-36s %s = %dµs; cores idle %dµs; response %d bytes; %d requests",
			r.path.name, strings.Join(parts, " + "), total.Microseconds(), r.cpuPerReq[idleCores].Microseconds(), r.bytesPerOK, len(r.latencies))
		if r.failures > 0 {
			fmt.Fprintf(w, "; %d transport errors", r.failures)
		}
		for status, n := range r.badStatus {
			fmt.Fprintf(w, "; %d answered %d", n, status)
		}
		fmt.Fprintln(w)
	}
	if allMet {
		fmt.Fprintln(w, "\nall targets met")
	} else {
		fmt.Fprintln(w, "\nsome targets missed")
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// thousands formats n rounded with comma separators: 34438.2 → "34,438".
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
