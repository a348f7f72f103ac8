# One image, two Cloud Run services: SERVICE_ROLE=api or SERVICE_ROLE=worker (see infra/README.md).
#
# Built on Node 22 LTS: the majors of the Google client libraries pinned in package.json run on
# Node 20 and 22 alike, and Node 20 is past its end of life.
#
# Three stages, so the runtime image holds neither the compiler toolchain nor dev dependencies:
#   prod-deps  node:22-slim, npm ci --omit=dev: no production dependency compiles anything (sharp
#              brings a prebuilt binary), so no toolchain; then files never read at run time go
#   build      the toolchain (better-sqlite3, a dev dependency, compiles when no prebuilt binary
#              fits this Node ABI), npm ci with dev dependencies, then tsc into dist/
#   runtime    node:22-slim with the two results, as the unprivileged `node` user
# The image runs the cloud settings only: no ffmpeg at all (VisionStory renders; the upload check
# reads audio lengths in JavaScript). The local stack's parts (SQLite, the ffmpeg render
# provider, the embedded Cloud Tasks emulator) are dev dependencies: a local setting started
# from this image stops with a message to run `npm install`.

FROM node:22-slim AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

FROM node:22-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# Source maps, type declarations and markdown are never read by the running service (no
# --enable-source-maps, no TypeScript at run time): about a third of the production tree. LICENSE
# files stay with the packages they belong to.
RUN npm ci --omit=dev --no-audit --no-fund \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o \( -name '*.md' ! -iname 'license*' \) \) -delete

FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY server/src ./server/src
RUN npm run build

FROM node:22-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The web page's static files: tsc copies only .ts, and routes/web.ts looks for them here.
COPY server/src/http/web ./server/src/http/web
# The Firebase JS SDK's three browser modules, for the web page's Firestore listener
# (FIREBASE_WEB_CONFIG): the firebase package itself (about 60 MB) is a dev dependency.
COPY --from=build /app/node_modules/firebase/firebase-app.js /app/node_modules/firebase/firebase-auth.js /app/node_modules/firebase/firebase-firestore.js ./vendor/firebase/
# DATA_DIR (./.data) is only written in local mode; the node user owns it so that works too.
RUN mkdir -p .data && chown node:node .data
USER node
EXPOSE 8080
# node directly, not npm start: signals reach the process, so SIGTERM drains in-flight requests.
CMD ["node", "dist/server/src/main.js"]
