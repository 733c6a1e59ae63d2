#!/usr/bin/env bash
# The toolbox's entry point (see docker-compose.yml), run in the repository mounted at /work.
#
# Compose starts it as root, for one reason: the host's Docker socket, which the image build
# needs, is root's on every platform. Everything else (Terragrunt, Terraform, uv, Python, the
# shell) runs as the owner of the checkout (setpriv), so what it writes there stays yours.
set -euo pipefail

# The repository; TOOLBOX_REPO points the tests (tests/unit/test_workflows.py) at a copy.
readonly repo=${TOOLBOX_REPO:-/work}

usage() {
  cat <<'EOF_USAGE'
usage: docker-compose run dev COMMAND [ARGS...]        (or: docker compose run --rm dev ...)

  apply [ENV] [UNIT] [FLAGS...]    terragrunt run --all apply in live/ENV (every unit), or
                                   terragrunt run apply in live/ENV/UNIT. The state bucket is
                                   created on first use. Without EXIF_IMAGE_URI, applying the
                                   function first applies the image repository (ecr), builds
                                   the Lambda image through the host's Docker engine, pushes it
                                   and applies with it, by digest.
  destroy [ENV] [UNIT] [FLAGS...]  terragrunt run --all destroy (asks first unless ENV is
                                   disposable: live/ENV/env.hcl `disposable = true`)
  plan [ENV] [UNIT] [FLAGS...]     terragrunt run --all plan
  smoke [ARGS...]                  the smoke test against ENV (python -m tools.smoke
                                   --env ENV), also `docker-compose run test`
  serve                            install the project and stay up, for
                                   `docker-compose up -d` + `docker-compose exec -it dev bash`
  shell                            a shell with everything below on PATH
  versions                         the tools' versions
  help                             this text

ENV is a folder of live/ (dev, prod); default: $ENV, else dev. UNIT is one of its units (ecr,
buckets, iam-users, exif-lambda); FLAGS go to Terragrunt. The image to deploy can be given:
  EXIF_IMAGE_URI=<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>
AWS credentials come from ~/.aws (mounted read-only) or the AWS_* variables.
EOF_USAGE
}

die() {
  printf 'toolbox: %s\n' "$*" >&2
  exit 2
}

say() {
  printf 'toolbox: %s\n' "$*" >&2
}

# as_owner COMMAND...: run COMMAND as the owner of the repository when we are root (the
# owner is root on hosts that map every file to root, e.g. Docker Desktop: then as root).
as_owner() {
  local uid gid
  uid=$(stat -c %u "${repo}")
  gid=$(stat -c %g "${repo}")
  if [[ $(id -u) -ne 0 || ${uid} -eq 0 ]]; then
    "$@"
  else
    setpriv --reuid="${uid}" --regid="${gid}" --clear-groups -- "$@"
  fi
}

# --- environments and units ---------------------------------------------------------------

# The environment and unit named by the arguments; sets env, unit and flags.
parse_target() {
  env=${ENV:-dev}
  unit=""
  if [[ $# -gt 0 && $1 != -* && -f ${repo}/live/$1/env.hcl ]]; then
    env=$1
    shift
  fi
  [[ ${env} =~ ^[a-z][a-z0-9-]*$ && -f ${repo}/live/${env}/env.hcl ]] ||
    die "no environment live/${env} in this repository (dev, prod)"
  if [[ $# -gt 0 && $1 != -* ]]; then
    unit=$1
    shift
    [[ ${unit} =~ ^[a-z][a-z0-9-]*$ && -f ${repo}/live/${env}/${unit}/terragrunt.hcl ]] ||
      die "no unit live/${env}/${unit} in this repository"
  fi
  flags=("$@")
}

# env_setting NAME: a plain value of live/$env/env.hcl (a string without quotes, or a word).
env_setting() {
  sed -nE "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"?([A-Za-z0-9_.-]+)\"?.*/\\1/p" \
    "${repo}/live/${env}/env.hcl" | head -n 1
}

# An image by digest, as Lambda and the exif-lambda unit take it (never the placeholder).
is_image_by_digest() {
  [[ $1 =~ @sha256:[0-9a-f]{64}$ && ! $1 =~ @sha256:0{64}$ ]]
}

# Whether applying the target deploys the function, which needs an image: every unit, or a
# unit whose definition (live/_units/<unit>.hcl) reads EXIF_IMAGE_URI (exif-lambda).
needs_image() {
  local configs=("${repo}/live/_units"/*.hcl)
  if [[ -n ${unit} ]]; then
    configs=("${repo}/live/_units/${unit}.hcl")
  fi
  grep -qs EXIF_IMAGE_URI "${configs[@]}"
}

# Terragrunt's provider cache server, not TF_PLUGIN_CACHE_DIR: Terraform's own plugin cache
# is not safe for the concurrent inits of `run --all`.
prepare_caches() {
  as_owner mkdir -p "${TG_PROVIDER_CACHE_DIR}" "${TG_DOWNLOAD_DIR}"
}

# terragrunt_unit DIR COMMAND [TF_ARGS...]: one unit, with the user's flags.
terragrunt_unit() {
  local dir=$1 command=$2
  shift 2
  (cd "${dir}" && as_owner terragrunt run --non-interactive "${bootstrap[@]}" "${flags[@]}" -- "${command}" "$@")
}

# terragrunt_all COMMAND: every unit of the environment, in dependency order. `run --all`
# passes -auto-approve to apply and destroy itself; --non-interactive skips its own question.
terragrunt_all() {
  local command=$1 ask=("--non-interactive")
  if [[ ${command} == destroy && $(env_setting disposable) != true ]]; then
    ask=() # destroying what is not disposable asks first
  fi
  (cd "${repo}/live/${env}" && as_owner terragrunt run --all "${ask[@]}" "${bootstrap[@]}" "${flags[@]}" -- "${command}")
}

# --- the image -------------------------------------------------------------------------------

# build_and_push_image: apply the environment's image repository, build the Lambda image for
# the function's architecture through the host's Docker engine, push it, and set
# EXIF_IMAGE_URI to it by digest (read back from the registry, as deploy.yml does).
build_and_push_image() {
  local ecr_dir="${repo}/live/${env}/ecr"
  say "no EXIF_IMAGE_URI: applying live/${env}/ecr, then building the image"
  bootstrap=(--backend-bootstrap)
  terragrunt_unit "${ecr_dir}" apply -auto-approve
  local repository_url
  # The last line: whatever Terragrunt or an automatic init prints comes before it.
  repository_url=$(cd "${ecr_dir}" && as_owner terragrunt run --non-interactive -- output -raw repository_url | tail -n 1)
  [[ ${repository_url} =~ ^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/(.+)$ ]] ||
    die "live/${env}/ecr reports no repository URL (got '${repository_url}')"
  local region=${BASH_REMATCH[1]} repository=${BASH_REMATCH[3]} registry=${repository_url%%/*}

  local platform
  case $(env_setting lambda_architecture) in
    arm64) platform=linux/arm64 ;;
    x86_64) platform=linux/amd64 ;;
    *) die "live/${env}/env.hcl: lambda_architecture is neither arm64 nor x86_64" ;;
  esac
  docker info >/dev/null 2>&1 ||
    die "cannot reach the host's Docker engine through /var/run/docker.sock (see" \
      "docker-compose.yml: DOCKER_SOCKET); or set EXIF_IMAGE_URI to an image already pushed"
  if ! docker buildx inspect 2>/dev/null | grep -q "${platform}"; then
    die "the Docker engine cannot build ${platform} images: register QEMU once with" \
      "'docker run --privileged --rm tonistiigi/binfmt --install ${platform#linux/}'" \
      "(Docker Desktop can already), or set EXIF_IMAGE_URI"
  fi

  # A registry login of our own, thrown away afterwards: no token stays in ~/.docker.
  DOCKER_CONFIG=$(mktemp -d)
  export DOCKER_CONFIG
  trap 'rm -rf "${DOCKER_CONFIG}"' EXIT
  as_owner aws ecr get-login-password --region "${region}" |
    docker login --username AWS --password-stdin "${registry}"

  # Tags are immutable and CI tags by commit: a tag of our own, the image goes by digest.
  local tag
  tag="toolbox-$(date -u +%Y%m%dT%H%M%SZ)"
  # --provenance=false: Lambda takes a single image manifest, not an index with attestations.
  docker buildx build --platform "${platform}" --provenance=false --sbom=false --push \
    --tag "${repository_url}:${tag}" "${repo}/image"
  local digest
  digest=$(as_owner aws ecr describe-images --region "${region}" --repository-name "${repository}" \
    --image-ids "imageTag=${tag}" --query 'imageDetails[0].imageDigest' --output text)
  EXIF_IMAGE_URI="${repository_url}@${digest}"
  is_image_by_digest "${EXIF_IMAGE_URI}" || die "the registry reports no digest for ${tag} (got '${digest}')"
  export EXIF_IMAGE_URI
  say "image ${EXIF_IMAGE_URI}"
}

# --- commands --------------------------------------------------------------------------------

command_apply() {
  parse_target "$@"
  prepare_caches
  bootstrap=(--backend-bootstrap) # creates the state bucket on first use, idempotent after
  if needs_image; then
    if [[ -n ${EXIF_IMAGE_URI:-} ]]; then
      is_image_by_digest "${EXIF_IMAGE_URI}" ||
        die "EXIF_IMAGE_URI must name the image by digest (…@sha256:<64 hex digits>)," \
          "or be unset to build one: got '${EXIF_IMAGE_URI}'"
    else
      build_and_push_image
    fi
  fi
  if [[ -n ${unit} ]]; then
    terragrunt_unit "${repo}/live/${env}/${unit}" apply -auto-approve
  else
    terragrunt_all apply
  fi
}

# plan and destroy: no image needed (plan shows a placeholder digest that apply refuses).
command_plan_or_destroy() {
  local command=$1
  shift
  parse_target "$@"
  prepare_caches
  bootstrap=()
  if [[ -n ${unit} ]]; then
    local approve=()
    [[ ${command} == destroy && $(env_setting disposable) == true ]] && approve=(-auto-approve)
    terragrunt_unit "${repo}/live/${env}/${unit}" "${command}" "${approve[@]}"
  else
    terragrunt_all "${command}"
  fi
}

command_smoke() {
  cd "${repo}"
  as_owner uv sync --frozen --all-groups --quiet
  if [[ $# -eq 0 ]]; then
    set -- --env "${ENV:-dev}"
  fi
  as_owner uv run --frozen --no-sync python -m tools.smoke "$@"
}

command_serve() {
  cd "${repo}"
  as_owner uv sync --frozen --all-groups --quiet
  say "up: open a shell with 'docker-compose exec -it dev bash'; stop with 'docker-compose down'"
  exec sleep infinity
}

main() {
  local command=${1:-help}
  shift || true
  case ${command} in
    apply) command_apply "$@" ;;
    plan | destroy) command_plan_or_destroy "${command}" "$@" ;;
    smoke) command_smoke "$@" ;;
    serve) command_serve ;;
    versions)
      python --version
      uv --version
      terraform version
      terragrunt --version
      aws --version
      docker --version
      docker buildx version
      ;;
    shell | bash)
      cd "${repo}"
      export TOOLBOX_SHELL=1 # the shell's bashrc must not come back here
      as_owner bash "$@"
      ;;
    help | -h | --help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
