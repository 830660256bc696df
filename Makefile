# The user's entry points. CMake does the building; this file only names the jobs.
#   make demo   - build and run a short demonstration: the embedded log, then wordcount on it
#   make test   - build with AddressSanitizer + UBSan and run every test
#   make test-kafka KAFKA=host:port - the same build; only the Kafka suites, against that broker
#                 (a Kafka or Redpanda, or an `eddy dev kafka`) instead of in-process mock clusters
#   make bench  - build optimised and run the benchmarks (results: docs/BENCHMARKS.md)
#   make soak   - the long crash loop (1,000 SIGKILLs) and other long tests

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RELEASE := build/release
SANITIZE := build/sanitize

.PHONY: all deps build build-sanitize demo test test-kafka bench soak fuzz clean format

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DEDDY_BUILD_TESTS=ON >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)

build-sanitize: deps
	@cmake -S . -B $(SANITIZE) -DCMAKE_BUILD_TYPE=Debug -DEDDY_ASAN=ON -DEDDY_UBSAN=ON >/dev/null
	@cmake --build $(SANITIZE) -j $(JOBS)

demo: build
	@scripts/demo.sh $(RELEASE)/eddy

test: build-sanitize
	@cd $(SANITIZE) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The tests labelled kafka (tests/CMakeLists.txt), with EDDY_TEST_KAFKA telling them the broker;
# those that need the mock cluster say they are skipped (docs/kafka.md, "Testing against a real
# Kafka or Redpanda"). Checked when the goal is named, so that a missing KAFKA stops make before
# it builds anything, with one line.
ifneq ($(filter test-kafka,$(MAKECMDGOALS)),)
ifeq ($(strip $(KAFKA)),)
$(error make test-kafka needs the broker: make test-kafka KAFKA=host:port)
endif
endif

test-kafka: build-sanitize
	@cd $(SANITIZE) && EDDY_TEST_KAFKA='$(KAFKA)' ctest --output-on-failure -j $(JOBS) \
		--timeout 600 -L kafka

bench: build
	@scripts/bench.sh $(RELEASE)

soak: build-sanitize
	@cd $(SANITIZE) && EDDY_SOAK=1 ctest --output-on-failure -R 'crash|model|group' --timeout 7200

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# Coverage-guided fuzzing of the parsers of untrusted bytes (clang + libFuzzer), 60 s each.
fuzz: deps
	@cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DEDDY_FUZZ=ON -DEDDY_BUILD_BENCH=OFF >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target fuzz_batch fuzz_group_offsets
	@mkdir -p build/fuzz/corpus-batch build/fuzz/corpus-group-offsets
	@build/fuzz/fuzz/fuzz_batch -max_total_time=60 build/fuzz/corpus-batch tests/fuzz/corpus/batch
	@build/fuzz/fuzz/fuzz_group_offsets -max_total_time=60 build/fuzz/corpus-group-offsets \
		tests/fuzz/corpus/group-offsets
