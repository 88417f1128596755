# nabla: multi-stage build. The builder is a pinned Rust release; the runtime is
# distroless (glibc, no shell) running as a non-root user.
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY api ./api
COPY benches ./benches
COPY tests ./tests
COPY examples ./examples
RUN cargo build --release --locked --bin nabla

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/nabla /usr/local/bin/nabla
ENV NABLA_ADDR=0.0.0.0:8080
EXPOSE 8080
USER 65532:65532
# No curl in a distroless image: the binary checks its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/nabla", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/nabla"]
