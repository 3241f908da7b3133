# The gateway as a container image. In a container the database is always a real MongoDB given by
# MONGODB_URI (see docker-compose.yml), so the image has no JDK and no embedded database.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so they stay cached while only the source changes. tsx is a runtime
# dependency (the service runs its TypeScript directly). Install scripts are skipped: the only
# one of ours fetches the embedded database's jars, which the image does not use (without a JDK
# it would only print a warning and skip itself).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src

USER node
EXPOSE 4000
ENV PORT=4000 HOST=0.0.0.0

# node itself is PID 1 (not `npm start`, which would not pass SIGTERM on), so `docker stop`
# reaches the service's own clean shutdown.
CMD ["node", "--import", "tsx", "src/main.ts"]
