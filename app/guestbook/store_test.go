// Tests for RedisStore against a real redis-server process.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// unlimited lets the tests that are not about the write limit write freely.
var unlimited = Limits{WritesPerMinute: 100_000_000, WriteBurst: 1_000_000, MaxEntries: 1_000_000}

// newTestStore connects a store to addr with the production client settings.
func newTestStore(t *testing.T, addr string, limits Limits) *RedisStore {
	t.Helper()
	client := newRedisClient(config{RedisAddr: addr})
	store := NewRedisStore(client, limits, discardLogger())
	// Cleanups run last-in first-out: the store stops before its client closes.
	t.Cleanup(func() { _ = client.Close() })
	t.Cleanup(store.Close)
	return store
}

func mustAdd(t *testing.T, s Store, client, name, message string) Entry {
	t.Helper()
	e, err := s.Add(context.Background(), client, name, message)
	if err != nil {
		t.Fatalf("Add(%q, %q): %v", client, message, err)
	}
	return e
}

func mustView(t *testing.T, s Store) []Entry {
	t.Helper()
	v, err := s.View(context.Background())
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return v.Entries
}

func messages(entries []Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Message
	}
	return out
}

func TestRedisStoreAddAndView(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr, unlimited)

	if got := mustView(t, store); len(got) != 0 {
		t.Fatalf("empty store: got %d entries, want 0", len(got))
	}

	before := time.Now().UTC().Truncate(time.Second)
	var added []Entry
	for i, msg := range []string{"first", "second", "third"} {
		added = append(added, mustAdd(t, store, "192.0.2.1", fmt.Sprintf("user%d", i), msg))
	}

	got := mustView(t, store)
	if len(got) != 3 {
		t.Fatalf("View: got %d entries, want 3", len(got))
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

	// What Redis stores is what the API serves: the entry's JSON, byte for byte.
	raw, err := store.client.LIndex(context.Background(), entriesKey, 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := string(appendEntryJSON(nil, added[2])); raw != want {
		t.Errorf("stored entry: got %s, want %s", raw, want)
	}
}

func TestRedisStoreViewIsShownAtMostListLimit(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr, unlimited)
	for i := 1; i <= listLimit+20; i++ {
		mustAdd(t, store, "192.0.2.1", "n", fmt.Sprintf("msg %d", i))
	}
	got := mustView(t, store)
	if len(got) != listLimit || got[0].Message != fmt.Sprintf("msg %d", listLimit+20) {
		t.Errorf("View: got %d entries starting with %q, want the newest %d", len(got), got[0].Message, listLimit)
	}
}

// newReplica is one guestbook pod: a store of its own (so a cache of its own) and
// a real HTTP server, on the shared Redis.
func newReplica(t *testing.T, addr string, limits Limits) (*RedisStore, *httptest.Server) {
	t.Helper()
	store := newTestStore(t, addr, limits)
	ts := httptest.NewServer(NewHandler(store, discardLogger()))
	t.Cleanup(ts.Close)
	return store, ts
}

func httpDo(t *testing.T, method, url, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// No redirects: a 303 is the answer under test.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(data)
}

// TestReplicasSeeEachOthersWrites is the promise in the README: an entry written
// through one pod is in the very next read through any pod, page and API alike,
// although each pod caches what it renders.
func TestReplicasSeeEachOthersWrites(t *testing.T) {
	srv := startRedis(t)
	_, a := newReplica(t, srv.Addr, unlimited)
	_, b := newReplica(t, srv.Addr, unlimited)
	replicas := []*httptest.Server{a, b}

	for i := range 20 {
		writer, reader := replicas[i%2], replicas[(i+1)%2]
		// Both pods have a cached view of the state before the write.
		for _, r := range replicas {
			httpDo(t, "GET", r.URL+"/api/entries", "", "")
			httpDo(t, "GET", r.URL+"/", "", "")
		}
		msg := fmt.Sprintf("entry %d via replica %d", i, i%2)
		var status int
		if i%4 < 2 {
			status, _, _ = httpDo(t, "POST", writer.URL+"/entries", "application/json", fmt.Sprintf(`{"message":%q}`, msg))
		} else {
			status, _, _ = httpDo(t, "POST", writer.URL+"/entries", "application/x-www-form-urlencoded", "message="+strings.ReplaceAll(msg, " ", "+"))
		}
		if status != http.StatusCreated && status != http.StatusSeeOther {
			t.Fatalf("POST %q: got %d", msg, status)
		}
		for _, path := range []string{"/api/entries", "/"} {
			_, _, body := httpDo(t, "GET", reader.URL+path, "", "")
			if !strings.Contains(body, msg) {
				t.Fatalf("GET %s on the other replica right after the write: %q missing", path, msg)
			}
		}
	}
}

// TestReplicasSeeEachOthersWritesConcurrently: writers on both pods at once, each
// checking its own entry through the other pod as soon as the write returns.
func TestReplicasSeeEachOthersWritesConcurrently(t *testing.T) {
	srv := startRedis(t)
	stores := []*RedisStore{newTestStore(t, srv.Addr, unlimited), newTestStore(t, srv.Addr, unlimited)}
	const writers, writes = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				via, check := stores[(w+i)%2], stores[(w+i+1)%2]
				e, err := via.Add(context.Background(), "192.0.2.1", "w", fmt.Sprintf("writer %d entry %d", w, i))
				if err != nil {
					errs <- err
					return
				}
				v, err := check.View(context.Background())
				if err != nil {
					errs <- err
					return
				}
				found := false
				for _, got := range v.Entries {
					found = found || got.ID == e.ID
				}
				if !found {
					errs <- fmt.Errorf("entry %s (%q) written through one replica is missing from the other's next view", e.ID, e.Message)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestViewVersionNeverRepeats: Redis restarted without its last writes hands out
// the same IDs again. A pod that cached the lost data must not take the new data
// for it because the counter reads the same.
func TestViewVersionNeverRepeats(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	reader := newTestStore(t, srv.Addr, unlimited)
	mustAdd(t, newTestStore(t, srv.Addr, unlimited), "192.0.2.1", "n", "lost in the crash")
	if got := messages(mustView(t, reader)); len(got) != 1 {
		t.Fatalf("before: got %q, want one entry", got)
	}

	if err := reader.client.FlushAll(ctx).Err(); err != nil { // the lost second
		t.Fatal(err)
	}
	mustAdd(t, newTestStore(t, srv.Addr, unlimited), "192.0.2.1", "n", "written after the restart")

	if got := messages(mustView(t, reader)); len(got) != 1 || got[0] != "written after the restart" {
		t.Errorf("after: got %q, want only the entry written after the restart", got)
	}
}

// TestViewSeesWritesOfThePreviousRelease: during a rolling update, pods of the
// previous release write with INCR then LPUSH and touch no version key; the new
// pods' caches must still notice.
func TestViewSeesWritesOfThePreviousRelease(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	store := newTestStore(t, srv.Addr, unlimited)
	mustAdd(t, store, "192.0.2.1", "n", "new release")
	mustView(t, store)

	id, err := store.client.Incr(ctx, seqKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf(`{"id":"%d","name":"n","message":"previous release","createdAt":"2024-05-06T07:08:09Z"}`, id)
	if err := store.client.LPush(ctx, entriesKey, old).Err(); err != nil {
		t.Fatal(err)
	}
	if got := messages(mustView(t, store)); len(got) != 2 || got[0] != "previous release" {
		t.Errorf("View: got %q, want the previous release's entry first", got)
	}
}

func TestRedisStoreConcurrentAddsGetUniqueIDs(t *testing.T) {
	srv := startRedis(t)
	stores := []*RedisStore{newTestStore(t, srv.Addr, unlimited), newTestStore(t, srv.Addr, unlimited)}
	const n = 300

	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			e, err := stores[i%len(stores)].Add(context.Background(), fmt.Sprintf("192.0.2.%d", i%7), "racer", fmt.Sprintf("msg %d", i))
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
	total, err := stores[0].client.LLen(context.Background(), entriesKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if total != n {
		t.Errorf("stored entries: got %d, want %d (none lost)", total, n)
	}
	// Fewer round trips than writes: concurrent writes share one script run.
	if b := stores[0].batches + stores[1].batches; b >= n {
		t.Logf("write batches: %d for %d writes (no batching happened; fine on a slow machine)", b, n)
	}
}

func TestWriteLimit(t *testing.T) {
	srv := startRedis(t)
	// 60 a minute is one a second: a refused write may retry in at most a second.
	limits := Limits{WritesPerMinute: 60, WriteBurst: 3, MaxEntries: 1000}
	a, b := newTestStore(t, srv.Addr, limits), newTestStore(t, srv.Addr, limits)
	ctx := context.Background()

	t.Run("burst, then refused with a retry time, on every replica", func(t *testing.T) {
		// The bucket lives in Redis: writes through both pods count against it.
		for i, s := range []*RedisStore{a, b, a} {
			mustAdd(t, s, "198.51.100.7", "n", fmt.Sprintf("burst %d", i))
		}
		for _, s := range []*RedisStore{a, b} {
			_, err := s.Add(ctx, "198.51.100.7", "n", "one too many")
			var limited *LimitError
			if !errors.As(err, &limited) {
				t.Fatalf("fourth write: got %v, want a *LimitError", err)
			}
			if limited.RetryAfter <= 0 || limited.RetryAfter > time.Second {
				t.Errorf("RetryAfter: got %v, want within (0, 1s] at one write a second", limited.RetryAfter)
			}
		}
		for _, e := range mustView(t, a) {
			if e.Message == "one too many" {
				t.Error("a refused write was stored")
			}
		}
	})

	t.Run("other clients are not affected", func(t *testing.T) {
		mustAdd(t, b, "198.51.100.8", "n", "another client")
	})

	t.Run("refills at the configured rate", func(t *testing.T) {
		_, err := a.Add(ctx, "198.51.100.7", "n", "still too many")
		var limited *LimitError
		if !errors.As(err, &limited) {
			t.Fatalf("got %v, want a *LimitError", err)
		}
		time.Sleep(limited.RetryAfter + 50*time.Millisecond)
		mustAdd(t, a, "198.51.100.7", "n", "after waiting as told")
	})

	t.Run("one batch honours the limit", func(t *testing.T) {
		// Concurrent writes of one client land in the same script run; exactly the
		// burst gets through.
		var wg sync.WaitGroup
		var mu sync.Mutex
		saved, refused := 0, 0
		for i := range 12 {
			wg.Go(func() {
				_, err := []*RedisStore{a, b}[i%2].Add(ctx, "203.0.113.9", "n", fmt.Sprintf("flood %d", i))
				var limited *LimitError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					saved++
				case errors.As(err, &limited):
					refused++
				default:
					t.Errorf("Add: %v", err)
				}
			})
		}
		wg.Wait()
		// A write may also refill a fraction of a token while the others run,
		// but not a whole one within the test's milliseconds.
		if saved != limits.WriteBurst || refused != 12-limits.WriteBurst {
			t.Errorf("12 concurrent writes: %d saved, %d refused; want %d saved, the rest refused", saved, refused, limits.WriteBurst)
		}
	})

	t.Run("bucket keys expire when full again", func(t *testing.T) {
		mustAdd(t, a, "198.51.100.99", "n", "one write")
		ttl, err := a.client.PTTL(ctx, limitKeyPrefix+"198.51.100.99").Result()
		if err != nil {
			t.Fatal(err)
		}
		// One write at one a second: the bucket is full again, the same as
		// absent, a second later.
		if ttl <= 0 || ttl > time.Second {
			t.Errorf("bucket TTL: got %v, want within (0, 1s]", ttl)
		}
	})
}

func TestWriteLimitOverHTTP(t *testing.T) {
	srv := startRedis(t)
	_, ts := newReplica(t, srv.Addr, Limits{WritesPerMinute: 30, WriteBurst: 2, MaxEntries: 1000})

	post := func(contentType, body, forwardedFor string) (int, http.Header, string) {
		req, err := http.NewRequest("POST", ts.URL+"/entries", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		// A client cannot escape its limit by claiming to be someone else.
		req.Header.Set("X-Forwarded-For", forwardedFor)
		req.Header.Set("X-Real-IP", forwardedFor)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(data)
	}

	for i := range 2 {
		if status, _, body := post("application/json", `{"message":"hi"}`, fmt.Sprintf("203.0.113.%d", i)); status != http.StatusCreated {
			t.Fatalf("write %d: got %d %q, want 201", i, status, body)
		}
	}
	status, h, body := post("application/json", `{"message":"hi"}`, "203.0.113.50")
	if status != http.StatusTooManyRequests {
		t.Fatalf("third JSON write: got %d %q, want 429", status, body)
	}
	// 30 a minute: one write every 2 s, so at most 2 s to wait.
	if secs, err := strconv.Atoi(h.Get("Retry-After")); err != nil || secs < 1 || secs > 2 {
		t.Errorf("Retry-After: got %q, want 1 or 2 seconds", h.Get("Retry-After"))
	}
	if !strings.Contains(body, `"error":"too many entries from your address`) || h.Get("Content-Type") != "application/json" {
		t.Errorf("429 body: got %q (%s), want a JSON error", body, h.Get("Content-Type"))
	}
	status, h, body = post("application/x-www-form-urlencoded", "message=hi", "203.0.113.51")
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("form write over the limit: got %d %q (Retry-After %q, %s), want 429 text with Retry-After", status, body, h.Get("Retry-After"), h.Get("Content-Type"))
	}
}

func TestEntryCapKeepsTheNewest(t *testing.T) {
	srv := startRedis(t)
	limits := unlimited
	limits.MaxEntries = 100
	store := newTestStore(t, srv.Addr, limits)
	ctx := context.Background()
	const total = 130
	var last Entry
	for i := 1; i <= total; i++ {
		last = mustAdd(t, store, "192.0.2.1", "n", fmt.Sprintf("msg %d", i))
	}

	n, err := store.client.LLen(ctx, entriesKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(limits.MaxEntries) {
		t.Errorf("stored entries: got %d, want the cap, %d", n, limits.MaxEntries)
	}
	oldest, err := store.client.LIndex(ctx, entriesKey, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"message":"msg %d"`, total-limits.MaxEntries+1); !strings.Contains(oldest, want) {
		t.Errorf("oldest kept entry: got %s, want the one with %s (the oldest are trimmed)", oldest, want)
	}
	if got := mustView(t, store); got[0].ID != last.ID {
		t.Errorf("newest entry: got %+v, want %+v", got[0], last)
	}
	// IDs keep counting: a trimmed entry's ID is never handed out again.
	if last.ID != strconv.Itoa(total) {
		t.Errorf("last ID: got %s, want %d", last.ID, total)
	}
}

// TestWriteOverMaxmemoryStoresNothing: a Redis at its memory limit refuses the
// whole write script before it runs, so a 503 never leaves half a batch behind.
func TestWriteOverMaxmemoryStoresNothing(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr, unlimited)
	ctx := context.Background()
	mustAdd(t, store, "192.0.2.1", "n", "before")
	if err := store.client.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	rec := serveRequest(t, NewHandler(store, discardLogger()), "POST", "/entries", "application/json", strings.NewReader(`{"message":"over the limit"}`))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("write over maxmemory: got %d, want 503", rec.Code)
	}
	if seq, _ := store.client.Get(ctx, seqKey).Result(); seq != "1" {
		t.Errorf("ID counter: got %q, want 1 (untouched)", seq)
	}
	if err := store.client.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if got := messages(mustView(t, store)); len(got) != 1 {
		t.Errorf("entries: got %q, want only the one written before", got)
	}
	mustAdd(t, store, "192.0.2.1", "n", "after")
}

func TestRedisStoreSkipsCorruptEntry(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr, unlimited)
	ctx := context.Background()
	if err := store.client.LPush(ctx, entriesKey, "{not json").Err(); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, store, "192.0.2.1", "n", "good")
	if got := messages(mustView(t, store)); len(got) != 1 || got[0] != "good" {
		t.Errorf("View: got %q, want only the readable entry", got)
	}
}

func TestRedisDown(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr, unlimited)
	h := NewHandler(store, discardLogger())
	ctx := context.Background()

	mustAdd(t, store, "192.0.2.1", "n", "before outage")
	mustView(t, store) // cached: an outage must not serve it
	if rec := serveRequest(t, h, "GET", "/readyz", "", nil); rec.Code != http.StatusOK {
		t.Fatalf("readyz while up: got %d, want 200", rec.Code)
	}

	srv.Stop()

	if _, err := store.Add(ctx, "192.0.2.1", "n", "during outage"); err == nil {
		t.Error("Add while down: got nil error, want an error")
	}
	if _, err := store.View(ctx); err == nil {
		t.Error("View while down: got nil error, want an error")
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

	store := newTestStore(t, ln.Addr().String(), unlimited)
	store.opTimeout = 200 * time.Millisecond

	calls := map[string]func(context.Context) error{
		"Add":  func(ctx context.Context) error { _, err := store.Add(ctx, "192.0.2.1", "n", "m"); return err },
		"View": func(ctx context.Context) error { _, err := store.View(ctx); return err },
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
	}

	// More writes than one batch takes, all waiting on the hung Redis: each still
	// gets its answer within two operation timeouts (the wait to be sent, then
	// its batch), not one timeout per batch ahead of it.
	const n = 3 * maxBatch
	var wg sync.WaitGroup
	took := make([]time.Duration, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			_, errs[i] = store.Add(context.Background(), "192.0.2.1", "n", "m")
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] == nil {
			t.Fatalf("concurrent Add %d: got nil error, want one", i)
		}
		if limit := 2*store.opTimeout + 500*time.Millisecond; took[i] > limit {
			t.Fatalf("concurrent Add %d: took %v, want at most %v", i, took[i], limit)
		}
	}
}

func TestRedisStoreClosed(t *testing.T) {
	srv := startRedis(t)
	store := newTestStore(t, srv.Addr, unlimited)
	mustAdd(t, store, "192.0.2.1", "n", "before")
	store.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := store.Add(context.Background(), "192.0.2.1", "n", "after"); err == nil {
			t.Error("Add after Close: got nil error")
		}
		if _, err := store.View(context.Background()); err == nil {
			t.Error("View after Close: got nil error")
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Add or View after Close did not return")
	}
}
