// In-memory Store used to test the handlers without Redis.
package main

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// fakeStore is a Store whose failures and latency tests can dictate.
type fakeStore struct {
	mu      sync.Mutex
	entries []Entry // newest first, like the Redis list
	nextID  int
	clients []string // the client of each Add, in order

	addErr  error
	listErr error
	// listHook, when set, runs inside View; the shutdown test uses it to hold
	// a request in flight.
	listHook func(ctx context.Context)
	// pingFunc, when set, replaces Ping so tests can inspect the context.
	pingFunc func(ctx context.Context) error
}

var fakeNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func (f *fakeStore) Add(_ context.Context, client, name, message string) (Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients = append(f.clients, client)
	if f.addErr != nil {
		return Entry{}, f.addErr
	}
	f.nextID++
	e := Entry{ID: strconv.Itoa(f.nextID), Name: name, Message: message, CreatedAt: fakeNow}
	f.entries = append([]Entry{e}, f.entries...)
	return e, nil
}

func (f *fakeStore) View(ctx context.Context) (*View, error) {
	if f.listHook != nil {
		f.listHook(ctx)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	n := min(listLimit, len(f.entries))
	return NewView("", append([]Entry(nil), f.entries[:n]...)), nil
}

func (f *fakeStore) Ping(ctx context.Context) error {
	if f.pingFunc != nil {
		return f.pingFunc(ctx)
	}
	return nil
}

// stored returns a copy of everything added so far, newest first.
func (f *fakeStore) stored() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Entry(nil), f.entries...)
}
