#!/usr/bin/env bash
# `terraform init -backend=false` + `terraform validate` for every module under modules/ and
# every example of one (modules/<name>/examples/<example>).
#
# The Terraform CLI config comes from the project's harness (tools/terraform/cli_config.py),
# the one the tests use: a filesystem mirror of the providers when the machine has one (so
# this runs offline), the registry otherwise. The modules are validated in a scratch copy,
# so nothing (.terraform/, lock files) is written into the working tree.
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"

modules=()
for dir in modules/*/ modules/*/examples/*/; do
  if compgen -G "${dir}*.tf" >/dev/null; then
    modules+=("${dir%/}")
  fi
done
if ((${#modules[@]} == 0)); then
  echo "terraform validate: no modules under modules/"
  exit 0
fi

python=.venv/bin/python
if ! output=$("${python}" -m tools.terraform.cli_config); then
  echo "terraform validate: '${python} -m tools.terraform.cli_config' failed (run 'make venv')" >&2
  exit 1
fi
config=$(tail -n 1 <<<"${output}")
if [[ ! -f "${config}" ]]; then
  echo "terraform validate: the harness printed '${config}', which is not a file" >&2
  exit 1
fi
export TF_CLI_CONFIG_FILE="${config}" TF_IN_AUTOMATION=1 TF_INPUT=0

scratch=$(mktemp -d)
trap 'rm -rf "${scratch}"' EXIT
# The whole folder, so that a module referring to a sibling (../x) still finds it.
cp -R modules "${scratch}/modules"
find "${scratch}/modules" \( -name .terraform -o -name .terraform.lock.hcl \) -prune -exec rm -rf {} +

status=0
for module in "${modules[@]}"; do
  copy="${scratch}/${module}"
  if terraform -chdir="${copy}" init -backend=false -no-color >"${scratch}/init.log" 2>&1 \
    && terraform -chdir="${copy}" validate -no-color; then
    echo "terraform validate: ${module} ok"
  else
    echo "terraform validate: ${module} FAILED" >&2
    cat "${scratch}/init.log" >&2
    status=1
  fi
done
exit "${status}"
