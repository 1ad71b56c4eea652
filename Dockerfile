# syntax=docker/dockerfile:1
# streamrec image: the compiled CLI (dist/) with production dependencies only, run as `node`.
#   docker build -t streamrec .      docker run --rm streamrec serve --instance 0
# onnxruntime-node ships its CPU binaries in the npm package; its install script would only fetch
# GPU providers, so it is skipped (also .npmrc) in both stages.

# Build stage: dev dependencies (TypeScript) compile src/ to dist/ (tsconfig.build.json).
FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: no compiler, no tsx, no sources; files owned by root and only readable by the
# unprivileged user, so a compromised process cannot rewrite the code it runs.
FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
COPY topologies ./topologies
COPY bin ./bin
# The registry, the trainer's checkpoint and the seed model live under /var/lib/streamrec, a volume
# in docker-compose.yml and deploy/k8s; owned by `node` so a fresh named volume is writable for it.
RUN mkdir -p /var/lib/streamrec && chown node:node /var/lib/streamrec
# HTTP endpoints (/metrics, /healthz, /readyz, status page) of serve (metrics.port), train --follow
# (train.metricsPort) and monitor (monitor.metricsPort). They bind to metrics.host, loopback by
# default: deployments set STREAMREC_METRICS__HOST=0.0.0.0 to expose them.
EXPOSE 9464 9465 9466
USER node
ENTRYPOINT ["node", "bin/streamrec.js"]
CMD ["serve"]
