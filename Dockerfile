# syntax=docker/dockerfile:1
# The release host with the example plugins, run as a non-root user.
#   docker build -t dingtalk-wasm-host .
#   docker run --rm -e DINGTALK_CLIENT_ID=ding... -e DINGTALK_CLIENT_SECRET=... dingtalk-wasm-host
# deploy/compose.yaml runs two replicas sharing Redis.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# rust-toolchain.toml pins the toolchain and the wasm32-wasip2 target: rustup
# installs both on the first cargo call.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p host \
    && target/dist/host build plugins/calcbot plugins/cardbot plugins/aibot \
    && install -D target/dist/host /out/bin/host \
    && install -D -m 0644 -t /out/plugins plugins/calcbot.wasm plugins/cardbot.wasm plugins/aibot.wasm

FROM debian:bookworm-slim
# ca-certificates: TLS to DingTalk and plugins' origins; curl: the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/dingtalk-host --create-home dingtalk \
    && install -d -o dingtalk -g dingtalk -m 0700 /var/cache/dingtalk-host
COPY --from=build /out/bin/host /usr/local/bin/host
COPY --from=build /out/plugins /app/plugins
USER dingtalk
WORKDIR /var/lib/dingtalk-host
ENV DINGTALK_HOST_STATE_DIR=/var/lib/dingtalk-host \
    DINGTALK_HOST_CACHE_DIR=/var/cache/dingtalk-host
# The admin endpoint listens on every interface of the container so Prometheus can
# scrape it; publish the port only to the monitoring network (or set [admin] token).
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:9464/readyz || exit 1
ENTRYPOINT ["host"]
CMD ["run", "--admin", "0.0.0.0:9464", "/app/plugins/calcbot.wasm"]
