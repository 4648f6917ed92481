# The crashdsr image: the release binary in a slim Debian image. Build it
# from the repository's root (these machines have no Docker daemon; build
# where you run containers):
#
#   docker build -t crashdsr:latest .
#
# The index workers of deploy/kubernetes run it; see docs/scale-out.md.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p crashdsr

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/crashdsr /usr/local/bin/crashdsr
USER 65532:65532
ENTRYPOINT ["crashdsr"]
