// Store keeps guestbook entries in Redis so that every replica serves the same data.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
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
	// Add stores a new entry and returns it with its assigned ID and time.
	Add(ctx context.Context, name, message string) (Entry, error)
	// List returns at most limit entries, newest first.
	List(ctx context.Context, limit int) ([]Entry, error)
	// Ping reports whether the backing storage is reachable.
	Ping(ctx context.Context) error
}

const (
	// entriesKey holds the entries as JSON, newest at the head, so LRANGE 0 N
	// returns the newest ones without sorting.
	entriesKey = "guestbook:entries"
	// seqKey is a counter shared by all replicas, so IDs are unique cluster-wide.
	seqKey = "guestbook:entries:seq"

	// defaultOpTimeout bounds each Redis round trip so a hung Redis turns into
	// a 503 instead of a request that never finishes.
	defaultOpTimeout = 2 * time.Second
)

// RedisStore is a Store backed by a Redis list. It caches nothing in process,
// so replicas always agree on what the guestbook contains.
type RedisStore struct {
	client    redis.UniversalClient
	opTimeout time.Duration
	logger    *slog.Logger
	now       func() time.Time
}

// NewRedisStore returns a store using client. A nil logger discards the
// warnings about unreadable entries.
func NewRedisStore(client redis.UniversalClient, logger *slog.Logger) *RedisStore {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RedisStore{
		client:    client,
		opTimeout: defaultOpTimeout,
		logger:    logger,
		now:       time.Now,
	}
}

// Add assigns the next ID and pushes the entry onto the list.
func (s *RedisStore) Add(ctx context.Context, name, message string) (Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()

	seq, err := s.client.Incr(ctx, seqKey).Result()
	if err != nil {
		return Entry{}, fmt.Errorf("allocate entry id: %w", err)
	}
	// Second precision keeps createdAt a plain RFC 3339 timestamp; ordering
	// comes from the list position, not from the time.
	e := Entry{
		ID:        strconv.FormatInt(seq, 10),
		Name:      name,
		Message:   message,
		CreatedAt: s.now().UTC().Truncate(time.Second),
	}
	data, err := json.Marshal(e)
	if err != nil {
		return Entry{}, fmt.Errorf("encode entry: %w", err)
	}
	// If this fails after INCR succeeded the ID is simply skipped; the caller
	// gets an error, so nothing is reported as saved that was not.
	if err := s.client.LPush(ctx, entriesKey, data).Err(); err != nil {
		return Entry{}, fmt.Errorf("save entry: %w", err)
	}
	return e, nil
}

// List returns the newest entries first.
func (s *RedisStore) List(ctx context.Context, limit int) ([]Entry, error) {
	if limit <= 0 {
		return []Entry{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()

	raw, err := s.client.LRange(ctx, entriesKey, 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("list entries: %w", err)
	}
	entries := make([]Entry, 0, len(raw))
	for i, item := range raw {
		var e Entry
		if err := json.Unmarshal([]byte(item), &e); err != nil {
			// One corrupt value must not take the whole guestbook down; skip
			// it loudly so an operator can clean it up.
			s.logger.Warn("skipping unreadable entry", "key", entriesKey, "index", i, "error", err)
			continue
		}
		entries = append(entries, e)
	}
	return entries, nil
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
