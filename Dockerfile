# shipgate worker image: the compiled CLI, its production dependencies and the example service.
#
#   docker build -t shipgate .
#   docker run --rm -e TEMPORAL_ADDRESS=temporal.example:7233 \
#     -v "$PWD/shipgate.yaml:/etc/shipgate/shipgate.yaml:ro" -v shipgate-home:/var/lib/shipgate shipgate
#
# The default command is `worker`; any other CLI command runs with `docker run ... shipgate status hello 1.2.0`.
# The worker needs no Temporal CLI (only `dev` and `demo` start a dev server), so none is installed here.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    SHIPGATE_HOME=/var/lib/shipgate \
    SHIPGATE_CONFIG=/etc/shipgate/shipgate.yaml \
    SHIPGATE_LOG_LEVEL=info
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build ./build
COPY package.json ./
COPY bin ./bin
# The service the demo deploys; a config may point build.source at /app/examples/hello-service.
COPY examples ./examples
# SHIPGATE_HOME holds artifacts, the audit log and the local target's state: keep it on a volume.
RUN mkdir -p /var/lib/shipgate /etc/shipgate && chown node:node /var/lib/shipgate
USER node
VOLUME ["/var/lib/shipgate"]
ENTRYPOINT ["node", "bin/shipgate.js"]
CMD ["worker"]
