// Tests for RedisStore against a real redis-server process.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestStore connects a store to addr with the production client settings.
func newTestStore(t *testing.T, addr string) *RedisStore {
	t.Helper()
	client := newRedisClient(config{RedisAddr: addr})
	t.Cleanup(func() { _ = client.Close() })
	return NewRedisStore(client, discardLogger())
}

func TestRedisStoreAddAndList(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr)
	ctx := context.Background()

	entries, err := store.List(ctx, listLimit)
	if err != nil {
		t.Fatalf("List on empty store: %v", err)
	}
	if len(entries) != 0 {
		t.Fatalf("empty store: got %d entries, want 0", len(entries))
	}

	before := time.Now().UTC().Truncate(time.Second)
	var added []Entry
	for i, msg := range []string{"first", "second", "third"} {
		e, err := store.Add(ctx, fmt.Sprintf("user%d", i), msg)
		if err != nil {
			t.Fatalf("Add(%q): %v", msg, err)
		}
		added = append(added, e)
	}

	got, err := store.List(ctx, listLimit)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("List: got %d entries, want 3", len(got))
	}
	for i, want := range []Entry{added[2], added[1], added[0]} {
		if !got[i].CreatedAt.Equal(want.CreatedAt) || got[i].ID != want.ID || got[i].Name != want.Name || got[i].Message != want.Message {
			t.Errorf("entry %d: got %+v, want %+v (newest first)", i, got[i], want)
		}
		if got[i].CreatedAt.Location() != time.UTC || got[i].CreatedAt.Before(before) {
			t.Errorf("entry %d createdAt: got %v, want UTC, not before %v", i, got[i].CreatedAt, before)
		}
	}
	if added[0].ID == added[1].ID || added[1].ID == added[2].ID {
		t.Errorf("IDs: got %q %q %q, want distinct", added[0].ID, added[1].ID, added[2].ID)
	}

	limited, err := store.List(ctx, 2)
	if err != nil {
		t.Fatalf("List(2): %v", err)
	}
	if len(limited) != 2 || limited[0].Message != "third" {
		t.Errorf("List(2): got %+v, want the 2 newest starting with %q", limited, "third")
	}
}

func TestRedisStoreReplicasShareEntries(t *testing.T) {
	srv := startRedis(t)
	// Two stores with separate clients and handlers stand in for two pods.
	replicaA := NewHandler(newTestStore(t, srv.Addr), discardLogger())
	replicaB := NewHandler(newTestStore(t, srv.Addr), discardLogger())

	rec := serveRequest(t, replicaA, "POST", "/entries", "application/x-www-form-urlencoded", strings.NewReader("name=pod-a&message=from+A"))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST to A: got %d, want 303 (%q)", rec.Code, rec.Body.String())
	}
	rec = serveRequest(t, replicaB, "POST", "/entries", "application/json", strings.NewReader(`{"name":"pod-b","message":"from B"}`))
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST to B: got %d, want 201 (%q)", rec.Code, rec.Body.String())
	}

	for name, h := range map[string]http.Handler{"A": replicaA, "B": replicaB} {
		rec := serveRequest(t, h, "GET", "/api/entries", "", nil)
		body := rec.Body.String()
		iB, iA := strings.Index(body, "from B"), strings.Index(body, "from A")
		if rec.Code != 200 || iA < 0 || iB < 0 || iB > iA {
			t.Errorf("replica %s /api/entries: got %d %q, want 200 with B's entry before A's", name, rec.Code, body)
		}
		rec = serveRequest(t, h, "GET", "/", "", nil)
		if !strings.Contains(rec.Body.String(), "from A") || !strings.Contains(rec.Body.String(), "from B") {
			t.Errorf("replica %s page: want both entries, got %q", name, rec.Body.String())
		}
	}
}

func TestRedisStoreConcurrentAddsGetUniqueIDs(t *testing.T) {
	srv := startRedis(t)
	stores := []*RedisStore{newTestStore(t, srv.Addr), newTestStore(t, srv.Addr)}
	const n = 50

	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			e, err := stores[i%len(stores)].Add(context.Background(), "racer", fmt.Sprintf("msg %d", i))
			ids[i], errs[i] = e.ID, err
		})
	}
	wg.Wait()

	seen := make(map[string]int)
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("Add %d: %v", i, errs[i])
		}
		if prev, dup := seen[id]; dup {
			t.Errorf("ID %q: got it for adds %d and %d, want unique IDs", id, prev, i)
		}
		seen[id] = i
	}
	listed, err := stores[0].List(context.Background(), listLimit)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(listed) != n {
		t.Errorf("List: got %d entries, want %d (none lost)", len(listed), n)
	}
}

func TestRedisStoreListCappedButNothingDeleted(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr)
	ctx := context.Background()
	const total = listLimit + 20
	for i := 1; i <= total; i++ {
		if _, err := store.Add(ctx, "n", fmt.Sprintf("msg %d", i)); err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
	}

	rec := serveRequest(t, NewHandler(store, discardLogger()), "GET", "/api/entries", "", nil)
	if got := strings.Count(rec.Body.String(), `"id"`); got != listLimit {
		t.Errorf("/api/entries: got %d entries, want %d", got, listLimit)
	}
	if !strings.Contains(rec.Body.String(), fmt.Sprintf(`"message":"msg %d"`, total)) {
		t.Errorf("/api/entries: want the newest entry (msg %d) included", total)
	}

	n, err := store.client.LLen(ctx, entriesKey).Result()
	if err != nil {
		t.Fatalf("LLEN: %v", err)
	}
	if n != total {
		t.Errorf("stored entries: got %d, want %d (older entries must be kept)", n, total)
	}
}

func TestRedisStoreSkipsCorruptEntry(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr)
	ctx := context.Background()
	if _, err := store.Add(ctx, "n", "good"); err != nil {
		t.Fatal(err)
	}
	if err := store.client.LPush(ctx, entriesKey, "{not json").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := store.List(ctx, listLimit)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != 1 || got[0].Message != "good" {
		t.Errorf("List: got %+v, want only the readable entry", got)
	}
}

func TestRedisDown(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr)
	h := NewHandler(store, discardLogger())
	ctx := context.Background()

	if _, err := store.Add(ctx, "n", "before outage"); err != nil {
		t.Fatalf("Add while up: %v", err)
	}
	if rec := serveRequest(t, h, "GET", "/readyz", "", nil); rec.Code != http.StatusOK {
		t.Fatalf("readyz while up: got %d, want 200", rec.Code)
	}

	srv.Stop()

	if _, err := store.Add(ctx, "n", "during outage"); err == nil {
		t.Error("Add while down: got nil error, want an error")
	}
	if _, err := store.List(ctx, listLimit); err == nil {
		t.Error("List while down: got nil error, want an error")
	}
	if err := store.Ping(ctx); err == nil {
		t.Error("Ping while down: got nil error, want an error")
	}

	tests := []struct {
		method, path, contentType, body string
		wantStatus                      int
	}{
		{"POST", "/entries", "application/json", `{"message":"during outage"}`, http.StatusServiceUnavailable},
		{"POST", "/entries", "application/x-www-form-urlencoded", "message=during+outage", http.StatusServiceUnavailable},
		{"GET", "/api/entries", "", "", http.StatusServiceUnavailable},
		{"GET", "/", "", "", http.StatusServiceUnavailable},
		{"GET", "/readyz", "", "", http.StatusServiceUnavailable},
		{"GET", "/healthz", "", "", http.StatusOK},
	}
	for _, tt := range tests {
		rec := serveRequest(t, h, tt.method, tt.path, tt.contentType, strings.NewReader(tt.body))
		if rec.Code != tt.wantStatus {
			t.Errorf("%s %s (%s) while down: got %d, want %d", tt.method, tt.path, tt.contentType, rec.Code, tt.wantStatus)
		}
	}
}

func TestRedisStoreTimesOutOnUnresponsiveServer(t *testing.T) {
	// A listener that accepts but never replies models a hung Redis; every
	// store call must give up on its own instead of blocking the request.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	store := newTestStore(t, ln.Addr().String())
	store.opTimeout = 200 * time.Millisecond

	calls := map[string]func(context.Context) error{
		"Add":  func(ctx context.Context) error { _, err := store.Add(ctx, "n", "m"); return err },
		"List": func(ctx context.Context) error { _, err := store.List(ctx, listLimit); return err },
		"Ping": store.Ping,
	}
	for name, call := range calls {
		start := time.Now()
		err := call(context.Background())
		took := time.Since(start)
		if err == nil {
			t.Errorf("%s: got nil error, want a timeout", name)
		}
		if took > 2*time.Second {
			t.Errorf("%s: took %v, want it bounded by the %v operation timeout", name, took, store.opTimeout)
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
			t.Logf("%s: error %v (not a deadline error, but bounded)", name, err)
		}
	}
}
