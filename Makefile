# Two commands matter: `make run` (the embedded demo) and `make test`.
GO      ?= go
PKGS    := ./...
# Integration tests start slapd, redis-server and Chromium themselves.
TESTFLAGS ?= -race -count=1 -timeout 20m

# axe-core for the accessibility tests (idp/testenv/axe.go finds it
# there): version and integrity hash pinned by the package-lock.json.
AXE_DIR := idp/testenv/testdata/axe
AXE_JS  := $(AXE_DIR)/node_modules/axe-core/axe.min.js


.PHONY: run build test check generate fmt vet bench loadflow clean axe images screenshots

run:
	$(GO) run ./cmd/idp-dev

build:
	$(GO) build -o bin/idp ./cmd/idp
	$(GO) build -o bin/ldapsync ./cmd/ldapsync
	$(GO) build -o bin/idp-dev ./cmd/idp-dev

generate:
	$(GO) tool templ generate -include-version=false -path views

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)

# check: formatting and vet; templ freshness is a test (views).
check: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: check axe
	$(GO) test $(TESTFLAGS) $(PKGS)

axe: $(AXE_JS)

$(AXE_JS): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install axe-core for the accessibility tests: apt-get install npm"; exit 1; }
	npm ci --prefix $(AXE_DIR) --no-audit --no-fund --ignore-scripts
	@touch $@

# A full-page PNG of every page, state and width that TestRGAA checks.
screenshots: axe
	IDP_SCREENSHOTS=$(CURDIR)/screenshots $(GO) test -count=1 -run TestRGAA ./idp/app

# Builds the final stage of each image with podman (apt-get install podman).
images:
	IDP_TEST_IMAGES=1 $(GO) test -count=1 -run TestImagesBuild -v ./deploy

# Benchmarks through the real handler stack against redis-server and
# slapd (idp/app/bench_test.go): time, allocations, Redis commands and
# LDAP operations per operation. BENCH selects them (a -bench regexp),
# BENCHTIME sets -benchtime (e.g. 3s or 500x); empty: Go's default.
BENCH     ?= .
BENCHTIME ?=

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count=1 $(if $(BENCHTIME),-benchtime $(BENCHTIME)) $(PKGS)

# Load test of the production binary (cmd/idp) with its production
# configuration (throttle on), slapd seeded with USERS people and
# redis-server, driven by loadflow from LOADFLOW_DIR: C virtual users for
# D, ID tokens signed with ALG (RS256 or ES256), the provider at GOMAXPROCS
# PROCS (1 as in deploy/k8s/idp.yaml; 0: the runtime's default). See
# deploy/perf/README.md.
LOADFLOW_DIR ?= ../shared/tools/loadflow
C     ?= 16
D     ?= 20s
ALG   ?= ES256
USERS ?= 1000
PROCS ?= 1

loadflow:
	$(GO) build -o bin/idp ./cmd/idp
	cd $(LOADFLOW_DIR) && $(GO) build -o $(CURDIR)/bin/loadflow .
	IDP_LOADFLOW=1 IDP_BIN=$(CURDIR)/bin/idp LOADFLOW_BIN=$(CURDIR)/bin/loadflow \
	LOADFLOW_C=$(C) LOADFLOW_D=$(D) LOADFLOW_ALG=$(ALG) LOADFLOW_USERS=$(USERS) LOADFLOW_PROCS=$(PROCS) \
	$(GO) test -count=1 -timeout 30m -run '^TestLoadflow$$' -v ./deploy/perf

clean:
	rm -rf bin $(AXE_DIR)/node_modules
