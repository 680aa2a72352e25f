// Tests for the batched log output.
package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingWriter keeps each Write call separately.
type recordingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (r *recordingWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recordingWriter) all() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.writes, ""), len(r.writes)
}

func TestLogBufferBatchesLines(t *testing.T) {
	out := &recordingWriter{}
	b := newLogBuffer(out, 1<<10, time.Hour)
	for i := range 5 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	if got, n := out.all(); n != 0 {
		t.Fatalf("before a flush: got %d writes (%q), want none", n, got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got, n := out.all(); n != 1 || got != "line 0\nline 1\nline 2\nline 3\nline 4\n" {
		t.Errorf("after Close: got %d writes %q, want the 5 lines in one write", n, got)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLogBufferFlushesWithinTheInterval(t *testing.T) {
	out := &recordingWriter{}
	b := newLogBuffer(out, 1<<10, 20*time.Millisecond)
	defer b.Close()
	fmt.Fprintln(b, "hello")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := out.all(); got == "hello\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("line not written within 5s of a 20ms flush interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLogBufferNeverSplitsALine(t *testing.T) {
	out := &recordingWriter{}
	b := newLogBuffer(out, 64, time.Hour)
	lines := []string{strings.Repeat("a", 40) + "\n", strings.Repeat("b", 40) + "\n", strings.Repeat("c", 100) + "\n", "d\n"}
	for _, l := range lines {
		if _, err := b.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	for _, w := range out.writes {
		if !strings.HasSuffix(w, "\n") {
			t.Errorf("write %q ends mid-line", w)
		}
	}
	if got := strings.Join(out.writes, ""); got != strings.Join(lines, "") {
		t.Errorf("output: got %q, want the lines in order", got)
	}
}

func TestLogBufferConcurrentWriters(t *testing.T) {
	var out bytes.Buffer
	b := newLogBuffer(&out, 256, time.Millisecond)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(b, "writer %d line %d\n", w, i)
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 8*200 {
		t.Errorf("lines: got %d, want %d", n, 8*200)
	}
}
