# nhpush: send Azure Notification Hubs pushes from serverless Go.
# `make run` starts the local emulator and the custom handler; `make test` runs every test.

SHELL     := bash
.SHELLFLAGS := -eo pipefail -c
GO        ?= go
BIN       := $(CURDIR)/bin
PKGS      := ./...
BENCHTIME ?= 2s

.PHONY: all build test bench lint fmt fuzz clean

all: build

build:
	$(GO) build $(PKGS)

## test: vet, then every test with the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)

## bench: the benchmarks, each against its plain net/http baseline in the same run.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./nhclient/ ./nhclient/nhtest/ | awk -f scripts/benchtable.awk

## lint: gofmt and go vet must be clean.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## fuzz: run each fuzz target for FUZZTIME (their seed corpora run in `make test`).
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./nhclient -run '^$$' -fuzz '^FuzzParseConnectionString$$' -fuzztime $(FUZZTIME)
	$(GO) test ./nhclient -run '^$$' -fuzz '^FuzzValidateTagExpression$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf $(BIN) dist .aws-sam
