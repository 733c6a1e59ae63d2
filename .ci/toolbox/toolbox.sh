#!/usr/bin/env bash
# The toolbox's entry point (see docker-compose.yml), run in the repository mounted at /work.
set -euo pipefail

# The repository; TOOLBOX_REPO points the tests (tests/unit/test_workflows.py) at a copy.
readonly repo=${TOOLBOX_REPO:-/work}

usage() {
  cat <<'EOF_USAGE'
usage: docker compose run --rm dev COMMAND [ARGS...]

  plan ENV [UNIT] [FLAGS...]      terragrunt run --all plan    in live/ENV,
                                  or terragrunt run plan       in live/ENV/UNIT
  apply ENV [UNIT] [FLAGS...]     terragrunt run --all apply   in live/ENV,
                                  or terragrunt run apply      in live/ENV/UNIT
  destroy ENV [UNIT] [FLAGS...]   terragrunt run --all destroy in live/ENV,
                                  or terragrunt run destroy    in live/ENV/UNIT
  smoke [ARGS...]                 the smoke test (python -m tests.harness.smoke); also
                                  `docker compose run --rm test [ARGS...]`
  versions                        the pinned tools' versions
  shell                           a shell with all of the above on PATH

ENV is a folder of live/ (dev, prod), UNIT one of its units (ecr, buckets, iam-users,
exif-lambda); FLAGS go to Terragrunt.

First deployment of an environment: its state bucket and image repository, nothing else
(no image exists yet, so none is needed):
  docker compose run --rm dev apply ENV ecr --backend-bootstrap
Then let .github/workflows/deploy.yml run on main: it pushes the image to dev's
repository, copies it into prod's, and applies each environment with its own copy.

Applying the function (apply ENV, apply ENV exif-lambda) needs the image, by digest, in
ENV's own account:
  EXIF_IMAGE_URI=<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>
plan and destroy need none (plan shows a placeholder digest that apply refuses).
AWS credentials come from ~/.aws (mounted read-only) or the AWS_* variables.
EOF_USAGE
}

die() {
  printf 'toolbox: %s\n' "$*" >&2
  exit 2
}

# terragrunt_run COMMAND ENV [UNIT] [FLAGS...]: one unit, or every unit of the environment.
terragrunt_run() {
  local command=$1 env=${2:-} unit=""
  [[ ${env} =~ ^[a-z][a-z0-9-]*$ ]] || die "${command} needs an environment: dev or prod"
  local dir="${repo}/live/${env}"
  [[ -d ${dir} ]] || die "no environment live/${env} in this repository"
  shift 2
  if [[ $# -gt 0 && $1 != -* ]]; then
    unit=$1
    shift
    [[ ${unit} =~ ^[a-z][a-z0-9-]*$ && -f ${dir}/${unit}/terragrunt.hcl ]] ||
      die "no unit live/${env}/${unit} in this repository"
  fi

  # Only a unit that reads EXIF_IMAGE_URI (exif-lambda) needs it, and only to apply; its
  # before_hook would refuse a missing image too, but after the other units had been applied.
  local configs=("${dir}"/*/terragrunt.hcl)
  if [[ -n ${unit} ]]; then
    configs=("${dir}/${unit}/terragrunt.hcl")
  fi
  if [[ ${command} == apply ]] && grep -qs EXIF_IMAGE_URI "${configs[@]}"; then
    if [[ ! ${EXIF_IMAGE_URI:-} =~ @sha256:[0-9a-f]{64}$ || ${EXIF_IMAGE_URI} =~ @sha256:0{64}$ ]]; then
      die "set EXIF_IMAGE_URI to the image to deploy, by digest (…@sha256:<64 hex digits>);" \
        "on a new environment first: apply ${env} ecr --backend-bootstrap"
    fi
  fi

  # Terragrunt's provider cache server, not TF_PLUGIN_CACHE_DIR: Terraform's own plugin cache
  # is not safe for the concurrent inits of `run --all`.
  mkdir -p "${TG_PROVIDER_CACHE_DIR}" "${TG_DOWNLOAD_DIR}"
  if [[ -n ${unit} ]]; then
    cd "${dir}/${unit}"
    exec terragrunt run "${command}" "$@"
  fi
  cd "${dir}"
  exec terragrunt run --all "${command}" "$@"
}

command=${1:-help}
shift || true
case ${command} in
  plan | apply | destroy)
    terragrunt_run "${command}" "$@"
    ;;
  smoke)
    cd "${repo}"
    uv sync --frozen --all-groups --quiet
    exec uv run --frozen --no-sync python -m tests.harness.smoke "$@"
    ;;
  versions)
    python --version
    uv --version
    terraform version
    terragrunt --version
    aws --version
    ;;
  shell | bash)
    exec bash
    ;;
  help | -h | --help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
