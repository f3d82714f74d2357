# polyray front door: `make demo` and `make test` (see README.md).
# Every target is idempotent; `setup` installs what is missing and builds
# the Python package (with its cffi store), the C/C++ tree and the Java SDK.

VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
BUILD   := build
CPP_BUILD := $(BUILD)/cpp
MVN     := mvn -q -B -f java/pom.xml

.PHONY: setup sysdeps python cpp java demo test test-python test-cpp test-java bench clean

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

demo: setup
	@for f in examples/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

test: setup test-cpp test-java test-python

test-python:
	$(PY) -m pytest -q tests

test-cpp:
	ctest --test-dir $(CPP_BUILD) --output-on-failure

test-java:
	mvn -B -f java/pom.xml test

bench: setup
	$(PY) -m polyray.bench

clean:
	rm -rf $(BUILD) java/*/target
