# Two commands matter: `make run` (the embedded demo) and `make test`.
GO      ?= go
PKGS    := ./...
# Integration tests start slapd, redis-server and Chromium themselves.
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: run build test check generate fmt vet bench clean

run:
	$(GO) run ./cmd/idp serve --dev

build:
	$(GO) build -o bin/idp ./cmd/idp

generate:
	$(GO) tool templ generate -include-version=false -path views

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)

# check: formatting and vet; templ freshness is a test (views).
check: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: check
	$(GO) test $(TESTFLAGS) $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin
