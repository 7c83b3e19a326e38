# One image for every batchbridge service; the container's command picks the service's bundle.
# Build: docker build -t batchbridge .   Run: docker run batchbridge services/packer/dist/main.mjs
FROM node:20-bookworm-slim AS build
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
RUN npm install -g pnpm@12.4.2
WORKDIR /app
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json .npmrc ./
COPY packages ./packages
COPY services ./services
COPY test/package.json ./test/package.json
RUN pnpm install --frozen-lockfile
COPY tsconfig.base.json tsconfig.json ./
COPY infra/build ./infra/build
# One esbuild bundle per service entry point: services/<name>/dist/main.mjs (infra/build/bundle.mjs). The few packages
# that read their own files at run time stay in node_modules, which the runtime stage keeps beside the bundles.
RUN pnpm build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
# Plain node runs the bundle: nothing is compiled at start, and no TypeScript loader sits in memory.
ENTRYPOINT ["node"]
CMD ["services/all-in-one/dist/main.mjs"]
