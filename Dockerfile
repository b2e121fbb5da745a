# syntax=docker/dockerfile:1

# --- build: install everything, compile TypeScript and the web client, then drop the dev dependencies ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The workspaces' manifests first, so that `npm ci` is cached until a dependency changes.
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/package.json
COPY web/package.json ./web/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The web client (web/) uses the SDK (packages/client), typed from the server's schemas in src/.
COPY packages/client/src ./packages/client/src
COPY web/index.html web/vite.config.ts web/tsconfig.json ./web/
COPY web/src ./web/src
RUN npm run build && npm prune --omit=dev

# --- runtime: compiled code, production dependencies and the SQL migrations, as a non-root user ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The built web client, served at / (src/plugins/web.plugin.ts looks for it beside dist/).
COPY --from=build --chown=node:node /app/web/dist ./web/dist
COPY --from=build --chown=node:node /app/src/db/migrations ./src/db/migrations
# Only used without DATABASE_URL (embedded PGlite); mount a volume to keep it.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node as PID 1 receives SIGTERM directly and shuts down gracefully (see src/server.ts).
CMD ["node", "dist/server.js"]
