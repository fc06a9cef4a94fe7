# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# every install is pinned by constraints.txt, so a new release cannot break CI overnight
PIP := $(BIN)/python -m pip install --quiet -c constraints.txt
# Test clients installed without their dependencies: kserve's metadata asks for protobuf<7,
# pandas<3 and psutil<6 (its server's pins); its REST client runs on ours. What `import kserve`
# needs is declared in the test extra; the version is pinned in constraints.txt.
NO_DEPS_TEST := kserve

.PHONY: demo test lint bench constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run the install whenever pyproject.toml or the pins change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml) | $(BIN)/python
	$(PIP) -e '.[test]'
	for p in plugins/*/; do if [ -f $$p/pyproject.toml ]; then $(PIP) -e "$$p[test]" || exit 1; fi; done
	$(PIP) --no-deps --no-warn-conflicts $(NO_DEPS_TEST)
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python -m modelmgmt demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q
	for p in plugins/*/; do if [ -d $$p/tests ]; then (cd $$p && ../../$(BIN)/python -m pytest -q) || exit 1; fi; done

# the linter and the type checker (configured in pyproject.toml); tests/test_lint.py runs both too
lint: $(VENV)/.installed-test
	$(BIN)/ruff check modelmgmt
	$(BIN)/mypy modelmgmt

bench: $(VENV)/.installed-test
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# Re-resolve every pin from pyproject.toml in a scratch venv; review the diff before committing.
constraints:
	rm -rf /tmp/modelmgmt-pins && $(PYTHON) -m venv /tmp/modelmgmt-pins
	/tmp/modelmgmt-pins/bin/python -m pip install --quiet --upgrade pip
	/tmp/modelmgmt-pins/bin/python -m pip install --quiet -e '.[test]'
	/tmp/modelmgmt-pins/bin/python -m pip install --quiet --no-deps --no-warn-conflicts $(NO_DEPS_TEST)
	head -2 constraints.txt > constraints.new
	/tmp/modelmgmt-pins/bin/python -m pip freeze | grep -v -i '^-e\|^modelmgmt' >> constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info
