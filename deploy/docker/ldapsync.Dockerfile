# The production image of the password writer (cmd/ldapsync).
#
#   docker build -f deploy/docker/ldapsync.Dockerfile -t ldapsync .        (from the repository root)
#   podman build -f deploy/docker/ldapsync.Dockerfile -t ldapsync .
#
# The build stage copies only the Go sources, so no .dockerignore is needed
# and nothing else of the checkout (.git, secrets, node_modules) reaches the
# image. The final image is FROM scratch: the static binary, CA certificates
# and a passwd entry, no shell, no package manager. It runs as 65532:65532,
# writes nothing (run it with a read-only root file system) and needs no
# /tmp. The configuration is mounted at /etc/ldapsync/ldapsync.yaml, the secrets where
# it says (/run/secrets/... in the examples).
#
# `ldapsync version` reads the version Go records; without .git in the build
# context the commit is "unknown", so pass --build-arg REVISION=$(git rev-parse HEAD)
# to label the image with it.
ARG GO_VERSION=1.26

FROM docker.io/library/golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY idp/ idp/
COPY views/ views/
COPY ldapsync/ ldapsync/
# Static (no cgo), reproducible paths; -buildvcs=false: there is no .git here.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/ldapsync ./cmd/ldapsync
RUN mkdir -p /out/etc \
 && echo 'ldapsync:x:65532:65532:ldapsync:/nonexistent:/sbin/nologin' > /out/etc/passwd \
 && echo 'ldapsync:x:65532:' > /out/etc/group

FROM scratch
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ldapsync" \
      org.opencontainers.image.description="Password writer of « Mes démarches en Nouvelle-Aquitaine »" \
      org.opencontainers.image.source="https://github.com/region-nouvelle-aquitaine/idp" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/etc/passwd /etc/passwd
COPY --from=build /out/etc/group /etc/group
COPY --from=build /out/ldapsync /ldapsync
USER 65532:65532
# Its only listener, when metrics.listen is set: /metrics, /healthz, /ready.
EXPOSE 9090
ENTRYPOINT ["/ldapsync", "run", "--config", "/etc/ldapsync/ldapsync.yaml"]
