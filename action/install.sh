#!/usr/bin/env bash
# Installs the pinned retainctl release for this runner: downloads the archive and its
# SHA-256 file, refuses a mismatch, keeps it in the runner's tool cache and puts it on PATH.
# Environment: RETAINCTL_VERSION (e.g. 0.1.0), RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE,
# GITHUB_PATH; RETAINCTL_RELEASES_URL overrides the download host (tests, mirrors).
set -euo pipefail

version="${RETAINCTL_VERSION#v}"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.]+)?$ ]]; then
  echo "::error title=retainctl install::version must be a release like 0.1.0, got '${RETAINCTL_VERSION}'"
  exit 1
fi
case "${RUNNER_OS:-Linux}/${RUNNER_ARCH:-X64}" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  *)
    echo "::error title=retainctl install::no release binary for ${RUNNER_OS}/${RUNNER_ARCH}: use the container image or cargo install --locked retainctl"
    exit 1
    ;;
esac
releases="${RETAINCTL_RELEASES_URL:-https://github.com/retainctl/retainctl/releases/download}"
cache="${RUNNER_TOOL_CACHE:-$HOME/.cache}/retainctl/${version}/${target}"
if [ ! -x "$cache/retainctl" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  archive="retainctl-v${version}-${target}.tar.gz"
  curl -fsSL --retry 3 -o "$work/$archive" "$releases/v${version}/$archive"
  curl -fsSL --retry 3 -o "$work/$archive.sha256" "$releases/v${version}/$archive.sha256"
  expected="$(awk '{print $1; exit}' "$work/$archive.sha256")"
  if command -v sha256sum >/dev/null; then
    actual="$(sha256sum "$work/$archive" | awk '{print $1}')"
  else
    actual="$(shasum -a 256 "$work/$archive" | awk '{print $1}')"
  fi
  if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
    echo "::error title=retainctl install::checksum mismatch for $archive: expected ${expected:-nothing}, got $actual"
    exit 1
  fi
  mkdir -p "$cache"
  tar -xzf "$work/$archive" -C "$work"
  install -m 0755 "$work/retainctl-v${version}-${target}/retainctl" "$cache/retainctl"
fi
echo "$cache" >> "${GITHUB_PATH:-/dev/null}"
"$cache/retainctl" --version
