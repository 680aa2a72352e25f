// HTTP handlers for the guestbook page, its JSON API and the Kubernetes probes.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	maxNameRunes    = 64
	maxMessageRunes = 500
	// maxBodyBytes is far above what a valid entry needs (500 runes of at most
	// 4 bytes, plus encoding overhead) while keeping abusive bodies cheap.
	maxBodyBytes = 16 << 10
	// listLimit caps both the page and the API so a large guestbook cannot
	// make a single request expensive.
	listLimit   = 100
	defaultName = "anonymous"
	// readyTimeout matches the kubelet's default probe timeout: a Redis that
	// needs longer than that to answer PING is not fit to serve users either.
	readyTimeout = time.Second
)

// server holds the dependencies shared by the handlers.
type server struct {
	store  Store
	logger *slog.Logger
}

// NewHandler returns the complete HTTP handler: routes plus request logging.
func NewHandler(store Store, logger *slog.Logger) http.Handler {
	s := &server{store: store, logger: logger}
	mux := http.NewServeMux()
	// Method-qualified patterns make ServeMux answer 405 (with Allow) for a
	// known path and 404 for an unknown one; "GET" also admits HEAD.
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.HandleFunc("POST /entries", s.handleCreate)
	mux.HandleFunc("GET /api/entries", s.handleList)
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	return logRequests(logger, securityHeaders(mux))
}

func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	view, err := s.store.View(r.Context())
	if err != nil {
		s.storeUnavailable(w, r, err, false)
		return
	}
	// Rendered into a buffer first (once per version), so a template failure
	// becomes a clean 500 instead of a half-written 200 page.
	page, err := view.HTML()
	if err != nil {
		s.logger.ErrorContext(r.Context(), "render index", "error", err)
		writeError(w, http.StatusInternalServerError, "internal error", false)
		return
	}
	h := w.Header()
	h["Content-Type"] = headerHTML
	h["Cache-Control"] = headerNoStore
	h["Content-Security-Policy"] = headerPageCSP
	writeBody(w, http.StatusOK, page)
}

// entryRequest is the JSON body accepted by POST /entries.
type entryRequest struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (s *server) handleCreate(w http.ResponseWriter, r *http.Request) {
	mediaType, err := requestMediaType(r)
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/x-www-form-urlencoded or application/json", false)
		return
	}
	var asJSON bool
	switch mediaType {
	case "application/json":
		asJSON = true
	case "application/x-www-form-urlencoded":
	default:
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/x-www-form-urlencoded or application/json", false)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large", asJSON)
			return
		}
		writeError(w, http.StatusBadRequest, "could not read request body", asJSON)
		return
	}

	var req entryRequest
	if asJSON {
		req, err = decodeJSONEntry(body)
	} else {
		req, err = decodeFormEntry(body)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), asJSON)
		return
	}
	name, message, err := validateEntry(req.Name, req.Message)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), asJSON)
		return
	}

	entry, err := s.store.Add(r.Context(), clientAddress(r), name, message)
	var limited *LimitError
	switch {
	case errors.As(err, &limited):
		// Whole seconds, rounded up: a client that waits that long gets through.
		secs := int((limited.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many entries from your address, try again in %d s", secs), asJSON)
		return
	case err != nil:
		s.storeUnavailable(w, r, err, asJSON)
		return
	}
	if !asJSON {
		// Post/Redirect/Get: a browser refresh must not resubmit the form.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	w.Header()["Content-Type"] = headerJSON
	writeBody(w, http.StatusCreated, append(appendEntryJSON(make([]byte, 0, 128+len(entry.Name)+len(entry.Message)), entry), '\n'))
}

// requestMediaType is the request's Content-Type without parameters. The two
// values clients send almost always are recognised without parsing.
func requestMediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	switch ct {
	case "application/json", "application/x-www-form-urlencoded":
		return ct, nil
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	return mediaType, err
}

// decodeJSONEntry parses exactly one JSON object with only known fields.
func decodeJSONEntry(body []byte) (entryRequest, error) {
	// encoding/json silently replaces invalid UTF-8 with U+FFFD, which would
	// store something the client never sent; reject it instead.
	if !utf8.Valid(body) {
		return entryRequest{}, errors.New("request body must be valid UTF-8")
	}
	if req, ok := parsePlainEntryRequest(body); ok {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req entryRequest
	if err := dec.Decode(&req); err != nil {
		return entryRequest{}, errors.New("invalid JSON body: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return entryRequest{}, errors.New("invalid JSON body: unexpected data after the object")
	}
	return req, nil
}

// decodeFormEntry parses a urlencoded body. It does not use r.ParseForm so
// that the body size limit and error handling are the same as for JSON.
func decodeFormEntry(body []byte) (entryRequest, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return entryRequest{}, errors.New("invalid form body")
	}
	return entryRequest{Name: values.Get("name"), Message: values.Get("message")}, nil
}

// validateEntry applies the entry rules and returns the values to store.
func validateEntry(name, message string) (string, string, error) {
	if !utf8.ValidString(name) || !utf8.ValidString(message) {
		return "", "", errors.New("name and message must be valid UTF-8")
	}
	// Browsers submit textarea line breaks as CRLF; storing plain LF keeps
	// newlines legal without letting a bare CR through the control-char rule.
	message = strings.ReplaceAll(message, "\r\n", "\n")
	message = strings.ReplaceAll(message, "\r", "\n")
	message = strings.TrimSpace(message)
	if message == "" {
		return "", "", errors.New("message is required")
	}
	if utf8.RuneCountInString(message) > maxMessageRunes {
		return "", "", errors.New("message must be at most 500 characters")
	}
	for _, r := range message {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", "", errors.New("message must not contain control characters")
		}
	}

	name = strings.TrimSpace(name)
	if name == "" {
		name = defaultName
	}
	if utf8.RuneCountInString(name) > maxNameRunes {
		return "", "", errors.New("name must be at most 64 characters")
	}
	// A name is a single line, so unlike the message it admits no newline or tab.
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", "", errors.New("name must not contain control characters")
	}
	return name, message, nil
}

func (s *server) handleList(w http.ResponseWriter, r *http.Request) {
	view, err := s.store.View(r.Context())
	if err != nil {
		s.storeUnavailable(w, r, err, true)
		return
	}
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Cache-Control"] = headerNoStore
	writeBody(w, http.StatusOK, view.JSON())
}

// handleHealthz is the liveness probe. It deliberately checks nothing else:
// restarting the pod would not fix an unreachable Redis.
func (s *server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// handleReadyz is the readiness probe: a pod that cannot reach Redis is taken
// out of the Service instead of answering 503s to users.
func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.WarnContext(r.Context(), "readiness check failed", "error", err)
		writeText(w, http.StatusServiceUnavailable, "not ready: redis unreachable")
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// storeUnavailable answers 503 and logs the cause; the client only learns
// that it should retry, not internal addresses or error details.
func (s *server) storeUnavailable(w http.ResponseWriter, r *http.Request, err error, asJSON bool) {
	s.logger.ErrorContext(r.Context(), "store unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "guestbook storage is unavailable, please try again later", asJSON)
}

func writeError(w http.ResponseWriter, status int, reason string, asJSON bool) {
	if asJSON {
		writeJSON(w, status, map[string]string{"error": reason})
		return
	}
	writeText(w, status, reason)
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header()["Content-Type"] = headerText
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// writeBody sends a complete body with its length, so a large page goes out
// without chunked encoding. The caller sets Content-Type.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		// Only reachable with a programming error: all values are plain structs.
		writeText(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// Header values, each shared by every response that sends it instead of being
// allocated per response; net/http only reads them. Keys are in canonical form.
var (
	headerJSON    = []string{"application/json"}
	headerHTML    = []string{"text/html; charset=utf-8"}
	headerText    = []string{"text/plain; charset=utf-8"}
	headerNoStore = []string{"no-store"}
	// Inline styles only; no scripts at all, so injected markup could not run
	// even if escaping were ever bypassed.
	headerPageCSP    = []string{"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}
	headerNoSniff    = []string{"nosniff"}
	headerNoReferrer = []string{"no-referrer"}
	headerDeny       = []string{"DENY"}
)

// securityHeaders sets headers that are safe for every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = headerNoSniff
		h["Referrer-Policy"] = headerNoReferrer
		h["X-Frame-Options"] = headerDeny
		next.ServeHTTP(w, r)
	})
}

// statusRecorder captures what was sent so it can be logged.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *statusRecorder) WriteHeader(code int) {
	// 1xx responses are interim; the final status comes later.
	if rec.status == 0 && code >= 200 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (rec *statusRecorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// logRequests writes one structured line per request. It never logs bodies
// or query strings, which may carry what users typed.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		// Successful probes arrive every few seconds per pod and would drown
		// the useful lines; failed ones stay visible.
		if (r.URL.Path == "/healthz" || r.URL.Path == "/readyz") && rec.status == http.StatusOK {
			level = slog.LevelDebug
		}
		// The handler directly, not logger.LogAttrs: the line records no
		// source, so the caller lookup LogAttrs makes for every line is waste.
		ctx, h := r.Context(), logger.Handler()
		if !h.Enabled(ctx, level) {
			return
		}
		line := slog.NewRecord(time.Now(), level, "http request", 0)
		line.AddAttrs(
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes", rec.bytes),
		)
		_ = h.Handle(ctx, line)
	})
}
