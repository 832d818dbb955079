# lyrebird: an AWS SQS + SNS emulator on port 4566.
#
#   docker build -t lyrebird .
#   docker run --rm -p 4566:4566 lyrebird                  # state kept in /var/lib/lyrebird
#   docker run --rm -p 4566:4566 lyrebird --in-memory      # nothing kept
#
# Two stages: the build on the official Rust image, and a distroless runtime holding only the
# binary, glibc and libgcc (about 30 MB in all, no shell, no package manager).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-trixie AS build
WORKDIR /src

# Dependencies first, against stub sources: this layer is rebuilt only when Cargo.toml or
# Cargo.lock change, not on every source edit.
# Every target Cargo.toml declares needs a file for the manifest to load (lyrebird-bench too),
# but only the shipped binary is built, here and below.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > src/bin/lyrebird-bench.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin lyrebird \
    && rm -rf src

COPY src ./src
# Newer mtimes than the stubs', so cargo rebuilds lyrebird itself.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin lyrebird \
    && install -D -m 0755 target/release/lyrebird /out/usr/local/bin/lyrebird \
    && mkdir -p /out/var/lib/lyrebird /out/etc/lyrebird/init.d

# Debian 13, as the build stage, so the glibc the binary links against is there. (distroless
# stopped updating its Debian 12 images in September 2026.)
FROM gcr.io/distroless/cc-debian13:nonroot

LABEL org.opencontainers.image.title="lyrebird" \
      org.opencontainers.image.description="AWS SQS and SNS wire-protocol emulator (LocalStack-compatible port 4566)" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"

COPY --from=build /out/usr/local/bin/lyrebird /usr/local/bin/lyrebird
# The data directory belongs to the runtime user, so a fresh named volume does too.
COPY --from=build --chown=65532:65532 /out/var/lib/lyrebird /var/lib/lyrebird
COPY --from=build /out/etc/lyrebird/init.d /etc/lyrebird/init.d

# Every flag has a LYREBIRD_* variable; these are the container's defaults.
ENV LYREBIRD_HOST=0.0.0.0 \
    LYREBIRD_PORT=4566 \
    LYREBIRD_DATA_DIR=/var/lib/lyrebird \
    LYREBIRD_INIT_DIR=/etc/lyrebird/init.d

# distroless's "nonroot" user, by number so runAsNonRoot policies can check it.
USER 65532:65532
VOLUME ["/var/lib/lyrebird"]
EXPOSE 4566

# The binary probes its own /_lyrebird/health (no curl in the image). It reads the same
# LYREBIRD_HOST/LYREBIRD_PORT as the server, so a changed port is followed.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/lyrebird", "healthcheck"]

# lyrebird is PID 1 and handles SIGTERM itself: `docker stop` drains requests and flushes state.
ENTRYPOINT ["/usr/local/bin/lyrebird"]
