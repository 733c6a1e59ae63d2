#!/usr/bin/env bash
# fetch-tools.sh BIN_DIR TOOL...   (TOOL: terraform, terragrunt, awscli)
#
# Downloads the pinned release of each tool for this machine's architecture, checks it
# against the SHA-256 in versions.env beside this script, and installs it into BIN_DIR (the
# AWS CLI's own files go to /opt/aws-cli). A missing or wrong checksum stops with an error:
# nothing unverified is installed. Used by the toolbox image and by the GitHub workflows.
set -euo pipefail

# shellcheck source=SCRIPTDIR/versions.env
source "$(dirname "${BASH_SOURCE[0]}")/versions.env"

bin_dir=${1:?usage: fetch-tools.sh BIN_DIR TOOL...}
shift

arch=${TARGETARCH:-$(uname -m)}
case ${arch} in
  amd64 | x86_64) arch=amd64 aws_arch=x86_64 ARCH=AMD64 ;;
  arm64 | aarch64) arch=arm64 aws_arch=aarch64 ARCH=ARM64 ;;
  *)
    echo "fetch-tools: no checksums recorded for ${arch}" >&2
    exit 1
    ;;
esac

# checksum TOOL: the recorded SHA-256 of TOOL for this architecture, or a loud failure
# (called as `sum=$(checksum TOOL)`, so that set -e stops the script before any download).
checksum() {
  local name="$1_SHA256_${ARCH}"
  local sum=${!name:-}
  if [[ ! ${sum} =~ ^[0-9a-f]{64}$ ]]; then
    echo "fetch-tools: versions.env records no SHA-256 ${name}" >&2
    exit 1
  fi
  echo "${sum}"
}

# fetch URL SHA256 FILE: download URL to FILE, and keep it only if its SHA-256 is the one given.
fetch() {
  curl --fail --silent --show-error --location --retry 3 --output "$3" "$1"
  if ! echo "$2  $3" | sha256sum --check --strict --quiet -; then
    rm -f "$3"
    echo "fetch-tools: $1 does not have the recorded SHA-256 $2" >&2
    exit 1
  fi
}

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
mkdir -p "${bin_dir}"

for tool in "$@"; do
  case ${tool} in
    terraform)
      sum=$(checksum TERRAFORM)
      fetch "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_${arch}.zip" \
        "${sum}" "${work}/terraform.zip"
      unzip -q -o "${work}/terraform.zip" terraform -d "${bin_dir}"
      "${bin_dir}/terraform" version
      ;;
    terragrunt)
      sum=$(checksum TERRAGRUNT)
      fetch "https://github.com/gruntwork-io/terragrunt/releases/download/v${TERRAGRUNT_VERSION}/terragrunt_linux_${arch}" \
        "${sum}" "${work}/terragrunt"
      install -m 0755 "${work}/terragrunt" "${bin_dir}/terragrunt"
      "${bin_dir}/terragrunt" --version
      ;;
    awscli)
      sum=$(checksum AWSCLI)
      fetch "https://awscli.amazonaws.com/awscli-exe-linux-${aws_arch}-${AWSCLI_VERSION}.zip" \
        "${sum}" "${work}/awscli.zip"
      unzip -q "${work}/awscli.zip" -d "${work}"
      "${work}/aws/install" --update --install-dir /opt/aws-cli --bin-dir "${bin_dir}"
      "${bin_dir}/aws" --version
      ;;
    *)
      echo "fetch-tools: unknown tool ${tool} (terraform, terragrunt, awscli)" >&2
      exit 2
      ;;
  esac
done
