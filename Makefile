# Build, test and check dnshandle. Every target works on a fresh Debian
# machine with Go installed; `interop` installs its Debian packages itself.

GO            ?= go
GOLANGCI_LINT ?= $(shell $(GO) env GOPATH)/bin/golangci-lint
GOLANGCI_VERSION := v2.15.0
FUZZTIME      ?= 30s

.PHONY: all build test lint interop interop-deps bench fuzz demo tools clean

all: lint test

build:
	$(GO) build ./...

## test: go vet and every unit test, including the fuzz seed corpora.
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

## lint: golangci-lint with the checked-in .golangci.yml.
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

## interop: suites that need real peers (OpenSSL, curl, unbound, knot, ...),
## tagged "interop"; the Debian packages are installed first.
interop: interop-deps
	$(GO) test -count=1 -tags interop -run 'Interop' ./...

interop-deps:
	./scripts/install-interop-deps

## bench: the benchmarks of docs/benchmarks.md, each beside its baseline.
bench:
	./bench/run

## fuzz: run each native fuzz target for FUZZTIME (default 30s).
fuzz:
	./scripts/fuzz-all $(FUZZTIME)

## demo: the run command of the README.
demo:
	$(GO) run ./cmd/dnshandle demo

clean:
	$(GO) clean -testcache
