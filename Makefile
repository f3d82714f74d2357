# polyray front door: `make demo` and `make test` (see README.md).
# Every target is idempotent; `setup` installs what is missing and builds
# the Python package (with its cffi store), the C/C++ tree and the Java SDK.

VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
BUILD   := build
CPP_BUILD := $(BUILD)/cpp
MVN     := mvn -q -B -f java/pom.xml

.PHONY: setup sysdeps python cpp java demo lint test test-unit test-cluster test-python test-cpp test-java bench clean

setup: sysdeps python cpp java

sysdeps:
	@scripts/install-system-deps.sh

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

python: $(VENV)/bin/python
	$(PIP) install -q -e '.[test]'
	PYTHON=$(PY) scripts/gen_proto.sh

cpp:
	cmake -S cpp -B $(CPP_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(CPP_BUILD) -j2

java: cpp
	$(MVN) -DskipTests install
	@# The Java workers' AppCDS archive (java/README.md, "Warm starts"): ~10 s; a worker
	@# starts without it (slower) when this fails or the jars change after it.
	-$(PY) benchmarks/java_cold_start.py --build-cds-only

demo: setup
	@for f in examples/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# Fast lane first: lint and the Python unit lane fail in seconds, before the
# compiled suites and the cluster lane take minutes.
test: setup lint test-unit test-cpp test-java test-cluster

# ruff and mypy come with the test extra (`make setup`); mypy's files are in pyproject.toml.
lint:
	$(VENV)/bin/ruff check python tests benchmarks examples
	$(VENV)/bin/mypy

# A pytest lane: tests selected by a marker expression, the 20 slowest printed.
# A failed test runs once more (--reruns 1) so that one timing hiccup of a loaded
# machine does not sink a run of 1,500 tests; every rerun is listed in the summary
# (-rR, "RERUN") so a flaky test stays visible and gets fixed, and a test that
# fails twice fails the lane.
# Exit 5 (no test collected, e.g. a lane emptied by the marker) is not a failure.
define pytest_lane
	$(PY) -m pytest -q -rR --reruns 1 --reruns-delay 2 --durations=20 -m '$(1)' tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no test in lane '$(1)'"; rc=0; fi; exit $$rc
endef

# The fast lane: tests/rules and every test that starts no cluster (see tests/conftest.py).
test-unit:
	$(call pytest_lane,not cluster)

# The slow lane: tests that start a cluster (GCS + raylet + worker processes).
# tests/prebuild.py first compiles the lane's C++ test programs and Java test
# classes on every core (the fixtures would one at a time); it never fails.
test-cluster:
	-$(PY) tests/prebuild.py
	$(call pytest_lane,cluster)

test-python: test-unit test-cluster

# ctest and surefire rerun a failed test once, as the pytest lanes do (both print it).
test-cpp:
	ctest --test-dir $(CPP_BUILD) --output-on-failure --repeat until-pass:2

test-java:
	mvn -B -f java/pom.xml test -Dsurefire.rerunFailingTestsCount=1

bench: setup
	$(PY) -m polyray.bench

clean:
	rm -rf $(BUILD) java/*/target
