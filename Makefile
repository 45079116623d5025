# The README's two commands: `go run ./cmd/probe demo` and `make test`.
GO ?= go

.PHONY: test unit integration deps lint fuzz bench demo

# Everything CI runs: unit tests, then the integration suite against real
# Postfix, Dovecot and Exim on loopback (installed first under CI=true).
test: deps lint unit integration

deps:
	@if [ "$$CI" = "true" ]; then bash integration/install.sh; fi

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# gofmt, go vet and staticcheck must all be clean.
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./integration/...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags integration ./integration/...

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
