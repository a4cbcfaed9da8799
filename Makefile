# Latch developer entry points. `make test` is what CI runs (via .ci/run).
GO ?= go
PKGS := ./...

.PHONY: run test vet bench bench-peers bench-cluster bench-audit gobench proto fuzz build e2e-deps

build:
	$(GO) build -o bin/latch ./cmd/latch

# Run one node with embedded defaults: data in ./data, HTTP on 127.0.0.1:3001.
run:
	$(GO) run ./cmd/latch serve

# go vet, then every test with the race detector (actors, cluster and persistence are
# concurrent code; the race detector is the cheapest reviewer we have).
test: vet
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

# npm packages of the Logto Express sample (TestLogtoExpressSDK in cmd/latch needs them)
# and of the node-oidc-provider peer (TestGenericTargetAgainstNodeOIDCProvider in bench);
# without them, and without Debian's chromium, those tests skip unless
# LATCH_REQUIRE_NODE / LATCH_REQUIRE_BROWSER are set, as .ci/run sets them.
e2e-deps:
	cd e2e/express && npm ci --no-audit --no-fund
	cd bench/peers/node-oidc-provider && npm ci --no-audit --no-fund

vet:
	$(GO) vet $(PKGS)

# The standard `latch bench` suite against a fresh local Latch:
# writes bench/results/<date>-<host>.md with the figures and exact command lines.
bench:
	GO=$(GO) bash scripts/bench.sh

# Latch and its peers (node-oidc-provider, Ory Hydra) under the same latch bench
# workloads, one after the other: bench/results/<date>-<host>-peers.md.
bench-peers:
	GO=$(GO) bash scripts/bench-peers.sh

# refresh and sso-code against one node, then a 3-node loopback cluster (latch bench
# --endpoints), in one sitting: bench/results/<date>-<host>-cluster.md.
# BENCH_CLUSTER_DURATION (15s) sets each run's measured time.
bench-cluster:
	GO=$(GO) bash scripts/bench-cluster.sh

# What audit logs cost a refresh: two single-node servers at once, audit logs on and
# off, each under latch bench refresh, over 6 rounds: bench/results/<date>-<host>-audit.md.
bench-audit:
	GO=$(GO) bash scripts/bench-audit.sh

# Go micro-benchmarks of the hot paths (token endpoint, signing, store writes).
gobench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./oidcflow/ ./http/ ./persistence/

# Short runs of every fuzz target (longer: FUZZTIME=5m make fuzz).
FUZZTIME ?= 15s
fuzz:
	$(GO) test ./oidcflow/ -run '^$$' -fuzz FuzzParseForm -fuzztime $(FUZZTIME)
	$(GO) test ./oidcflow/ -run '^$$' -fuzz FuzzParseScope -fuzztime $(FUZZTIME)
	$(GO) test ./oidcflow/ -run '^$$' -fuzz FuzzVerifyPKCE -fuzztime $(FUZZTIME)
	$(GO) test ./actors/ -run '^$$' -fuzz FuzzSplitToken -fuzztime $(FUZZTIME)
	$(GO) test ./directory/ -run '^$$' -fuzz FuzzSafeRedirectURI -fuzztime $(FUZZTIME)
	$(GO) test ./http/ -run '^$$' -fuzz FuzzParsePaging -fuzztime $(FUZZTIME)
	$(GO) test ./bench/ -run '^$$' -fuzz FuzzParseOAuthError -fuzztime $(FUZZTIME)
	$(GO) test ./bench/ -run '^$$' -fuzz FuzzParseDiscovery -fuzztime $(FUZZTIME)
	$(GO) test ./bench/ -run '^$$' -fuzz FuzzTokenResponse -fuzztime $(FUZZTIME)
	$(GO) test ./bench/ -run '^$$' -fuzz FuzzDecodeHistogram -fuzztime $(FUZZTIME)
	$(GO) test ./bench/ -run '^$$' -fuzz FuzzParseRawResponse -fuzztime $(FUZZTIME)

# Regenerate the protobuf messages (output committed, so `go build` needs no protoc).
# Needs protoc (apt-get install protobuf-compiler) and
# go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
proto:
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) generate ./actors/msg ./cluster/clusterpb
