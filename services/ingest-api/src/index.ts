// Public surface of @batchbridge/ingest-api: the HTTP door of batchbridge (SPEC §3).
export { createIngestApp, type IngestApp, type IngestAppOptions } from './app.js';
export { BATCHBRIDGE_FIELDS, MAX_CLIENT_REF_LENGTH } from './chat-request.js';
export { ApiError } from './errors.js';
export { openApiDocument } from './openapi.js';
export { type IngestApi, type IngestApiOptions, startIngestApi } from './server.js';
