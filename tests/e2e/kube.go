// kube.go: a small client of the rehearsal's Kubernetes API server, for what the
// test checks and changes behind Pulumi's back.

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Kube talks to the API server as its admin (group system:masters).
type Kube struct {
	URL, Token string
	client     *http.Client
}

func newKube(url, caFile, token string) (*Kube, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &Kube{URL: url, Token: token, client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}}, nil
}

// StatusError is an answer of the API server other than 2xx.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Code, e.Body)
}

// IsNotFound tells whether err is the API server's 404.
func IsNotFound(err error) bool {
	se, ok := err.(*StatusError)
	return ok && se.Code == http.StatusNotFound
}

// IsAlreadyExists tells whether err is the API server's 409 for a create.
func IsAlreadyExists(err error) bool {
	se, ok := err.(*StatusError)
	return ok && se.Code == http.StatusConflict
}

// Do sends body (JSON, unless it is a []byte) with the content type, and decodes
// a 2xx answer into out (if not nil).
func (k *Kube) Do(ctx context.Context, method, path, contentType string, body, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.URL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+k.Token)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Method: method, Path: path, Code: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Get decodes the object at path into out.
func (k *Kube) Get(ctx context.Context, path string, out any) error {
	return k.Do(ctx, http.MethodGet, path, "", nil, out)
}

// Create posts obj to the collection at path.
func (k *Kube) Create(ctx context.Context, path string, obj any) error {
	return k.Do(ctx, http.MethodPost, path, "", obj, nil)
}

// MergePatch applies a JSON merge patch to the object at path.
func (k *Kube) MergePatch(ctx context.Context, path string, patch any) error {
	return k.Do(ctx, http.MethodPatch, path, "application/merge-patch+json", patch, nil)
}

// list is the part of a list answer the rehearsal reads.
type list[T any] struct {
	Items []T `json:"items"`
}

// object is the part of any object the rehearsal reads.
type object struct {
	Metadata struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		UID               string            `json:"uid"`
		Labels            map[string]string `json:"labels"`
		Annotations       map[string]string `json:"annotations"`
		DeletionTimestamp string            `json:"deletionTimestamp"`
	} `json:"metadata"`
}

// pod is the part of a Pod the image-pull simulation reads.
type pod struct {
	object
	Spec struct {
		NodeName       string      `json:"nodeName"`
		Containers     []container `json:"containers"`
		InitContainers []container `json:"initContainers"`
	} `json:"spec"`
}

type container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// waitFor polls check every interval until it returns true, an error, or the
// timeout passes; the error then names what was awaited and the last state seen.
func waitFor(ctx context.Context, what string, timeout, interval time.Duration, check func(ctx context.Context) (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		ok, state, err := check(ctx)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if state != "" {
			last = state
		}
		select {
		case <-ctx.Done():
			if last == "" {
				last = "nothing seen"
			}
			return fmt.Errorf("waited %s for %s; last seen: %s", timeout, what, last)
		case <-time.After(interval):
		}
	}
}

// str returns the string at path in a JSON-like map, or "".
func str(m map[string]any, path ...string) string {
	s, _ := at(m, path...).(string)
	return s
}

// at returns the value at path in a JSON-like map, or nil.
func at(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}
