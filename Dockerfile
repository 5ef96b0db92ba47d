# Builds the `enamel` binary into a small runtime image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin enamel --bin enamel-sim

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/enamel /usr/local/bin/enamel
COPY --from=build /src/target/release/enamel-sim /usr/local/bin/enamel-sim
ENTRYPOINT ["enamel"]
