package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
)

// exchangerFor returns an exchanger whose client trusts srv, with no retries so a
// failure shows at once.
func exchangerFor(srv *httptest.Server, timeout time.Duration) *tokenExchanger {
	return &tokenExchanger{
		clientOptions: azcontainerregistry.AuthenticationClientOptions{ClientOptions: policy.ClientOptions{
			Transport: srv.Client(),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		}},
		timeout: timeout,
	}
}

type exchangeRequest struct {
	method, path, contentType string
	query, form               url.Values
}

// recordingServer serves /oauth2/exchange with answer and records each request.
func recordingServer(t *testing.T, answer http.HandlerFunc) (*httptest.Server, func() []exchangeRequest) {
	t.Helper()
	var mu sync.Mutex
	var reqs []exchangeRequest
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("parsing the exchange request's form: %v", err)
		}
		mu.Lock()
		reqs = append(reqs, exchangeRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.URL.Query(), r.PostForm})
		mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []exchangeRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]exchangeRequest(nil), reqs...)
	}
}

func TestExchangeSendsTheAzureToken(t *testing.T) {
	srv, requests := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"refresh_token":"acr-refresh-token"}`))
	})
	got, err := exchangerFor(srv, 5*time.Second).Exchange(context.Background(), srv.URL, "guestbookacr.azurecr.io", "aad-token")
	if err != nil {
		t.Fatalf("Exchange error = %v, want nil", err)
	}
	if got != "acr-refresh-token" {
		t.Errorf("Exchange = %q, want %q", got, "acr-refresh-token")
	}
	reqs := requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	checks := []struct{ what, got, want string }{
		{"method", req.method, http.MethodPost},
		{"path", req.path, "/oauth2/exchange"},
		{"content type", req.contentType, "application/x-www-form-urlencoded"},
		{"grant_type", req.form.Get("grant_type"), "access_token"},
		{"service", req.form.Get("service"), "guestbookacr.azurecr.io"},
		{"access_token", req.form.Get("access_token"), "aad-token"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("exchange request %s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if req.query.Get("api-version") == "" {
		t.Errorf("exchange request has no api-version query parameter: %v", req.query)
	}
	if pw := req.form.Get("password"); pw != "" {
		t.Errorf("exchange request sent a password %q; only the Azure token may be sent", pw)
	}
}

func TestExchangeErrors(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name     string
		answer   http.HandlerFunc
		aadToken string
		timeout  time.Duration
		wantErr  []string
		check    func(t *testing.T, err error)
	}{
		{
			name: "401 from the registry",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			},
			wantErr: []string{"exchanging Azure token for a registry token", "401"},
			check: func(t *testing.T, err error) {
				var re *azcore.ResponseError
				if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
					t.Errorf("error %v does not carry the registry's 401 response", err)
				}
			},
		},
		{
			name: "malformed JSON",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"refresh_token": `))
			},
			wantErr: []string{"exchanging Azure token for a registry token"},
		},
		{
			name: "no refresh token in the answer",
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"not what was asked"}`))
			},
			wantErr: []string{"returned no refresh token"},
		},
		{
			name: "registry does not answer in time",
			answer: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			},
			timeout: 200 * time.Millisecond,
			wantErr: []string{"exchanging Azure token for a registry token", "deadline exceeded"},
		},
		{
			name:     "empty Azure token",
			answer:   func(w http.ResponseWriter, r *http.Request) { t.Error("an empty token was sent to the registry") },
			aadToken: "-",
			wantErr:  []string{"the Azure access token is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := recordingServer(t, tt.answer)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			token := "aad-token"
			if tt.aadToken == "-" {
				token = ""
			}
			start := time.Now()
			got, err := exchangerFor(srv, timeout).Exchange(context.Background(), srv.URL, "guestbookacr.azurecr.io", token)
			if err == nil {
				t.Fatalf("Exchange = %q, nil; want an error", got)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Exchange error = %q, want it to contain %q", err, want)
				}
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			if elapsed := time.Since(start); elapsed > timeout+2*time.Second {
				t.Errorf("Exchange took %v with a %v timeout", elapsed, timeout)
			}
		})
	}
}

func TestNewTokenExchangerIsBounded(t *testing.T) {
	x := newTokenExchanger()
	if x.timeout <= 0 || x.timeout > 5*time.Minute {
		t.Errorf("default exchange timeout = %v, want a bound between 0 and 5m", x.timeout)
	}
	if x.clientOptions.Retry.TryTimeout <= 0 {
		t.Errorf("default per-try timeout = %v, want one set", x.clientOptions.Retry.TryTimeout)
	}
}
