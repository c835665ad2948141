# newterms: build, test, bench, fuzz. `make test` is what CI runs.
GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
# Pinned so that lint results do not change under us.
STATICCHECK_VERSION := v0.8.2
SOURCES     := $(shell find . -name '*.go' -not -path './build/*') go.mod go.sum
FUZZTIME    ?= 60s
BENCHCOUNT  ?= 5

.PHONY: all build test lint vet staticcheck bench fuzz clean

all: build

build: build/out_newterms.so build/newterms build/harness

build/out_newterms.so: $(SOURCES)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath -o $@ ./plugin

build/newterms: $(SOURCES)
	$(GO) build -trimpath -o $@ ./cmd/newterms

# The C program that loads the plugin as Fluent Bit does (tests only).
build/harness: plugin/harness/harness.c
	@mkdir -p build
	$(CC) -O2 -Wall -Wextra -o $@ $< -ldl -lpthread

test: lint
	$(GO) test -race ./...

lint: vet staticcheck
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './build/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

bench:
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
