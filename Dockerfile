# gbswarm in a container: one statically linked binary in an otherwise empty image
# (FROM scratch). Two ways to build it:
#
#   From source (pulls the Rust build image; the default, last stage):
#     docker build --build-arg GBSWARM_COMMIT=$(git rev-parse --short HEAD) -t gbswarm .
#
#   From a binary built here (pulls nothing; works offline):
#     RUSTFLAGS='-C target-feature=+crt-static' \
#         cargo build --release --locked --target x86_64-unknown-linux-gnu
#     docker build --target prebuilt -t gbswarm .
#
# Either way: docker run --rm gbswarm --version ; docker run --rm --network host gbswarm run ...
# podman and buildah take the same commands (buildah bud for docker build).

# --- build: a static glibc binary (`--target` keeps the flag off build scripts) ---
FROM docker.io/library/rust:1-bookworm AS build
ARG GBSWARM_COMMIT=unknown
ENV GBSWARM_COMMIT=${GBSWARM_COMMIT}
WORKDIR /src
COPY . .
RUN RUSTFLAGS='-C target-feature=+crt-static' \
        cargo build --release --locked --target x86_64-unknown-linux-gnu \
    && cp target/x86_64-unknown-linux-gnu/release/gbswarm /gbswarm

# --- prebuilt: the same image around a static binary built outside ---
FROM scratch AS prebuilt
ARG GBSWARM_BINARY=target/x86_64-unknown-linux-gnu/release/gbswarm
COPY ${GBSWARM_BINARY} /gbswarm
ENTRYPOINT ["/gbswarm"]
CMD ["--help"]

# --- the image: only the binary ---
FROM scratch
COPY --from=build /gbswarm /gbswarm
ENTRYPOINT ["/gbswarm"]
CMD ["--help"]
