#!/usr/bin/env bash
# Format check for Terragrunt's .hcl files, offline.
#
# `terragrunt hcl fmt` formats with HCL's canonical formatter, the one `terraform fmt` is
# built on; terraform only refuses .hcl files by name, so each file goes through stdin.
# CI runs the real `terragrunt hcl fmt --check` as well (.github/workflows/ci.yml).
set -euo pipefail

status=0
for file in "$@"; do
  if ! formatted=$(terraform fmt -no-color - <"${file}"); then
    echo "${file}: not valid HCL" >&2
    status=1
    continue
  fi
  if ! diff -u --label "${file}" --label "${file} (formatted)" "${file}" - <<<"${formatted}"; then
    status=1
  fi
done
exit "${status}"
