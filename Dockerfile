# syntax=docker/dockerfile:1
# Onset as one binary on a slim Debian base (multi-stage: the toolchain stays in the build stage).
#   docker build -t onset .
#   docker run -p 8080:8080 -v onset-data:/var/lib/onset onset
# Several nodes share PostgreSQL: give each ONSET_DATABASE_URL, the same ONSET_MASTER_KEY_FILE (or
# ONSET_MASTER_KEY) and ONSET_ADMIN_TOKEN, and an ONSET_ROLE (see docs/production.md).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The manifests first, so the dependency layer is cached across source changes.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p onset-cli \
    && cp target/release/onset /usr/local/bin/onset \
    && strip /usr/local/bin/onset

FROM debian:bookworm-slim
# ca-certificates: HTTPS to providers and connectors. The base image's own packages are kept at
# its release's versions; pinning them here would break with every Debian point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/onset --create-home onset
COPY --from=build /usr/local/bin/onset /usr/local/bin/onset
USER 10001
WORKDIR /var/lib/onset
ENV ONSET_LISTEN=0.0.0.0:8080 \
    ONSET_DATA_DIR=/var/lib/onset \
    ONSET_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/onset"]
# No HEALTHCHECK: the image has no HTTP client; orchestrators probe GET /livez and /readyz.
HEALTHCHECK NONE
ENTRYPOINT ["onset"]
CMD ["serve"]
