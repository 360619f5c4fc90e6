# uxtop developer tasks. `make demo` and `make test` each do their own set-up on a fresh machine.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# pip installs the package editable; maturin (the build backend) compiles the Rust core in
# release mode. The stamp makes repeat runs instant unless Rust or packaging changed.
STAMP := .make/installed
RUST_SRC := $(shell find rust -name '*.rs' 2>/dev/null) Cargo.toml Cargo.lock pyproject.toml

.PHONY: demo test test-rust test-python bench lint build-dev build-prod tmux clean

$(STAMP): $(RUST_SRC)
	$(PIP) install --disable-pip-version-check -q -e ".[dev]"
	@mkdir -p $(dir $(STAMP)) && touch $(STAMP)

build-dev: $(STAMP)

build-prod:
	$(PYTHON) -m maturin build --release --out dist

demo: $(STAMP)
	$(PYTHON) -m uxtop demo

# tmux drives the real app in the TUI check; install it when missing (Debian, as root)
tmux:
	@command -v tmux >/dev/null 2>&1 || { \
	  echo "installing tmux for the TUI check"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null) \
	  || { echo "could not install tmux (needed by tests/tui tmux check)"; exit 1; }; }

test-rust:
	cargo test --quiet

test-python: $(STAMP) tmux
	$(PYTHON) -m pytest -q

test: test-rust test-python

bench: $(STAMP)
	$(PYTHON) -m pytest benchmarks --benchmark-only -q

lint: $(STAMP)
	$(PYTHON) -m ruff check python tests benchmarks
	$(PYTHON) -m ruff format --check python tests benchmarks
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy.stubtest uxtop._core --allowlist stubtest-allowlist.txt
	cargo clippy --all-targets -- -D warnings
	cargo fmt --check

clean:
	rm -rf .make target dist
