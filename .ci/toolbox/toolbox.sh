#!/usr/bin/env bash
# The toolbox's entry point (see docker-compose.yml), run in the repository mounted at /work.
set -euo pipefail

readonly repo=/work

usage() {
  cat <<'EOF'
usage: docker compose run --rm dev COMMAND [ARGS...]

  plan ENV [FLAGS...]      terragrunt run --all plan    in live/ENV
  apply ENV [FLAGS...]     terragrunt run --all apply   in live/ENV
  destroy ENV [FLAGS...]   terragrunt run --all destroy in live/ENV
  smoke [ARGS...]          the smoke test (python -m tests.harness.smoke); also
                           `docker compose run --rm test [ARGS...]`
  versions                 the pinned tools' versions
  shell                    a shell with all of the above on PATH

Terragrunt reads the image to deploy from EXIF_IMAGE_URI, by digest:
  EXIF_IMAGE_URI=<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>
AWS credentials come from ~/.aws (mounted read-only) or the AWS_* variables.
EOF
}

die() {
  printf 'toolbox: %s\n' "$*" >&2
  exit 2
}

terragrunt_all() {
  local command=$1 env=${2:-}
  [[ ${env} =~ ^[a-z][a-z0-9-]*$ ]] || die "${command} needs an environment: dev or prod"
  local dir="${repo}/live/${env}"
  [[ -d ${dir} ]] || die "no environment live/${env} in this repository"
  if [[ ! ${EXIF_IMAGE_URI:-} =~ @sha256:[0-9a-f]{64}$ ]]; then
    die "set EXIF_IMAGE_URI to the image to deploy, by digest (…@sha256:<64 hex digits>)"
  fi
  mkdir -p "${TF_PLUGIN_CACHE_DIR}" "${TG_DOWNLOAD_DIR}"
  shift 2
  cd "${dir}"
  exec terragrunt run --all "${command}" "$@"
}

command=${1:-help}
shift || true
case ${command} in
  plan | apply | destroy)
    terragrunt_all "${command}" "$@"
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
