# newterms: build, test, bench, fuzz. `make test` is what CI runs.
GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
# Pinned so that lint results do not change under us.
STATICCHECK_VERSION := v0.8.2
SOURCES     := $(shell find . -name '*.go' -not -path './build/*') go.mod go.sum
FUZZTIME    ?= 60s
BENCHCOUNT  ?= 3
# Stamped into both binaries (newterms version, the plugin's init line):
# GOFLAGS=-buildvcs=false, set on some machines, leaves Go's own VCS
# stamp out.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -X github.com/newterms/newterms/internal/version.version=$(VERSION) \
               -X github.com/newterms/newterms/internal/version.commit=$(COMMIT)

.PHONY: all build test lint vet staticcheck bench bench-all bench-fluentbit fuzz clean

all: build

build: build/out_newterms.so build/newterms build/harness

build/out_newterms.so: $(SOURCES)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath -ldflags '$(LDFLAGS)' -o $@ ./plugin

build/newterms: $(SOURCES)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/newterms

# The C program that loads the plugin as Fluent Bit does (tests only).
build/harness: plugin/harness/harness.c
	@mkdir -p build
	$(CC) -O2 -Wall -Wextra -rdynamic -o $@ $< -ldl -lpthread

# The e2e tests run the plugin in real Fluent Bit: built first, so that
# the test packages, run in parallel, never build it at once. Conformance
# suites (internal/testsupport) each append a line with the cases they ran
# to CONFORMANCE, printed at the end: a green run that skipped them shows
# it. The file must be inside the module (go's test cache then reruns the
# packages that write it).
CONFORMANCE := $(CURDIR)/build/conformance.txt

test: lint build/out_newterms.so
	@mkdir -p build; : > $(CONFORMANCE)
	NEWTERMS_CONFORMANCE_LOG=$(CONFORMANCE) $(GO) test -race -timeout 25m ./...; rc=$$?; \
	sort $(CONFORMANCE) | awk -f conformance.awk; exit $$rc

lint: vet staticcheck
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './build/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The standing benchmark suite on one core, as a table: each figure in ns
# per operation (median of BENCHCOUNT runs), allocations, and its ratio to
# reading the same bytes once (bytes.Count over the 1.5 KB record).
# Full output in build/bench.txt. `make bench-all` runs every benchmark.
BENCHES := \
  ./internal/cloudtrail:Reference \
  ./internal/cloudtrail:Normalize/1.5KB \
  ./internal/asn:Lookup \
  ./internal/rules:Match \
  ./internal/prefilter:MayMatch$$ \
  ./internal/prefilter:MayMatchPack \
  ./internal/seen:Check \
  ./internal/alert:Build \
  ./internal/flb:Each \
  ./internal/engine:Engine$$ \
  ./internal/engine:EnginePack \
  ./cmd/newterms:Replay/learn-only-pack \
  ./cmd/newterms:Normalize \
  ./plugin:Harness

bench: build/out_newterms.so build/harness
	@mkdir -p build; : > build/bench.txt
	@for b in $(BENCHES); do \
	  pkg=$${b%%:*}; pat=$${b#*:}; \
	  $(GO) test -run '^$$' -bench "$$pat" -benchmem -count $(BENCHCOUNT) -cpu 1 -benchtime 1s $$pkg >> build/bench.txt || exit 1; \
	done
	@awk -f bench.awk build/bench.txt

# The plugin in real Fluent Bit on the synthetic stream: CPU seconds of
# the whole fluent-bit process per pipeline, against tail -> null (see
# internal/fluentbitbench). Skips when no Fluent Bit binary is found.
FBRECORDS ?= 200000
bench-fluentbit: build/out_newterms.so
	$(GO) run ./internal/fluentbitbench -records $(FBRECORDS) -runs $(BENCHCOUNT)

bench-all:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./...

# Each fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf build
