# The project's commands. `make test` is the test command: CI (.ci/run and the
# GitHub test workflow) runs exactly it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

STACK ?= dev
GO ?= go
# Every Go module in the repository: the Pulumi program, the guestbook server (its
# own module, so the image's build context holds only the server) and the real
# Kubernetes API server the admission test runs (its own module, so the program's
# go.mod does not carry k8s.io/kubernetes).
MODULES := . app/guestbook tests/apiserver

.PHONY: help test e2e e2e-bench mutants bench-app lint fmt-check vet staticcheck actionlint build preview up plan clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

test: lint ## everything CI checks: lint, then every module's tests
	# 30m: a cold build of the test API server alone takes ~5 minutes on 2 cores.
	$(GO) test -timeout 30m ./...
	cd app/guestbook && $(GO) test -race ./...

# The rehearsal's own test file is behind the e2e build tag (it needs the tools
# that `make e2e` builds), so lint reads the root module with that tag too.
E2E_TAGS := -tags e2e

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
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet $(E2E_TAGS) ./...); done

staticcheck: ## staticcheck every module (version pinned in go.mod)
	@sc="$$($(GO) tool -n staticcheck)"; \
	for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && "$$sc" $(E2E_TAGS) ./...); done

actionlint: ## lint the GitHub workflows (version pinned in go.mod)
	$(GO) tool actionlint

build: ## compile the Pulumi program to bin/guestbook
	$(GO) build -o bin/guestbook .

preview: ## pulumi preview of $(STACK) with the diff (needs az login and pulumi login)
	pulumi preview --stack $(STACK) --diff

up: ## pulumi up of $(STACK) (needs az login, pulumi login and Docker)
	pulumi up --stack $(STACK)

plan: ## show the deploy order without Azure; refresh docs/deploy-order.md and the README graph
	$(GO) run ./tests/cmd/plan -stack $(STACK)

clean: ## remove build output
	rm -rf bin
