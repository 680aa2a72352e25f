// front.go: the address the stack's Kubernetes provider reaches the API server at,
// a TCP forwarder a scenario can shut, the way a cluster deleted out of band
// stops answering while the harness's own clients still reach the control plane.

package e2e

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Front forwards TCP connections from a loopback port to an upstream address
// until it is shut; then it refuses them.
type Front struct {
	upstream string
	ln       net.Listener

	mu    sync.Mutex
	open  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewFront listens on a free loopback port and forwards to upstream.
func NewFront(upstream string) (*Front, error) {
	f := &Front{upstream: upstream, conns: map[net.Conn]struct{}{}}
	if err := f.Open(); err != nil {
		return nil, err
	}
	return f, nil
}

// Addr is the front's host:port.
func (f *Front) Addr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ln.Addr().String()
}

// Open listens again (on the same port) after Shut.
func (f *Front) Open() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open {
		return nil
	}
	addr := "127.0.0.1:0"
	if f.ln != nil {
		addr = f.ln.Addr().String()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	f.ln, f.open = ln, true
	f.wg.Add(1)
	go f.serve(ln)
	return nil
}

// Shut closes the listener and every forwarded connection: new connections are
// refused, as by an address nothing answers at any more.
func (f *Front) Shut() {
	f.mu.Lock()
	if !f.open {
		f.mu.Unlock()
		return
	}
	f.open = false
	_ = f.ln.Close()
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *Front) serve(ln net.Listener) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		up, err := net.Dial("tcp", f.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !f.track(c, up) {
			return
		}
		f.wg.Add(2)
		go f.pipe(c, up)
		go f.pipe(up, c)
	}
}

// track records a forwarded pair, or closes it if the front was shut meanwhile.
func (f *Front) track(a, b net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		_ = a.Close()
		_ = b.Close()
		return false
	}
	f.conns[a], f.conns[b] = struct{}{}, struct{}{}
	return true
}

func (f *Front) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	f.mu.Lock()
	delete(f.conns, dst)
	delete(f.conns, src)
	f.mu.Unlock()
}
