# One entry point for everything a developer or CI runs. The README names two of these
# targets: `make demo` (the main job on the embedded AWS) and `make test` (every test and
# check; .ci/run calls exactly that).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
# The toolbox (docker-compose.yml) keeps both in its cache volume instead of the checkout, so
# a host's .venv and the container's never overwrite each other.
TOOLS ?= .tools
UV := $(TOOLS)/bin/uv
VENV ?= .venv
RUN := $(VENV)/bin
# uv must use the machine's Python (>= 3.11) and never download one.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
# uv syncs the environment the targets below run from.
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# --- environment ----------------------------------------------------------------------

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml image/pyproject.toml
	$(UV) sync --frozen --all-groups
	touch $@

.PHONY: venv
venv: $(VENV)/.synced ## create the dev environment from uv.lock

.PHONY: lock
lock: $(UV) ## re-resolve uv.lock after a dependency change
	$(UV) lock

# exiftool is the tests' independent oracle; jpegtran and libturbojpeg are the lossless
# transform the sanitizer and the benchmark use; the ICC profiles of icc-profiles-free,
# colord-data and Ghostscript (libgs-common) are real profiles the ICC tests convert
# colours through. Debian/Ubuntu package names.
SYSTEM_PACKAGES := libimage-exiftool-perl libjpeg-turbo-progs libturbojpeg0 \
	icc-profiles-free colord-data libgs-common
.PHONY: system-deps
system-deps: ## install exiftool, jpegtran, libturbojpeg, ICC profiles (apt, when missing)
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing: $$missing"; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# --- the two commands of the README ---------------------------------------------------

.PHONY: test
test: lint venv system-deps terraform-config ## every test and check (what CI runs)
	$(RUN)/pytest

.PHONY: demo
demo: venv system-deps ## the whole system on an embedded AWS: upload as User A, read as User B
	$(RUN)/python -m tests.harness.demo

# --- finer-grained ---------------------------------------------------------------------

.PHONY: test-unit
test-unit: venv system-deps ## the fast, pure-Python tests
	$(RUN)/pytest tests/unit

.PHONY: test-integration
test-integration: venv terraform-config ## the slow tests alone: Terraform and the embedded AWS
	$(RUN)/pytest -m integration

# Every Terraform command of the tests and hooks runs with this CLI configuration: the
# machine's provider mirror when it has one (found, or named by EXIF_TF_PROVIDER_MIRROR),
# the registry otherwise, and a shared plugin cache. Prints the file's path.
.PHONY: terraform-config
terraform-config: venv ## write .terraformrc.generated (use it as TF_CLI_CONFIG_FILE)
	$(RUN)/python -m tests.harness.terraform_cli

# Each Terragrunt unit commits its provider lock file (live/<env>/<unit>/.terraform.lock.hcl),
# the same for dev and prod. Offline it holds the hashes this machine can compute from its
# provider mirror; online it adds the registry's hashes for every platform (CI's runners, Linux
# and macOS laptops). Run the online one after changing a provider constraint.
.PHONY: provider-locks
provider-locks: venv ## lock each live/ unit's providers from the local mirror (offline)
	$(RUN)/python -m tests.harness.provider_locks

.PHONY: provider-locks-online
provider-locks-online: venv ## add every platform's provider hashes to the lock files (needs the registry)
	$(RUN)/python -m tests.harness.provider_locks --online $(foreach p,$(PLATFORMS),--platform $(p))

.PHONY: bench
bench: venv system-deps ## throughput and memory benchmark (CORPUS=dir for your own photos)
	$(RUN)/python -m tests.harness.bench $(if $(CORPUS),--corpus $(CORPUS))

# The static checks: every hook in .pre-commit-config.yaml, offline, over the whole tree.
# The hooks' own environments live in PRE_COMMIT_HOME (~/.cache/pre-commit by default).
.PHONY: lint
lint: venv ## ruff, mypy, terraform fmt/validate, checkov, hadolint, shellcheck, zizmor, ...
	$(RUN)/pre-commit run --all-files --show-diff-on-failure

# The Lambda image installs exactly what uv.lock resolved for the package, with hashes.
# tests/unit/test_container_image.py fails when the committed file is out of date.
REQUIREMENTS_LOCK ?= image/requirements.lock
.PHONY: requirements-lock
requirements-lock: $(UV) ## regenerate image/requirements.lock from uv.lock
	{ echo "# The Lambda's runtime dependencies, exported from uv.lock by 'make requirements-lock'."; \
	  echo "# Do not edit: change image/pyproject.toml, run 'make lock', then 'make requirements-lock'."; \
	  $(UV) export --frozen --no-dev --no-emit-workspace --package exif-stripper \
	    --format requirements.txt --no-header; } > $(REQUIREMENTS_LOCK)

# The image builds the package itself (its C scanner included) with the build backend named
# in image/pyproject.toml's [build-system], installed in the builder stage from this hashed
# lock. Unlike the runtime lock it is resolved from PyPI, so regenerating it needs the network.
.PHONY: build-requirements-lock
build-requirements-lock: $(UV) ## regenerate image/build-requirements.lock (needs PyPI)
	{ echo "# The image's build backend ([build-system] of image/pyproject.toml), pinned with"; \
	  echo "# hashes by 'make build-requirements-lock'."; \
	  $(PYTHON) -c 'import tomllib; print(*tomllib.load(open("image/pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(UV) pip compile - --generate-hashes --universal --python-version 3.13 \
	    --no-header --no-annotate --quiet; } > image/build-requirements.lock

.PHONY: clean
clean: ## remove environments and caches
	rm -rf $(TOOLS) $(VENV) .pytest_cache .mypy_cache .ruff_cache
