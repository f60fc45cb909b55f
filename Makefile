# nhpush: send Azure Notification Hubs pushes from serverless Go.
# `make run` starts the local emulator and the custom handler; `make test` runs every test.

SHELL     := bash
.SHELLFLAGS := -eo pipefail -c
GO        ?= go
BIN       := $(CURDIR)/bin
PKGS      := ./...
BENCHTIME ?= 1s
BENCHCOUNT ?= 5

.PHONY: all build test bench lint fmt fuzz soak clean run run-smoke azure rie lambda build-NotificationsApiFunction build-NotificationsQueueFunction

all: build

build:
	$(GO) build $(PKGS)

## test: vet, make run's curl commands run and checked, then every test with the race detector.
test: rie
	$(GO) vet $(PKGS)
	scripts/run.sh --smoke
	$(GO) test -race -count=1 $(PKGS)

## bench: every benchmark next to its baseline in the same run, then one table with the ratios,
## start-to-first-answer, peak memory and binary sizes.
bench: rie
	@mkdir -p $(BIN)
	{ $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./nhclient/ ./nhclient/nhtest/ ./handler/ ./handler/awslambda/; \
	  $(GO) test -run '^$$' -bench ColdStart -benchtime 20x ./functions/azure/; \
	  $(GO) test -run '^$$' -bench RIEColdStart -benchtime 10x ./functions/lambda/; \
	  $(GO) test -run '^$$' -bench RIEInvocations -benchtime 1x ./functions/lambda/; } | tee $(BIN)/bench.txt | awk -f scripts/benchtable.awk
	@$(MAKE) -s azure >/dev/null && $(MAKE) -s lambda >/dev/null
	@echo
	@echo "stripped binaries: azure handler (linux/$(AZURE_GOARCH)) $$(stat -c %s dist/azure/handler) bytes;" \
	  "lambda bootstrap arm64 $$(stat -c %s dist/lambda/arm64/bootstrap) bytes, amd64 $$(stat -c %s dist/lambda/amd64/bootstrap) bytes"
	@grep -h -E 'ColdStart|RIEInvocations' $(BIN)/bench.txt | sed 's/^/process: /'
	@echo "machine: $$(nproc) cores, $$(free -g | awk '/Mem:/{print $$2}') GiB, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $$($(GO) version | cut -d' ' -f3)"

## lint: gofmt and go vet must be clean.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## fuzz: each fuzz target for FUZZTIME, then its new corpus copied into the package's
## testdata/fuzz, to be committed (`make test` runs every committed corpus as ordinary tests).
FUZZTIME ?= 20s
FUZZ_TARGETS := \
	./nhclient:FuzzParseConnectionString ./nhclient:FuzzValidateTagExpression \
	./nhclient/nhtest:FuzzParseTagExpr ./nhclient/nhtest:FuzzVerifySAS ./nhclient/nhtest:FuzzBatchMultipart \
	./handler:FuzzDecodeSendRequest ./handler/azfunc:FuzzInvocation ./handler/awslambda:FuzzInvoke
fuzz:
	@cache=$$($(GO) env GOCACHE)/fuzz/github.com/nhpush/nhpush; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) || exit 1; \
		if [ -d "$$cache/$${pkg#./}/$$name" ]; then mkdir -p $$pkg/testdata/fuzz/$$name && cp -n "$$cache/$${pkg#./}/$$name"/* $$pkg/testdata/fuzz/$$name/ 2>/dev/null || true; fi; \
	done

## soak: 20,000 valid requests (SOAK_REQUESTS) of every platform and audience through the custom
## handler and the Lambda bootstrap under the RIE, with 5% injected transient faults; fails on loss.
SOAK_REQUESTS ?= 20000
soak: rie
	SOAK_REQUESTS=$(SOAK_REQUESTS) $(GO) test -tags soak -run '^TestSoak$$' -count=1 -v -timeout 15m ./tests/ | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|soak'

clean:
	rm -rf $(BIN) dist .aws-sam

## run: the local NH emulator and the custom handler on loopback, with curl commands to try.
run:
	scripts/run.sh

## run-smoke: what `make run` starts, with its curl commands run and checked.
run-smoke:
	scripts/run.sh --smoke

## azure: a folder ready for `func start` and `func azure functionapp publish`.
AZURE_GOARCH ?= amd64
azure:
	rm -rf dist/azure && mkdir -p dist/azure
	CGO_ENABLED=0 GOOS=linux GOARCH=$(AZURE_GOARCH) $(GO) build -trimpath -ldflags "-s -w" -o dist/azure/handler ./functions/azure
	cp host.json local.settings.sample.json dist/azure/
	for f in functions/azure/*/function.json; do d=$$(basename $$(dirname $$f)); mkdir -p dist/azure/$$d; cp $$f dist/azure/$$d/; done
	@echo "dist/azure is ready: cd dist/azure && func start (or: func azure functionapp publish APP)"
	@ls -l dist/azure/handler

## rie: the AWS Lambda Runtime Interface Emulator, at its pinned version, into bin/ (tests use it).
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
rie: $(BIN)/aws-lambda-rie
$(BIN)/aws-lambda-rie: Makefile
	GOBIN=$(BIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	@touch $@

## lambda: the bootstrap for linux/arm64 and linux/amd64, stripped, with their sizes.
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"
lambda:
	@for arch in arm64 amd64; do \
		mkdir -p dist/lambda/$$arch && \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build $(LAMBDA_FLAGS) -o dist/lambda/$$arch/bootstrap ./functions/lambda && \
		echo "dist/lambda/$$arch/bootstrap: $$(stat -c %s dist/lambda/$$arch/bootstrap) bytes"; \
	done

# sam build (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR set.
LAMBDA_GOARCH ?= arm64
build-NotificationsApiFunction build-NotificationsQueueFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/lambda
