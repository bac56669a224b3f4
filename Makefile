# lakeport: make run | make test | make lint | make bench
SHELL := /bin/bash
BIN := $(CURDIR)/bin
VERSITYGW_VERSION := v1.8.0
export PATH := $(BIN):$(PATH)

.PHONY: run build test tools lint bench postgres postgres-stop

run: build
	$(BIN)/lakeport serve

build:
	go build -o $(BIN)/lakeport ./cmd/lakeport

# tools installs what the tests need: the S3-compatible server (Go module proxy) and
# chromium for the console's browser tests (Debian's packages).
tools: $(BIN)/versitygw
	@scripts/chromium.sh

$(BIN)/versitygw:
	GOBIN=$(BIN) go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	go vet ./...

# test installs and starts what the tests need (versitygw, PostgreSQL), then runs them all.
test: tools lint
	scripts/test.sh

bench:
	go test -run '^$$' -bench . -benchmem ./...

# A throwaway PostgreSQL on 127.0.0.1:54329 for the PostgreSQL tests (installs it from
# Debian's packages when missing).
postgres:
	@scripts/postgres.sh
postgres-stop:
	scripts/postgres.sh stop
