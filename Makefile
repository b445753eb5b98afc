# flowd: build, test, demo. `make help` lists the targets.
SWIFT ?= swift

.PHONY: all build release test demo deps clean help bench

all: build

help:
	@echo "make demo     install what is missing, build, run flowd on ./demo-root with the examples"
	@echo "make test     build and run the whole test suite"
	@echo "make build    debug build (.build/debug/flowd, .build/debug/flowadm)"
	@echo "make release  release build"
	@echo "make deps     install the Debian packages the build needs"
	@echo "make bench    release build, run the benchmarks, write BENCHMARKS.md (BENCH_ARGS=--quick to check)"

deps:
	@scripts/install-build-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: build
	$(SWIFT) test --disable-swift-testing

bench: release
	bench/install-deps.sh
	python3 bench/bench.py $(BENCH_ARGS)

demo: build
	scripts/demo.sh

clean:
	rm -rf .build demo-root
