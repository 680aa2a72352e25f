// Tests for the HTTP handlers, run against the in-memory fake store.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var errStoreDown = errors.New("redis: connection refused")

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serveRequest runs one request through the full handler (routing, logging,
// headers) and returns the recorded response.
func serveRequest(t *testing.T, h http.Handler, method, target, contentType string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	// A real server, unlike a ResponseRecorder, drops HEAD bodies and applies
	// the mux's method handling exactly as production does.
	store := &fakeStore{}
	ts := httptest.NewServer(NewHandler(store, discardLogger()))
	t.Cleanup(ts.Close)

	tests := []struct {
		method     string
		path       string
		wantStatus int
		wantBody   string // substring; empty means "do not check"
		wantType   string // Content-Type prefix; empty means "do not check"
		wantAllow  string // Allow header on 405
	}{
		{method: "GET", path: "/", wantStatus: 200, wantBody: "<form method=\"post\" action=\"/entries\">", wantType: "text/html"},
		{method: "HEAD", path: "/", wantStatus: 200, wantType: "text/html"},
		{method: "POST", path: "/", wantStatus: 405, wantAllow: "GET, HEAD"},
		{method: "DELETE", path: "/", wantStatus: 405, wantAllow: "GET, HEAD"},
		{method: "GET", path: "/entries", wantStatus: 405, wantAllow: "POST"},
		{method: "PUT", path: "/entries", wantStatus: 405, wantAllow: "POST"},
		{method: "GET", path: "/api/entries", wantStatus: 200, wantBody: `{"entries":[]}`, wantType: "application/json"},
		{method: "POST", path: "/api/entries", wantStatus: 405, wantAllow: "GET, HEAD"},
		{method: "GET", path: "/healthz", wantStatus: 200, wantBody: "ok", wantType: "text/plain"},
		{method: "POST", path: "/healthz", wantStatus: 405},
		{method: "GET", path: "/readyz", wantStatus: 200, wantBody: "ok", wantType: "text/plain"},
		{method: "GET", path: "/nope", wantStatus: 404},
		{method: "GET", path: "/index.html", wantStatus: 404},
		{method: "GET", path: "/api/entries/1", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)

			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantBody != "" && !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body: got %q, want it to contain %q", body, tt.wantBody)
			}
			if got := resp.Header.Get("Content-Type"); tt.wantType != "" && !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type: got %q, want prefix %q", got, tt.wantType)
			}
			if got := resp.Header.Get("Allow"); tt.wantAllow != "" && got != tt.wantAllow {
				t.Errorf("Allow: got %q, want %q", got, tt.wantAllow)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD body: got %d bytes, want 0", len(body))
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want %q", got, "nosniff")
			}
		})
	}
}

func TestHealthzExactBody(t *testing.T) {
	// Probes and the CI smoke test compare the body literally.
	rec := serveRequest(t, NewHandler(&fakeStore{}, discardLogger()), "GET", "/healthz", "", nil)
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Errorf("got %d %q, want 200 %q", rec.Code, rec.Body.String(), "ok")
	}
}

func TestCreateEntry(t *testing.T) {
	const (
		form     = "application/x-www-form-urlencoded"
		jsonType = "application/json"
	)
	tooBig := strings.Repeat("a", maxBodyBytes+1)

	tests := []struct {
		name        string
		contentType string
		body        string
		addErr      error
		wantStatus  int
		wantBody    string // substring of the response body
		wantStored  *Entry // nil means nothing may be stored; ID and time are ignored
	}{
		// Accepted input.
		{name: "form ok", contentType: form, body: "name=Ada&message=Hello+there", wantStatus: 303,
			wantStored: &Entry{Name: "Ada", Message: "Hello there"}},
		{name: "form with charset", contentType: form + "; charset=UTF-8", body: "name=Ada&message=hi", wantStatus: 303,
			wantStored: &Entry{Name: "Ada", Message: "hi"}},
		{name: "form without name", contentType: form, body: "message=hi", wantStatus: 303,
			wantStored: &Entry{Name: "anonymous", Message: "hi"}},
		{name: "form whitespace name", contentType: form, body: "name=+%09+&message=hi", wantStatus: 303,
			wantStored: &Entry{Name: "anonymous", Message: "hi"}},
		{name: "form trims and keeps CRLF as LF", contentType: form, body: "name=+Ada+&message=+line1%0D%0Aline2%09tab+", wantStatus: 303,
			wantStored: &Entry{Name: "Ada", Message: "line1\nline2\ttab"}},
		{name: "json ok", contentType: jsonType, body: `{"name":"Grace","message":"Hi from JSON"}`, wantStatus: 201,
			wantBody: `"message":"Hi from JSON"`, wantStored: &Entry{Name: "Grace", Message: "Hi from JSON"}},
		{name: "json with charset", contentType: jsonType + "; charset=utf-8", body: `{"message":"x"}`, wantStatus: 201,
			wantStored: &Entry{Name: "anonymous", Message: "x"}},
		{name: "json without name", contentType: jsonType, body: `{"message":"hi"}`, wantStatus: 201,
			wantBody: `"name":"anonymous"`, wantStored: &Entry{Name: "anonymous", Message: "hi"}},
		{name: "json null name", contentType: jsonType, body: `{"name":null,"message":"hi"}`, wantStatus: 201,
			wantStored: &Entry{Name: "anonymous", Message: "hi"}},
		{name: "message of exactly 500 multibyte runes", contentType: jsonType, body: `{"message":"` + strings.Repeat("é", 500) + `"}`, wantStatus: 201,
			wantStored: &Entry{Name: "anonymous", Message: strings.Repeat("é", 500)}},
		{name: "name of exactly 64 runes", contentType: jsonType, body: `{"name":"` + strings.Repeat("ü", 64) + `","message":"hi"}`, wantStatus: 201,
			wantStored: &Entry{Name: strings.Repeat("ü", 64), Message: "hi"}},
		{name: "html is stored verbatim", contentType: jsonType, body: `{"message":"<script>alert(1)</script>"}`, wantStatus: 201,
			wantStored: &Entry{Name: "anonymous", Message: "<script>alert(1)</script>"}},

		// Missing or invalid message.
		{name: "form empty message", contentType: form, body: "name=Ada&message=", wantStatus: 400, wantBody: "message is required"},
		{name: "form missing message", contentType: form, body: "name=Ada", wantStatus: 400, wantBody: "message is required"},
		{name: "form whitespace-only message", contentType: form, body: "message=+%0D%0A%09+", wantStatus: 400, wantBody: "message is required"},
		{name: "json empty object", contentType: jsonType, body: `{}`, wantStatus: 400, wantBody: `{"error":"message is required"}`},
		{name: "json whitespace-only message", contentType: jsonType, body: `{"message":"  \n\t "}`, wantStatus: 400, wantBody: "message is required"},
		{name: "json null body", contentType: jsonType, body: `null`, wantStatus: 400, wantBody: "message is required"},
		{name: "message of 501 runes", contentType: jsonType, body: `{"message":"` + strings.Repeat("é", 501) + `"}`, wantStatus: 400, wantBody: "at most 500"},
		{name: "form oversized message", contentType: form, body: "message=" + strings.Repeat("x", 501), wantStatus: 400, wantBody: "at most 500"},
		{name: "name of 65 runes", contentType: jsonType, body: `{"name":"` + strings.Repeat("ü", 65) + `","message":"hi"}`, wantStatus: 400, wantBody: "at most 64"},
		{name: "form oversized name", contentType: form, body: "name=" + strings.Repeat("n", 65) + "&message=hi", wantStatus: 400, wantBody: "at most 64"},
		{name: "bell in message", contentType: form, body: "message=ding%07", wantStatus: 400, wantBody: "control characters"},
		{name: "NUL in json message", contentType: jsonType, body: `{"message":"a\u0000b"}`, wantStatus: 400, wantBody: "control characters"},
		{name: "C1 control in message", contentType: jsonType, body: `{"message":"a\u0085b"}`, wantStatus: 400, wantBody: "control characters"},
		{name: "newline in name", contentType: form, body: "name=a%0Ab&message=hi", wantStatus: 400, wantBody: "name must not contain control characters"},

		// Encoding.
		{name: "form non-UTF-8 message", contentType: form, body: "message=%FF%FE", wantStatus: 400, wantBody: "valid UTF-8"},
		{name: "form non-UTF-8 name", contentType: form, body: "name=%C3%28&message=hi", wantStatus: 400, wantBody: "valid UTF-8"},
		{name: "json non-UTF-8 message", contentType: jsonType, body: "{\"message\":\"caf\xe9\"}", wantStatus: 400, wantBody: "valid UTF-8"},
		{name: "json non-UTF-8 name", contentType: jsonType, body: "{\"name\":\"\xff\",\"message\":\"hi\"}", wantStatus: 400, wantBody: "valid UTF-8"},
		{name: "form malformed escape", contentType: form, body: "message=%zz", wantStatus: 400, wantBody: "invalid form body"},

		// Malformed JSON.
		{name: "json truncated", contentType: jsonType, body: `{"message":`, wantStatus: 400, wantBody: "invalid JSON"},
		{name: "json not an object", contentType: jsonType, body: `["hi"]`, wantStatus: 400, wantBody: "invalid JSON"},
		{name: "json wrong type", contentType: jsonType, body: `{"message":5}`, wantStatus: 400, wantBody: "invalid JSON"},
		{name: "json unknown field", contentType: jsonType, body: `{"message":"hi","admin":true}`, wantStatus: 400, wantBody: "unknown field"},
		{name: "json trailing data", contentType: jsonType, body: `{"message":"hi"}{"message":"again"}`, wantStatus: 400, wantBody: "after the object"},
		{name: "json empty body", contentType: jsonType, body: ``, wantStatus: 400, wantBody: "invalid JSON"},

		// Size and content type.
		{name: "form body too large", contentType: form, body: "message=" + tooBig, wantStatus: 413, wantBody: "too large"},
		{name: "json body too large", contentType: jsonType, body: `{"message":"` + tooBig + `"}`, wantStatus: 413, wantBody: `{"error":"request body too large"}`},
		{name: "missing content type", contentType: "", body: "message=hi", wantStatus: 415},
		{name: "text/plain", contentType: "text/plain", body: "message=hi", wantStatus: 415},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: "--x--", wantStatus: 415},
		{name: "unparsable content type", contentType: ";;;", body: "message=hi", wantStatus: 415},

		// Storage failure is reported, never swallowed.
		{name: "form store down", contentType: form, body: "message=hi", addErr: errStoreDown, wantStatus: 503, wantBody: "unavailable"},
		{name: "json store down", contentType: jsonType, body: `{"message":"hi"}`, addErr: errStoreDown, wantStatus: 503, wantBody: `"error":"guestbook storage is unavailable`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{addErr: tt.addErr}
			rec := serveRequest(t, NewHandler(store, discardLogger()), "POST", "/entries", tt.contentType, strings.NewReader(tt.body))

			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if tt.wantBody != "" && !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body: got %q, want it to contain %q", rec.Body.String(), tt.wantBody)
			}
			if tt.wantStatus == 303 {
				if got := rec.Header().Get("Location"); got != "/" {
					t.Errorf("Location: got %q, want %q", got, "/")
				}
			}
			if tt.contentType == jsonType || strings.HasPrefix(tt.contentType, jsonType+";") {
				if got := rec.Header().Get("Content-Type"); got != "application/json" {
					t.Errorf("response Content-Type: got %q, want %q", got, "application/json")
				}
			}

			stored := store.stored()
			if tt.wantStored == nil {
				if len(stored) != 0 {
					t.Fatalf("stored: got %+v, want nothing", stored)
				}
				return
			}
			if len(stored) != 1 {
				t.Fatalf("stored: got %d entries, want 1", len(stored))
			}
			if stored[0].Name != tt.wantStored.Name || stored[0].Message != tt.wantStored.Message {
				t.Errorf("stored: got name %q message %q, want name %q message %q",
					stored[0].Name, stored[0].Message, tt.wantStored.Name, tt.wantStored.Message)
			}
		})
	}
}

func TestCreateEntryJSONResponse(t *testing.T) {
	store := &fakeStore{}
	rec := serveRequest(t, NewHandler(store, discardLogger()), "POST", "/entries", "application/json",
		strings.NewReader(`{"name":"Ada","message":"Hi"}`))
	if rec.Code != http.StatusCreated {
		t.Fatalf("status: got %d, want %d", rec.Code, http.StatusCreated)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("response is not JSON: %v (%q)", err, rec.Body.String())
	}
	want := map[string]any{"id": "1", "name": "Ada", "message": "Hi", "createdAt": "2024-05-06T07:08:09Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields: got %v, want exactly %v", got, want)
	}
}

func TestIndex(t *testing.T) {
	store := &fakeStore{}
	h := NewHandler(store, discardLogger())

	rec := serveRequest(t, h, "GET", "/", "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "No entries yet") {
		t.Fatalf("empty guestbook: got %d and body without %q, want 200 with it", rec.Code, "No entries yet")
	}

	for _, m := range []string{"first", "second", "third"} {
		if _, err := store.Add(context.Background(), "192.0.2.1", "Ada", m); err != nil {
			t.Fatal(err)
		}
	}
	rec = serveRequest(t, h, "GET", "/", "", nil)
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("status: got %d, want 200", rec.Code)
	}
	iThird, iFirst := strings.Index(body, "third"), strings.Index(body, "first")
	if iThird < 0 || iFirst < 0 || iThird > iFirst {
		t.Errorf("order: got third at %d and first at %d, want newest (third) first", iThird, iFirst)
	}
	for _, want := range []string{`<time datetime="2024-05-06T07:08:09Z">2024-05-06 07:08 UTC</time>`, "<strong>Ada</strong>", `name="message"`, `name="name"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body: want it to contain %q", want)
		}
	}
	if got := rec.Header().Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") {
		t.Errorf("Content-Security-Policy: got %q, want it to contain default-src 'none'", got)
	}
}

func TestIndexEscapesHTML(t *testing.T) {
	store := &fakeStore{}
	if _, err := store.Add(context.Background(), "192.0.2.1", `"><img src=x onerror=alert(2)>`, "<script>alert(1)</script>"); err != nil {
		t.Fatal(err)
	}
	rec := serveRequest(t, NewHandler(store, discardLogger()), "GET", "/", "", nil)
	body := rec.Body.String()
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(body, bad) {
			t.Errorf("body contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("body: want escaped %q", want)
		}
	}
}

func TestListEntries(t *testing.T) {
	store := &fakeStore{}
	for i := range 150 {
		if _, err := store.Add(context.Background(), "192.0.2.1", "n", "message "+string(rune('A'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	rec := serveRequest(t, NewHandler(store, discardLogger()), "GET", "/api/entries", "", nil)
	if rec.Code != 200 {
		t.Fatalf("status: got %d, want 200", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want %q", got, "application/json")
	}
	var resp struct {
		Entries []map[string]string `json:"entries"`
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("decode: %v (%q)", err, rec.Body.String())
	}
	if len(resp.Entries) != listLimit {
		t.Fatalf("entries: got %d, want %d", len(resp.Entries), listLimit)
	}
	first := resp.Entries[0]
	if first["id"] != "150" {
		t.Errorf("first id: got %q, want %q (newest first)", first["id"], "150")
	}
	for _, key := range []string{"id", "name", "message", "createdAt"} {
		if _, ok := first[key]; !ok {
			t.Errorf("entry lacks %q: got %v", key, first)
		}
	}
	ts, err := time.Parse(time.RFC3339, first["createdAt"])
	if err != nil || ts.Location() != time.UTC {
		t.Errorf("createdAt: got %q, want an RFC 3339 UTC time (parse error %v)", first["createdAt"], err)
	}
}

func TestStoreDownReturns503(t *testing.T) {
	store := &fakeStore{listErr: errStoreDown, addErr: errStoreDown}
	h := NewHandler(store, discardLogger())
	tests := []struct {
		method, path, contentType, body string
		wantType                        string
	}{
		{"GET", "/", "", "", "text/plain"},
		{"GET", "/api/entries", "", "", "application/json"},
		{"POST", "/entries", "application/x-www-form-urlencoded", "message=hi", "text/plain"},
		{"POST", "/entries", "application/json", `{"message":"hi"}`, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.contentType, func(t *testing.T) {
			rec := serveRequest(t, h, tt.method, tt.path, tt.contentType, strings.NewReader(tt.body))
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("status: got %d, want 503", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type: got %q, want prefix %q", got, tt.wantType)
			}
			if strings.Contains(rec.Body.String(), "connection refused") {
				t.Errorf("body leaks the internal error: %q", rec.Body.String())
			}
		})
	}
}

func TestProbes(t *testing.T) {
	var pingDeadline time.Duration
	tests := []struct {
		name       string
		path       string
		pingErr    error
		wantStatus int
		wantBody   string
	}{
		{name: "ready", path: "/readyz", wantStatus: 200, wantBody: "ok"},
		{name: "not ready when ping fails", path: "/readyz", pingErr: errStoreDown, wantStatus: 503, wantBody: "not ready"},
		{name: "live when ping fails", path: "/healthz", pingErr: errStoreDown, wantStatus: 200, wantBody: "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{listErr: tt.pingErr, pingFunc: func(ctx context.Context) error {
				if d, ok := ctx.Deadline(); ok {
					pingDeadline = time.Until(d)
				} else {
					pingDeadline = -1
				}
				return tt.pingErr
			}}
			rec := serveRequest(t, NewHandler(store, discardLogger()), "GET", tt.path, "", nil)
			if rec.Code != tt.wantStatus || !strings.HasPrefix(rec.Body.String(), tt.wantBody) {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
		})
	}
	// The readiness ping must be bounded, or a hung Redis would hang the probe.
	if pingDeadline <= 0 || pingDeadline > readyTimeout {
		t.Errorf("readyz ping deadline: got %v, want within (0, %v]", pingDeadline, readyTimeout)
	}
}

func TestReadyzTimesOutOnHungStore(t *testing.T) {
	store := &fakeStore{pingFunc: func(ctx context.Context) error {
		<-ctx.Done() // a Redis that never answers
		return ctx.Err()
	}}
	start := time.Now()
	rec := serveRequest(t, NewHandler(store, discardLogger()), "GET", "/readyz", "", nil)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status: got %d, want 503", rec.Code)
	}
	if took := time.Since(start); took > readyTimeout+500*time.Millisecond {
		t.Errorf("took %v, want about %v", took, readyTimeout)
	}
}

func TestRequestLogging(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil)) // Info level, as in production
	h := NewHandler(&fakeStore{}, logger)

	serveRequest(t, h, "POST", "/entries?token=abc", "application/json", strings.NewReader(`{"name":"Ada","message":"top secret words"}`))
	serveRequest(t, h, "GET", "/healthz", "", nil)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("log lines: got %d (%q), want 1 (successful probes log at debug)", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("log line is not JSON: %v (%q)", err, lines[0])
	}
	want := map[string]any{"msg": "http request", "method": "POST", "path": "/entries", "status": float64(201)}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s: got %v, want %v", k, rec[k], v)
		}
	}
	if b, ok := rec["bytes"].(float64); !ok || b <= 0 {
		t.Errorf("log bytes: got %v, want a positive number", rec["bytes"])
	}
	if _, ok := rec["duration_ms"].(float64); !ok {
		t.Errorf("log duration_ms: got %v, want a number", rec["duration_ms"])
	}
	for _, secret := range []string{"top secret", "Ada", "token"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log contains request data %q: %s", secret, buf.String())
		}
	}
}

func TestCreateEntryOverWriteLimit(t *testing.T) {
	tests := []struct {
		retryAfter time.Duration
		wantHeader string
	}{
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{6 * time.Second, "6"},
	}
	for _, tt := range tests {
		t.Run(tt.retryAfter.String(), func(t *testing.T) {
			store := &fakeStore{addErr: &LimitError{RetryAfter: tt.retryAfter}}
			rec := serveRequest(t, NewHandler(store, discardLogger()), "POST", "/entries", "application/json", strings.NewReader(`{"message":"hi"}`))
			if rec.Code != http.StatusTooManyRequests {
				t.Fatalf("status: got %d, want 429", rec.Code)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.wantHeader {
				t.Errorf("Retry-After: got %q, want %q (whole seconds, rounded up)", got, tt.wantHeader)
			}
			if want := `{"error":"too many entries from your address, try again in ` + tt.wantHeader + ` s"}`; strings.TrimSpace(rec.Body.String()) != want {
				t.Errorf("body: got %q, want %q", rec.Body.String(), want)
			}
		})
	}
}

func TestClientAddress(t *testing.T) {
	tests := []struct {
		remoteAddr string
		header     http.Header
		want       string
	}{
		{remoteAddr: "203.0.113.9:51234", want: "203.0.113.9"},
		// What the client claims is ignored: only the TCP peer counts.
		{remoteAddr: "203.0.113.9:51234", header: http.Header{"X-Forwarded-For": {"198.51.100.1"}, "X-Real-Ip": {"198.51.100.2"}, "Forwarded": {"for=198.51.100.3"}}, want: "203.0.113.9"},
		{remoteAddr: "[::ffff:203.0.113.9]:443", want: "203.0.113.9"},
		// One IPv6 host usually owns its whole /64.
		{remoteAddr: "[2001:db8:1:2:3:4:5:6]:443", want: "2001:db8:1:2::/64"},
		{remoteAddr: "[2001:db8:1:2:ffff:ffff:ffff:ffff]:443", want: "2001:db8:1:2::/64"},
		{remoteAddr: "[2001:db8:1:3::1]:443", want: "2001:db8:1:3::/64"},
		{remoteAddr: "[fe80::1%eth0]:443", want: "fe80::/64"},
		{remoteAddr: "@", want: "@"},
	}
	for _, tt := range tests {
		t.Run(tt.remoteAddr, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/entries", nil)
			req.RemoteAddr = tt.remoteAddr
			for k, v := range tt.header {
				req.Header[k] = v
			}
			if got := clientAddress(req); got != tt.want {
				t.Errorf("clientAddress(%s) = %q, want %q", tt.remoteAddr, got, tt.want)
			}
		})
	}

	t.Run("handler passes the peer to the store", func(t *testing.T) {
		store := &fakeStore{}
		req := httptest.NewRequest("POST", "/entries", strings.NewReader(`{"message":"hi"}`))
		req.RemoteAddr = "[2001:db8::7]:9999"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "192.0.2.200")
		NewHandler(store, discardLogger()).ServeHTTP(httptest.NewRecorder(), req)
		if len(store.clients) != 1 || store.clients[0] != "2001:db8::/64" {
			t.Errorf("clients seen by the store: got %q, want [2001:db8::/64]", store.clients)
		}
	})
}
