# silo's single entry point. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Pinned tool versions. buf and the google/api protos come from npm
# packages, golangci-lint from the Go module proxy; protoc-gen-go and
# protoc-gen-connect-go are tool dependencies in go.mod.
BUF_VERSION := 1.75.0
GOOGLE_PROTO_FILES_VERSION := 6.0.1
GOLANGCI_LINT_VERSION := v2.15.0

TOOLS := .tools
BUF := $(TOOLS)/node_modules/.bin/buf
GOOGLEAPIS := $(TOOLS)/googleapis

# The test run must stay well inside CI's time; a hung test fails instead
# of stalling the run.
TEST_TIMEOUT := 14m

.PHONY: help
help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/silo
	go build -o bin/silo ./cmd/silo

.PHONY: run
run: build ## Run the whole stack on a local PostgreSQL cluster in .silo/
	./bin/silo dev --data .silo

.PHONY: test
test: ## Run unit and integration tests with the race detector
	go test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

.PHONY: bench
bench: ## Run the benchmarks and record them in docs/benchmarks.md
	go test -tags bench -run '^TestBenchmark' -count=1 -timeout 30m -v ./bench/

.PHONY: generate
generate: $(BUF) $(GOOGLEAPIS) ## Generate Go code from the protos into gen/
	rm -rf gen/silo gen/openapi/*.yaml
	$(BUF) generate

.PHONY: checkgenerate
checkgenerate: generate ## Fail when gen/ differs from what the protos generate
	git diff --exit-code -- gen
	test -z "$$(git status --porcelain -- gen)"

.PHONY: lint
lint: $(BUF) $(GOOGLEAPIS) ## Run gofmt, go vet, golangci-lint, buf lint and buf format
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...
	$(BUF) lint
	$(BUF) format --diff --exit-code

$(BUF):
	npm install --prefix $(TOOLS) --no-audit --no-fund --silent \
		@bufbuild/buf@$(BUF_VERSION) google-proto-files@$(GOOGLE_PROTO_FILES_VERSION)

# google/api protos for the HTTP annotations, copied at generate time and
# kept out of git.
$(GOOGLEAPIS): $(BUF)
	mkdir -p $(GOOGLEAPIS)/google/api
	cp $(TOOLS)/node_modules/google-proto-files/google/api/annotations.proto \
		$(TOOLS)/node_modules/google-proto-files/google/api/http.proto $(GOOGLEAPIS)/google/api/

.PHONY: clean
clean: ## Remove build output and downloaded tools (not the .silo data folder)
	rm -rf bin $(TOOLS)
