# lyrebird: an AWS SQS + SNS emulator on port 4566.
#
#   docker build -t lyrebird .
#   docker run -d -p 127.0.0.1:4566:4566 -v lyrebird-data:/var/lib/lyrebird lyrebird  # state kept
#   docker run --rm -p 127.0.0.1:4566:4566 lyrebird --in-memory                        # nothing kept
#
# State lives in the volume /var/lib/lyrebird: only a named volume (`-v NAME:/var/lib/lyrebird`)
# keeps it from one container to the next. Without -v each container gets a fresh anonymous
# volume, which `--rm` deletes when the container goes. A bind-mounted host directory must be
# writable by uid 65532 (`chown 65532:65532 DIR`), else lyrebird exits at start-up with
# "lyrebird: cannot open data directory /var/lib/lyrebird: IO error: Permission denied (os error 13)".
#
# `--port` after the image name is followed by the HEALTHCHECK: the server writes the address it
# listens on to LYREBIRD_ADDR_FILE (/tmp/lyrebird.addr) and `lyrebird healthcheck` probes it.
#
# Two stages: the build on the official Rust image, and a distroless runtime holding only the
# binary, glibc and libgcc (about 34 MB in all, no shell, no package manager). Only the
# `lyrebird` binary is built (not lyrebird-bench). Plain `docker build` (the legacy builder,
# DOCKER_BUILDKIT=0) and BuildKit both work: no `# syntax=` line, so no registry is needed for it.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-trixie AS build
WORKDIR /src

# Dependencies first, against stub sources: this layer is rebuilt only when Cargo.toml or
# Cargo.lock change, not on every source edit.
# The workspace needs every member's manifest (bench/, the load generator, too: its real one,
# so Cargo.lock still matches under --locked) and a file for each target they declare; only the
# shipped binary is built, here and below, so bench/ keeps its stub source.
COPY Cargo.toml Cargo.lock ./
COPY bench/Cargo.toml ./bench/
RUN mkdir -p src bench/src \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
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
    LYREBIRD_INIT_DIR=/etc/lyrebird/init.d \
    LYREBIRD_ADDR_FILE=/tmp/lyrebird.addr

# distroless's "nonroot" user, by number so runAsNonRoot policies can check it.
USER 65532:65532
VOLUME ["/var/lib/lyrebird"]
EXPOSE 4566

# The binary probes its own /_lyrebird/health (no curl in the image), at the address the server
# wrote to LYREBIRD_ADDR_FILE, so a port given as a flag (`lyrebird --port 4568`) or as
# LYREBIRD_PORT is followed (with no file it probes LYREBIRD_HOST/LYREBIRD_PORT).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/lyrebird", "healthcheck"]

# lyrebird is PID 1 and handles SIGTERM itself: `docker stop` drains requests and flushes state.
ENTRYPOINT ["/usr/local/bin/lyrebird"]
