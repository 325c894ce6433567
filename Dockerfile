# retainctl in a container: the static musl binary of a release, checksum verified, on an
# empty base (no shell, no libc: nothing else to patch). For GitLab CI and other runners
# that take images:
#   docker build --build-arg VERSION=v0.1.0 -t retainctl .
#   docker run --rm -v "$PWD:/work" -w /work retainctl validate retention/
# GitLab CI runs its script with a shell: docker build --target shell -t retainctl:shell .
ARG VERSION=v0.1.0
ARG REPOSITORY=retainctl/retainctl

# The release archive for this platform, verified against its .sha256 file.
FROM alpine:3.20 AS release
ARG VERSION
ARG REPOSITORY
ARG TARGETARCH
RUN apk add --no-cache curl ca-certificates \
 && case "$TARGETARCH" in \
      amd64|"") target=x86_64-unknown-linux-musl ;; \
      arm64) target=aarch64-unknown-linux-musl ;; \
      *) echo "no release binary for $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && name="retainctl-${VERSION}-${target}" \
 && curl -fsSLO "https://github.com/${REPOSITORY}/releases/download/${VERSION}/${name}.tar.gz" \
 && curl -fsSLO "https://github.com/${REPOSITORY}/releases/download/${VERSION}/${name}.tar.gz.sha256" \
 && sha256sum -c "${name}.tar.gz.sha256" \
 && tar -xzf "${name}.tar.gz" \
 && install -m 0755 "${name}/retainctl" /retainctl \
 && mkdir -p /etc/ssl/certs && cp /etc/ssl/certs/ca-certificates.crt /ca-certificates.crt

# For CI systems that run a shell script inside the image (GitLab CI): the same binary
# with busybox's sh. Published as :vX.Y.Z-shell.
FROM busybox:1.36-musl AS shell
COPY --from=release /ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=release /retainctl /usr/local/bin/retainctl
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/retainctl"]
CMD ["--help"]

# The default: the binary and the CA certificates on an empty base.
FROM scratch
COPY --from=release /ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=release /retainctl /usr/local/bin/retainctl
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/retainctl"]
CMD ["--help"]
