# One image for every batchbridge service; the container's command picks the service.
# Build: docker build -t batchbridge .   Run: docker run batchbridge services/packer/src/main.ts
FROM node:20-bookworm-slim AS deps
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
RUN npm install -g pnpm@12.4.2
WORKDIR /app
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json .npmrc ./
COPY packages ./packages
COPY services ./services
COPY test/package.json ./test/package.json
RUN pnpm install --frozen-lockfile

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=deps --chown=node:node /app /app
COPY --chown=node:node tsconfig.base.json tsconfig.json ./
USER node
# tsx runs the TypeScript sources directly: no separate build output to drift from the code.
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["services/all-in-one/src/main.ts"]
