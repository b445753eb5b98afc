# flowd: build, test, demo, package, benchmark. `make help` lists the targets.
SWIFT ?= swift

.PHONY: all build release release-shipped test demo deps clean help bench deb check-deb deb-deps man

all: build

help:
	@echo "make demo     install what is missing, build, run flowd on ./demo-root with the examples"
	@echo "make test     build and run the whole test suite"
	@echo "make build    debug build (.build/debug/flowd, .build/debug/flowadm)"
	@echo "make release  release build"
	@echo "make deps     install the Debian packages the build needs"
	@echo "make bench    shipped release build, run the benchmarks, write BENCHMARKS.md (BENCH_ARGS=--quick to check)"
	@echo "make deb      build the Debian package (.build/deb/flowd_VERSION_ARCH.deb)"
	@echo "make check-deb  build the package, run lintian and the package tests"
	@echo "make man      render the man pages into .build/man (scdoc)"

deps:
	@scripts/install-build-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The build the Debian package ships (packaging/build-deb.sh uses the same flags):
# Swift runtime and Foundation linked statically. Benchmarks measure this one.
SHIPPED_FLAGS = -c release --static-swift-stdlib -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
release-shipped: deps
	$(SWIFT) build $(SHIPPED_FLAGS)

test: build
	@scripts/install-build-deps.sh python3   # the tests' local HTTP servers
	$(SWIFT) test --disable-swift-testing

bench: release-shipped
	bench/install-deps.sh
	python3 bench/bench.py $(BENCH_ARGS)

demo: build
	scripts/demo.sh

clean:
	rm -rf .build demo-root

deb-deps: deps
	@packaging/install-deb-deps.sh

deb: deb-deps
	SWIFT=$(SWIFT) packaging/build-deb.sh

check-deb: deb-deps
	SWIFT=$(SWIFT) packaging/check-deb.sh

man: deb-deps
	mkdir -p .build/man
	for page in packaging/man/*.scd; do scdoc < $$page > .build/man/$$(basename $$page .scd) || exit 1; done
