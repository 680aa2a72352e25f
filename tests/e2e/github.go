// github.go: GitHub Actions as the rehearsal's CI: the ID token service a job
// with `id-token: write` reaches through ACTIONS_ID_TOKEN_REQUEST_URL, and the
// environment a workflow gives its pulumi step.

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// GitHubOIDC is the GitHub Actions ID token service: a GET with the job's request
// token returns a fresh ID token for the audience asked for.
type GitHubOIDC struct {
	// RequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	RequestToken string
	// Lifetime is how long an ID token is valid (wall time).
	Lifetime time.Duration

	ln  net.Listener
	srv *http.Server

	mu     sync.Mutex
	issued int
}

// StartGitHubOIDC starts the token service on loopback.
func StartGitHubOIDC() (*GitHubOIDC, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &GitHubOIDC{RequestToken: "github-actions-request-token", Lifetime: 5 * time.Minute, ln: ln}
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

// Close stops the service.
func (g *GitHubOIDC) Close() error { return g.srv.Close() }

// Env is what the runner sets in a job with `permissions: id-token: write`.
func (g *GitHubOIDC) Env() map[string]string {
	return map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   "http://" + g.ln.Addr().String() + "/_apis/distributedtask/hubs/build/plans/plan/jobs/job/idtoken?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": g.RequestToken,
	}
}

// Issued is how many ID tokens the service has handed out.
func (g *GitHubOIDC) Issued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.issued
}

func (g *GitHubOIDC) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "bearer "+g.RequestToken && r.Header.Get("Authorization") != "Bearer "+g.RequestToken {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/owner"
	}
	g.mu.Lock()
	g.issued++
	lifetime := g.Lifetime
	g.mu.Unlock()
	// The subject a deploy job in an environment presents (docs/ci-cd.md).
	token := tenant.Token("repo:owner/repo:environment:dev", aud, time.Now().Add(lifetime))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"count": 1, "value": token})
}

// workflowEnv is the environment .github/workflows/<file> gives the step that runs
// the pulumi action: the job's env and the step's, with ${{ }} expressions
// evaluated over vars (repository variables; secrets and unset variables are
// empty). It fails if the job cannot ask for an ID token (id-token: write).
func workflowEnv(repo, file string, vars map[string]string) (map[string]string, error) {
	b, err := os.ReadFile(repo + "/.github/workflows/" + file)
	if err != nil {
		return nil, err
	}
	var wf struct {
		Jobs map[string]struct {
			Permissions map[string]string `yaml:"permissions"`
			Env         map[string]string `yaml:"env"`
			Steps       []struct {
				Uses string            `yaml:"uses"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", file, err)
	}
	for name, job := range wf.Jobs {
		for _, step := range job.Steps {
			if !strings.HasPrefix(step.Uses, "pulumi/actions@") {
				continue
			}
			if job.Permissions["id-token"] != "write" {
				return nil, fmt.Errorf("%s: job %s runs pulumi without permissions id-token: write: no OIDC token for Azure", file, name)
			}
			env := map[string]string{}
			ctx := exprContext{vars: vars, env: env}
			for _, layer := range []map[string]string{job.Env, step.Env} {
				evaluated := map[string]string{}
				for k, v := range layer {
					if evaluated[k], err = ctx.interpolate(v); err != nil {
						return nil, fmt.Errorf("%s: env %s: %w", file, k, err)
					}
				}
				for k, v := range evaluated {
					env[k] = v
				}
			}
			return env, nil
		}
	}
	return nil, fmt.Errorf("%s has no step using pulumi/actions", file)
}

// exprContext evaluates the GitHub Actions expressions the workflows use:
// vars.X, secrets.X, env.X, 'strings', format(), && and ||, with GitHub's
// truthiness (an empty string is false; && and || return an operand).
type exprContext struct {
	vars, env map[string]string
}

var exprRE = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

func (c exprContext) interpolate(s string) (string, error) {
	var err error
	out := exprRE.ReplaceAllStringFunc(s, func(m string) string {
		v, e := c.eval(strings.TrimSpace(exprRE.FindStringSubmatch(m)[1]))
		if e != nil && err == nil {
			err = e
		}
		return v
	})
	return out, err
}

func (c exprContext) eval(expr string) (string, error) {
	p := &exprParser{s: expr, c: c}
	v, err := p.or()
	if err == nil && strings.TrimSpace(p.s[p.i:]) != "" {
		err = fmt.Errorf("cannot evaluate %q: unexpected %q", expr, p.s[p.i:])
	}
	return v, err
}

type exprParser struct {
	s string
	i int
	c exprContext
}

func (p *exprParser) skip() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *exprParser) take(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *exprParser) or() (string, error) {
	v, err := p.and()
	for err == nil && p.take("||") {
		var w string
		if w, err = p.and(); v == "" {
			v = w
		}
	}
	return v, err
}

func (p *exprParser) and() (string, error) {
	v, err := p.primary()
	for err == nil && p.take("&&") {
		var w string
		if w, err = p.primary(); v != "" {
			v = w
		}
	}
	return v, err
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*`)

func (p *exprParser) primary() (string, error) {
	p.skip()
	switch {
	case p.take("'"):
		end := strings.Index(p.s[p.i:], "'")
		if end < 0 {
			return "", fmt.Errorf("unterminated string in %q", p.s)
		}
		v := p.s[p.i : p.i+end]
		p.i += end + 1
		return v, nil
	case p.take("("):
		v, err := p.or()
		if err == nil && !p.take(")") {
			err = fmt.Errorf("missing ) in %q", p.s)
		}
		return v, err
	}
	id := identRE.FindString(p.s[p.i:])
	if id == "" {
		return "", fmt.Errorf("cannot evaluate %q at %q", p.s, p.s[p.i:])
	}
	p.i += len(id)
	if id == "format" && p.take("(") {
		var args []string
		for {
			a, err := p.or()
			if err != nil {
				return "", err
			}
			args = append(args, a)
			if p.take(")") {
				break
			}
			if !p.take(",") {
				return "", fmt.Errorf("missing , in format() of %q", p.s)
			}
		}
		out := args[0]
		for i, a := range args[1:] {
			out = strings.ReplaceAll(out, fmt.Sprintf("{%d}", i), a)
		}
		return out, nil
	}
	ctx, name, _ := strings.Cut(id, ".")
	switch ctx {
	case "vars":
		return p.c.vars[name], nil
	case "secrets":
		return "", nil
	case "env":
		return p.c.env[name], nil
	}
	return "", fmt.Errorf("cannot evaluate %s in %q: only vars, secrets, env and format() are known", id, p.s)
}
