# The project's commands. `make test` is the fast lane, what every change runs;
# the heavy lanes have their own targets (tests/README.md lists each). CI
# (.ci/run) runs test, admission and e2e; mutants run on demand and weekly.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

STACK ?= dev
GO ?= go
# The Go modules the fast lane lints: the Pulumi program and the guestbook server
# (its own module, so the image's build context holds only the server). The real
# Kubernetes API server (tests/apiserver, its own module so the program's go.mod
# does not carry k8s.io/kubernetes) is vetted by the lane that builds it.
MODULES := . app/guestbook

.PHONY: help test admission e2e e2e-bench mutants bench-app lint fmt-check vet staticcheck actionlint build preview up plan clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

test: lint ## the fast lane: lint, then the program's tests under Pulumi mocks and the server's tests
	$(GO) test ./...
	cd app/guestbook && $(GO) test -race ./...

admission: ## Pod Security admission of every object the stacks declare, by a real kube-apiserver (builds it: ~5 min cold)
	sc="$$($(GO) tool -n staticcheck)"; cd tests/apiserver && $(GO) vet ./... && "$$sc" ./...
	$(GO) test -tags admission -run '^TestPodSecurityAdmission$$' -count=1 -timeout 30m .

# The rehearsal's and the admission test's files are behind build tags (they need
# the tools those lanes build), so lint reads the root module with the tags too.
E2E_TAGS := -tags e2e
LINT_TAGS := -tags e2e,admission

e2e: ## rehearse the whole stack under the real pulumi CLI, offline (E2E_OUT=dir keeps each command's engine events)
	# Builds the CLI, the Kubernetes provider, the control plane and kwok into
	# bin/e2e first: ~20 min cold on 2 cores, seconds warm.
	$(GO) test $(E2E_TAGS) -run '^TestRehearsal$$' -count=1 -timeout 60m -v .

e2e-bench: ## time a first deploy under the real engine: this stack's order vs the original one
	$(GO) test $(E2E_TAGS) -run '^TestDeployOrder$$' -count=1 -timeout 60m -v .

mutants: ## prove each safety line load-bearing: one named mutation at a time, killed by the cheapest lane (slow; not part of make test)
	# MUTANTS_FLAGS passes the runner's flags, e.g. MUTANTS_FLAGS='-only image-by-tag -lanes unit'.
	# Writes the table to docs/mutants.md; fails if any mutant survives.
	$(GO) run ./tests/cmd/mutants -out docs/mutants.md $(MUTANTS_FLAGS)

bench-app: ## load-test the guestbook server and Redis on loopback: req/s, p50, p99 per path vs GET /healthz
	# Run it on a quiet machine: the load driver, the server and Redis share its cores.
	# BENCH_FLAGS passes loadbench's flags, e.g. BENCH_FLAGS='-only POST -rounds 5'.
	cd app/guestbook && $(GO) build -o ../../bin/guestbook-server . && $(GO) run ./cmd/loadbench -server ../../bin/guestbook-server $(BENCH_FLAGS)

lint: fmt-check vet staticcheck actionlint ## gofmt (no drift), go vet, staticcheck, actionlint

fmt-check: ## fail if any Go file is not gofmt-formatted
	@files="$$(gofmt -l .)"; \
	if [ -n "$$files" ]; then echo "gofmt would reformat (run gofmt -w):"; echo "$$files"; exit 1; fi

vet: ## go vet every module
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet $(LINT_TAGS) ./...); done

staticcheck: ## staticcheck every module (version pinned in go.mod)
	@sc="$$($(GO) tool -n staticcheck)"; \
	for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && "$$sc" $(LINT_TAGS) ./...); done

actionlint: ## lint the GitHub workflows (version pinned in go.mod)
	$(GO) tool actionlint

build: ## compile the Pulumi program to bin/guestbook
	$(GO) build -o bin/guestbook .

preview: ## pulumi preview of $(STACK) with the diff (needs az login and pulumi login)
	pulumi preview --stack $(STACK) --diff

up: ## pulumi up of $(STACK) (needs az login, pulumi login and Docker)
	pulumi up --stack $(STACK)

plan: ## show the deploy order without Azure and refresh docs/deploy-order.md
	$(GO) test -run '^TestDeployOrderDoc$$' -count=1 -v . -args -update

clean: ## remove build output
	rm -rf bin
