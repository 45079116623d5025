# The README's two commands: `go run ./cmd/probe demo` and `make test`.
GO ?= go

.PHONY: test unit integration deps vet fuzz bench demo

# Everything CI runs: unit tests, then the integration suite against real
# Postfix, Dovecot and Exim on loopback (installed first under CI=true).
test: deps vet unit integration

deps:
	@if [ "$$CI" = "true" ]; then bash integration/install.sh; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./integration/...

unit:
	$(GO) test -count=1 ./...

integration:
	$(GO) test -count=1 -tags integration ./integration/...

# Short fuzzing pass over every parser (not part of `make test`).
fuzz:
	bash bench/fuzz.sh 30s

bench:
	bash bench/session.sh
	bash bench/explain.sh

demo:
	$(GO) run ./cmd/probe demo
