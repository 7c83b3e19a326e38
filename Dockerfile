# One image for every batchbridge service; the container's command picks the service's bundle.
# Build: docker build -t batchbridge .   Run: docker run batchbridge services/packer/dist/main.mjs
# The runtime stage holds the esbuild bundles and the production node_modules they import, nothing else: no sources, no
# dev tooling (vitest, typescript, testcontainers, playwright-core, pino-pretty, @types), all root-owned and read-only
# to the `node` user that runs them. test/infra/dockerfile.test.ts checks this file and runs its deploy step.
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
# that read their own files at run time stay out of the bundles and are imported from node_modules/.pnpm/… by path.
RUN pnpm build
# The production tree: `pnpm deploy --prod` of the all-in-one, whose dependencies are every service's, installs only
# their production dependencies (pnpm ≥ 12.2 deploys without injectWorkspacePackages or --legacy, rewriting workspace
# packages to file: copies) from the store the install above filled (--offline). Its node_modules/.pnpm has the same
# entries the bundles import from; the copies of our own workspace packages (their sources) are dropped, the bundles
# hold that code. typescript goes too: valibot (under @bull-board/api) declares it as an optional peer, for its types
# only, and pnpm binds that to the workspace's compiler, which nothing loads at run time. `pnpm prune --prod` instead
# would keep every workspace project's dependencies (testkit's testcontainers).
RUN pnpm --filter @batchbridge/all-in-one --prod --offline deploy /prod \
 && rm -rf /prod/node_modules/.pnpm/@batchbridge+* /prod/node_modules/@batchbridge /prod/node_modules/.pnpm/typescript@* \
 && mkdir /image && mv /prod/node_modules /image/node_modules \
 && cp -r --parents services/*/dist /image/

FROM node:20-bookworm-slim AS runtime
# The app tree is read-only: what the all-in-one keeps between starts (dev tenant, key prefix) goes under /tmp, the
# one writable place (as in infra/k8s). Services given TENANTS_FILE and REDIS_KEY_PREFIX write nothing there.
ENV NODE_ENV=production HOST=0.0.0.0 REDIS_DATA_DIR=/tmp/batchbridge/redis
WORKDIR /app
COPY --from=build /image /app
USER node
# Ready = Redis answers and the service says so: `/readyz` of the ingest API and the all-in-one (PORT, 8080) or of a
# worker's health server (METRICS_PORT, else packer 9101, poller 9102, dispatcher 9103); the simulator (SIM_PORT,
# 9090) has no /readyz and answers `/_sim/counters`. One container runs one of them, so the first that answers wins.
# Plain node (fetch), since the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "-e", "const e=process.env,u=[e.METRICS_PORT,e.PORT||8080,9101,9102,9103].filter(Boolean).map(p=>'http://127.0.0.1:'+p+'/readyz').concat('http://127.0.0.1:'+(e.SIM_PORT||9090)+'/_sim/counters');Promise.any(u.map(x=>fetch(x,{signal:AbortSignal.timeout(4000)}).then(r=>r.ok?0:Promise.reject()))).then(()=>process.exit(0),()=>process.exit(1))"]
# Plain node runs the bundle: nothing is compiled at start, and no TypeScript loader sits in memory.
ENTRYPOINT ["node"]
CMD ["services/all-in-one/dist/main.mjs"]
