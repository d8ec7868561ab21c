# Two commands matter: `make run` (the embedded demo) and `make test`.
GO      ?= go
PKGS    := ./...
# Integration tests start slapd, redis-server and Chromium themselves.
TESTFLAGS ?= -race -count=1 -timeout 20m

# axe-core for the accessibility tests (idp/testenv/axe.go finds it
# there): version and integrity hash pinned by the package-lock.json.
AXE_DIR := idp/testenv/testdata/axe
AXE_JS  := $(AXE_DIR)/node_modules/axe-core/axe.min.js

.PHONY: run build test check generate fmt vet bench clean axe images screenshots

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin $(AXE_DIR)/node_modules
