// Log output: the server's JSON log lines are written in batches, so a busy server
// makes one write to stdout per batch of lines, not one per request.
package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

const (
	// logFlushInterval is the longest a log line waits in the buffer: short enough
	// that `kubectl logs -f` looks live, long enough to batch a busy second's lines.
	logFlushInterval = 100 * time.Millisecond
	// logBufferSize is how many bytes of lines are collected before an early flush.
	logBufferSize = 64 << 10
)

// logBuffer is an io.Writer for whole log lines (slog handlers write one line per
// call). It holds them for up to its flush interval, like nginx's buffered
// access_log; Close writes out what is left. A line is never split between
// two writes, so lines from a crash are lost whole, never half-written.
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	err  error // the first write error; later lines are dropped
	stop chan struct{}
	done chan struct{}
}

func newLogBuffer(w io.Writer, size int, interval time.Duration) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

// Write buffers one line.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if len(p) > b.w.Available() && b.w.Buffered() > 0 {
		if b.err = b.w.Flush(); b.err != nil {
			return 0, b.err
		}
	}
	// A line longer than the whole buffer goes straight through bufio, in one write.
	n, err := b.w.Write(p)
	b.err = err
	return n, err
}

// Flush writes out the buffered lines.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = b.w.Flush()
	}
	return b.err
}

// Close stops the periodic flush and writes out the rest.
func (b *logBuffer) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
		<-b.done
	}
	return b.Flush()
}

func (b *logBuffer) flushEvery(interval time.Duration) {
	defer close(b.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			_ = b.Flush()
		case <-b.stop:
			return
		}
	}
}
