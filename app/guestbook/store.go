// Store keeps guestbook entries in Redis so that every replica serves the same data.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Entry is one guestbook message as stored in Redis and returned by the JSON API.
type Entry struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"createdAt"`
}

// Store is the persistence the HTTP handlers need. It is an interface so the
// handlers can be tested against a fake without a Redis server.
type Store interface {
	// Add stores a new entry written by client, the address its write limit is
	// counted under, and returns it with its assigned ID and time. A client over
	// its limit gets a *LimitError and nothing is stored.
	Add(ctx context.Context, client, name, message string) (Entry, error)
	// View returns the newest entries (at most listLimit), newest first. It
	// includes every entry whose Add returned before View was called, through
	// this store or any other on the same Redis.
	View(ctx context.Context) (*View, error)
	// Ping reports whether the backing storage is reachable.
	Ping(ctx context.Context) error
}

// LimitError refuses a write because its client has used up its write limit.
type LimitError struct {
	// RetryAfter is how long until the client may write one entry again.
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("write limit reached, retry in %v", e.RetryAfter)
}

// Limits are the abuse limits on writes, shared by every replica because Redis
// holds their state.
type Limits struct {
	// WritesPerMinute is the rate at which one client may add entries, sustained.
	WritesPerMinute int
	// WriteBurst is how many entries one client may add at once, before the rate
	// applies: the size of its token bucket.
	WriteBurst int
	// MaxEntries is how many entries are kept: each write trims the oldest beyond it.
	MaxEntries int
}

// DefaultLimits are the limits when nothing else is configured: a person signs a
// guestbook a few times at most, so 5 at once and then one every 6 seconds never
// stops a human but stops a script filling Redis. 10,000 entries are 100 pages of
// history and, at the largest entry the rules allow (about 4 KB as JSON), 40 MB,
// within Redis's 200 MB maxmemory.
func DefaultLimits() Limits {
	return Limits{WritesPerMinute: 10, WriteBurst: 5, MaxEntries: 10000}
}

const (
	// entriesKey holds the entries as JSON, newest at the head, so LRANGE 0 N
	// returns the newest ones without sorting.
	entriesKey = "guestbook:entries"
	// seqKey is a counter shared by all replicas, so IDs are unique cluster-wide.
	seqKey = "guestbook:entries:seq"
	// versionKey names the last batch written. With the counter it is the
	// guestbook's version: it changes with every write, and never comes back to a
	// value it had for other data (see RedisStore.writer).
	versionKey = "guestbook:entries:version"
	// limitKeyPrefix + client address is the client's token bucket.
	limitKeyPrefix = "guestbook:writes:"

	// defaultOpTimeout bounds each Redis round trip so a hung Redis turns into
	// a 503 instead of a request that never finishes.
	defaultOpTimeout = 2 * time.Second
	// maxBatch bounds one write script's size; under any load this server sees,
	// fewer writes than this arrive during one round trip.
	maxBatch = 128
	// queueSize is how many requests may wait for each loop without blocking.
	queueSize = 1024
	// A batch of fewer than lingerBelow writes waits lingerFor once before it is
	// sent. Measured with make bench-app (50 clients, 2 cores): batches of about 14
	// grew, POST's CPU per request fell by about a tenth and its p50 with it;
	// waiting longer (300 µs and more) left the cores idle and was slower.
	lingerBelow = 32
	lingerFor   = 200 * time.Microsecond
)

// addScript adds a batch of entries in one round trip: the limiter's check, the
// IDs, the list, its cap and the version, atomically. Everything that can fail is
// checked before the first write, so the script fails without effect or applies
// the whole batch. The shebang makes Redis refuse it up front when over maxmemory,
// instead of failing halfway.
//
// The limiter is a token bucket kept as GCRA does: one number per client, the
// time (µs) at which its bucket will be full again. A write is allowed while that
// time is at most burst-1 intervals ahead, and moves it one interval on; the key
// expires when the bucket is full, the same as absent.
//
// KEYS: entries list, ID counter, version key, then each entry's bucket key.
// ARGV: writes per minute, burst, max entries, the new version, then each entry's
// JSON after its id. The result has one integer per entry: its ID when saved, or
// minus the milliseconds until its client may write again.
var addScript = redis.NewScript(`#!lua
local perMinute, burst, maxEntries = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local listType = redis.call('TYPE', KEYS[1]).ok
if listType ~= 'list' and listType ~= 'none' then
  return redis.error_reply(KEYS[1] .. ' holds a ' .. listType .. ', not a list')
end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
if not seq then
  return redis.error_reply(KEYS[2] .. ' does not hold a number')
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = 60000000 / perMinute
local tolerance = interval * (burst - 1)
local saved = redis.call('MGET', unpack(KEYS, 4))
local full, results, pushed = {}, {}, {}
for i = 4, #KEYS do
  local key = KEYS[i]
  local at = full[key] or tonumber(saved[i - 3]) or now
  if at < now then
    at = now
  end
  if at - now <= tolerance then
    at = at + interval
    seq = seq + 1
    pushed[#pushed + 1] = '{"id":"' .. string.format('%d', seq) .. '",' .. ARGV[i + 1]
    results[#results + 1] = seq
  else
    results[#results + 1] = -math.ceil((at - now - tolerance) / 1000)
  end
  full[key] = at
end
-- The buckets are not written to the append-only file (nor to replicas): a
-- restarted Redis may have forgotten a client's recent writes and let it write one
-- more burst, and the file does not grow by a key per write.
redis.set_repl(redis.REPL_NONE)
for key, at in pairs(full) do
  redis.call('SET', key, string.format('%d', at), 'PX', math.ceil((at - now) / 1000))
end
redis.set_repl(redis.REPL_ALL)
if #pushed > 0 then
  redis.call('LPUSH', KEYS[1], unpack(pushed))
  redis.call('LTRIM', KEYS[1], 0, maxEntries - 1)
  redis.call('INCRBY', KEYS[2], #pushed)
  redis.call('SET', KEYS[3], ARGV[4])
end
return results
`)

// viewScript returns the guestbook's version and, unless the caller has that
// version already, the newest entries, read in the same step so that they are
// that version's.
//
// KEYS: ID counter, version key, entries list. ARGV: the caller's version, how many
// entries.
var viewScript = redis.NewScript(`#!lua flags=no-writes
local v = redis.call('MGET', KEYS[1], KEYS[2])
local version = (v[1] or '0') .. '/' .. (v[2] or '-')
if version == ARGV[1] then
  return {version}
end
return {version, redis.call('LRANGE', KEYS[3], 0, tonumber(ARGV[2]) - 1)}
`)

// RedisStore is a Store backed by Redis.
//
// Reads: each store caches the view of the newest entries, with their renderings,
// under the guestbook's version, and every View asks Redis for the version again
// (one small round trip; the entries come along only when the version changed).
// The check that answers a View is sent after View was called, so a write
// acknowledged through any replica before that is seen. Concurrent Views share one
// check, and concurrent Adds one script run: one round trip serves every request
// that arrived while the previous one was in flight (a short batch waits lingerFor
// once for more).
type RedisStore struct {
	client    redis.UniversalClient
	limits    Limits
	opTimeout time.Duration
	logger    *slog.Logger
	now       func() time.Time

	// writer is random per store, and each batch's version is writer.batch, so a
	// version never names two different states of the data: not even when Redis
	// restarts without its last second of writes and the counter repeats values.
	writer  string
	batches uint64 // used by the write loop only

	writes    chan *writeRequest
	reads     chan chan<- viewResult
	stop      chan struct{}
	loops     sync.WaitGroup
	closeOnce sync.Once
}

type writeRequest struct {
	ctx    context.Context
	client string
	tail   []byte // the entry's JSON after its id
	// sendBy is when the request stops waiting to be sent: a Redis that takes
	// opTimeout per batch, with many writes queued, would otherwise keep the
	// last ones waiting for several batches.
	sendBy time.Time
	done   chan writeResult
}

// writeRequests and viewReplies recycle what each request hands the loops, so a
// request allocates little; an item goes back only once its answer was read.
var (
	writeRequests = sync.Pool{New: func() any { return &writeRequest{done: make(chan writeResult, 1)} }}
	viewReplies   = sync.Pool{New: func() any { return make(chan viewResult, 1) }}
)

type writeResult struct {
	id         int64
	retryAfter time.Duration
	err        error
}

type viewResult struct {
	view *View
	err  error
}

var errStoreClosed = errors.New("store closed")

// NewRedisStore returns a store using client, enforcing limits. A nil logger
// discards the warnings about unreadable entries. Close stops it.
func NewRedisStore(client redis.UniversalClient, limits Limits, logger *slog.Logger) *RedisStore {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails on Linux
	s := &RedisStore{
		client:    client,
		limits:    limits,
		opTimeout: defaultOpTimeout,
		logger:    logger,
		now:       time.Now,
		writer:    hex.EncodeToString(id[:]),
		// Buffered, so that a request queues without parking and being woken
		// just to queue: it parks once, for its answer. The loops drain all
		// that is queued before each round trip.
		writes: make(chan *writeRequest, queueSize),
		reads:  make(chan chan<- viewResult, queueSize),
		stop:   make(chan struct{}),
	}
	s.loops.Add(2)
	go s.writeLoop()
	go s.readLoop()
	return s
}

// Close stops the store's loops after the round trips in flight; later calls fail.
func (s *RedisStore) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.loops.Wait()
	})
}

// Add queues the entry for the next write batch and waits for its result.
func (s *RedisStore) Add(ctx context.Context, client, name, message string) (Entry, error) {
	now := s.now()
	// Second precision keeps createdAt a plain RFC 3339 timestamp; ordering
	// comes from the list position, not from the time.
	e := Entry{Name: name, Message: message, CreatedAt: now.UTC().Truncate(time.Second)}
	req := writeRequests.Get().(*writeRequest)
	req.ctx, req.client, req.sendBy = ctx, client, now.Add(s.opTimeout)
	req.tail = appendEntryTail(req.tail[:0], name, message, e.CreatedAt)
	select {
	case s.writes <- req:
	case <-ctx.Done():
		writeRequests.Put(req)
		return Entry{}, fmt.Errorf("save entry: %w", ctx.Err())
	case <-s.stop:
		writeRequests.Put(req)
		return Entry{}, errStoreClosed
	}
	// The loop answers every request it took within two operation timeouts:
	// one for the wait to be sent, one for the batch's round trip.
	select {
	case res := <-req.done:
		req.ctx = nil
		writeRequests.Put(req)
		switch {
		case res.err != nil:
			return Entry{}, res.err
		case res.retryAfter > 0:
			return Entry{}, &LimitError{RetryAfter: res.retryAfter}
		}
		e.ID = strconv.FormatInt(res.id, 10)
		return e, nil
	case <-ctx.Done():
		// The batch may still save the entry; its writer is told it was not,
		// which errs on the safe side: nothing is reported saved that was not.
		// (req is the loop's until it answers, so it is not recycled.)
		return Entry{}, fmt.Errorf("save entry: %w", ctx.Err())
	case <-s.stop:
		// Closed with the request still queued: the loop may have left without it.
		return Entry{}, errStoreClosed
	}
}

// writeLoop runs one batch at a time: every write that arrived while the previous
// batch was in flight goes into the next, up to maxBatch.
func (s *RedisStore) writeLoop() {
	defer s.loops.Done()
	var queue []*writeRequest
	for {
		if len(queue) == 0 {
			select {
			case req := <-s.writes:
				queue = append(queue, req)
			case <-s.stop:
				return
			}
		}
		lingered := false
	more:
		for {
			select {
			case req := <-s.writes:
				queue = append(queue, req)
			default:
				// Group commit: a short batch waits once for more writes. A script
				// run costs Redis and this loop the same fixed work (a round trip,
				// its syscalls and wake-ups) whatever its size, so under load a
				// fuller batch makes every write cheaper; a lone write waits
				// lingerFor more.
				if !lingered && len(queue) < lingerBelow {
					lingered = true
					time.Sleep(lingerFor)
					continue
				}
				break more
			}
		}
		n := min(len(queue), maxBatch)
		err := s.runBatch(queue[:n])
		rest := copy(queue, queue[n:])
		clear(queue[rest:])
		queue = queue[:rest]
		if err != nil {
			// Redis failed this batch; the queued writes would most likely fail
			// too, one timeout after another. Fail them now.
			for _, req := range queue {
				req.done <- writeResult{err: err}
			}
			clear(queue)
			queue = queue[:0]
		}
	}
}

// runBatch sends the batch's live requests as one script run and answers every
// request of the batch. It returns the error that failed the run, if any.
func (s *RedisStore) runBatch(batch []*writeRequest) error {
	now := time.Now()
	live := batch[:0]
	for _, req := range batch {
		// A writer that gave up is not saved behind its back.
		if err := req.ctx.Err(); err != nil {
			req.done <- writeResult{err: fmt.Errorf("save entry: %w", err)}
			continue
		}
		if now.After(req.sendBy) {
			req.done <- writeResult{err: fmt.Errorf("save entry: not sent within %v", s.opTimeout)}
			continue
		}
		live = append(live, req)
	}
	if len(live) == 0 {
		return nil
	}
	s.batches++
	keys := make([]string, 0, 3+len(live))
	keys = append(keys, entriesKey, seqKey, versionKey)
	args := make([]any, 0, 4+len(live))
	args = append(args, s.limits.WritesPerMinute, s.limits.WriteBurst, s.limits.MaxEntries,
		s.writer+"."+strconv.FormatUint(s.batches, 10))
	for _, req := range live {
		keys = append(keys, limitKeyPrefix+req.client)
		args = append(args, req.tail)
	}

	ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout)
	res, err := addScript.Run(ctx, s.client, keys, args...).Int64Slice()
	cancel()
	if err == nil && len(res) != len(live) {
		err = fmt.Errorf("add script returned %d results for %d entries", len(res), len(live))
	}
	if err != nil {
		err = fmt.Errorf("save entry: %w", err)
	}
	for i, req := range live {
		switch {
		case err != nil:
			req.done <- writeResult{err: err}
		case res[i] > 0:
			req.done <- writeResult{id: res[i]}
		default:
			req.done <- writeResult{retryAfter: max(time.Millisecond, time.Duration(-res[i])*time.Millisecond)}
		}
	}
	clear(batch)
	return err
}

// View asks the read loop for the current view.
func (s *RedisStore) View(ctx context.Context) (*View, error) {
	done := viewReplies.Get().(chan viewResult)
	select {
	case s.reads <- done:
	case <-ctx.Done():
		viewReplies.Put(done)
		return nil, fmt.Errorf("read entries: %w", ctx.Err())
	case <-s.stop:
		viewReplies.Put(done)
		return nil, errStoreClosed
	}
	// The loop answers every waiter after each check, and each check is bounded
	// by opTimeout, so this wait is too: two checks at most.
	select {
	case res := <-done:
		viewReplies.Put(done)
		return res.view, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("read entries: %w", ctx.Err())
	case <-s.stop:
		return nil, errStoreClosed
	}
}

// readLoop runs one version check at a time and answers every View that arrived
// before it was sent.
func (s *RedisStore) readLoop() {
	defer s.loops.Done()
	var current *View
	waiters := make([]chan<- viewResult, 0, 64)
	for {
		select {
		case w := <-s.reads:
			waiters = append(waiters[:0], w)
		case <-s.stop:
			return
		}
	more:
		for {
			select {
			case w := <-s.reads:
				waiters = append(waiters, w)
			default:
				break more
			}
		}
		view, err := s.fetchView(current)
		if err == nil {
			current = view
		}
		for _, w := range waiters {
			w <- viewResult{view: view, err: err}
		}
		clear(waiters)
	}
}

// fetchView returns current if the guestbook's version is still current's, else
// a new view read from Redis.
func (s *RedisStore) fetchView(current *View) (*View, error) {
	have := ""
	if current != nil {
		have = current.Version
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout)
	defer cancel()
	res, err := viewScript.RunRO(ctx, s.client, []string{seqKey, versionKey, entriesKey}, have, listLimit).Slice()
	if err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	version, _ := res[0].(string)
	if version == "" {
		return nil, fmt.Errorf("read entries: unexpected reply %v", res)
	}
	if version == have {
		return current, nil
	}
	var raw []any
	if len(res) > 1 {
		raw, _ = res[1].([]any)
	}
	entries := make([]Entry, 0, len(raw))
	for i, item := range raw {
		var e Entry
		data, _ := item.(string)
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			// One corrupt value must not take the whole guestbook down; skip
			// it loudly so an operator can clean it up.
			s.logger.Warn("skipping unreadable entry", "key", entriesKey, "index", i, "error", err)
			continue
		}
		entries = append(entries, e)
	}
	return NewView(version, entries), nil
}

// Ping checks that Redis answers.
func (s *RedisStore) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}
