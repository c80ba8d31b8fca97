# understudy — build, test, rehearse.
#
#   make build      the binary at bin/understudy
#   make images     the offline rehearsal images (debootstrap + docker import)
#   make test       unit tests and the e2e rehearsals (needs Docker and the images)
#   make rehearse   rehearse runbooks/replica-swap.hcl (FROM=7.0 TO=8.0)
#   make bench      rehearse the version matrix, safe runbook next to the unsafe one
#   make lint       gofmt, go vet, staticcheck

GO        ?= go
BIN       := bin/understudy
FROM      ?= 7.0
TO        ?= 8.0
IMAGES    ?= redis:6.0 redis:7.0 redis:8.0 valkey:8.1 valkey:9.1
STATICCHECK_VERSION ?= v0.8.2

.PHONY: build images deps test unit e2e rehearse bench lint clean

build:
	$(GO) build -o $(BIN) ./cmd/understudy

images:
	images/build.sh $(IMAGES)

# The e2e rehearsals run with the unit tests, one package at a time (-p 1) so
# that timings are not distorted by other packages' containers. Nothing skips:
# a missing Docker engine or image is a failure.
test: build images deps
	$(GO) test -count=1 -p 1 -timeout 60m -v ./...

unit: deps
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: build images
	$(GO) test -count=1 -timeout 60m -v ./e2e/

# The unit tests start real redis-server processes (Debian's package).
deps:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing redis-server for the unit tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	    (service redis-server stop || true) >/dev/null 2>&1; \
	  else echo "redis-server is needed for the unit tests: apt-get install redis-server" >&2; exit 1; fi; }

rehearse: build images
	$(BIN) rehearse runbooks/replica-swap.hcl --var from=$(FROM) --var to=$(TO) --report rehearsal-report.json

bench: build images
	$(GO) run ./e2e/bench

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf bin rehearsal-report.json
