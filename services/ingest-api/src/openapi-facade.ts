/**
 * The Batch API facade's part of the OpenAPI document (SPEC §12): `/v1/files` and `/v1/batches` in OpenAI's shapes
 * (`OpenAIFile`, `Batch`, list pages), and the `batch.*` webhooks. Merged into openapi.ts's document; openapi.test.ts
 * validates real answers against these schemas.
 */
const errorRef = { $ref: '#/components/schemas/Error' };
const json = (schema: object) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json(errorRef) });
const ts = { type: ['integer', 'null'] };
const idParam = (description: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const listOf = (ref: string) => ({
  type: 'object',
  required: ['object', 'data', 'first_id', 'last_id', 'has_more'],
  properties: {
    object: { const: 'list' },
    data: { type: 'array', items: { $ref: ref } },
    first_id: { type: ['string', 'null'] },
    last_id: { type: ['string', 'null'] },
    has_more: { type: 'boolean' },
  },
});

export function facadePaths(): Record<string, unknown> {
  const fileId = idParam('A file id: an uploaded file (`file-…`) or a batch’s output or error file.');
  const batchId = idParam('A batch id (`batch_…`).');
  return {
    '/v1/files': {
      post: {
        operationId: 'uploadFile',
        summary: 'Upload a Batch API input file (JSONL, purpose=batch); each line is checked as it arrives',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file', 'purpose'],
                properties: { file: { type: 'string', format: 'binary' }, purpose: { const: 'batch' } },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'The file, ready for POST /v1/batches.',
            content: json({ $ref: '#/components/schemas/File' }),
          },
          '400': error(
            'A bad line (the message and `param` name it: `line <n>` or `line <n>: <field>`), no file part, or purpose is not batch.',
          ),
          '401': error('Missing or unknown API key.'),
          '413': error('The file is larger than FACADE_MAX_FILE_BYTES.'),
        },
      },
      get: {
        operationId: 'listFiles',
        summary: 'The uploaded files of the API key’s tenant, newest first',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000 } },
          { name: 'after', in: 'query', schema: { type: 'string' } },
          { name: 'order', in: 'query', schema: { enum: ['asc', 'desc'] } },
          { name: 'purpose', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'A page of files.', content: json(listOf('#/components/schemas/File')) },
          '400': error('A bad limit.'),
          '401': error('Missing or unknown API key.'),
        },
      },
    },
    '/v1/files/{id}': {
      get: {
        operationId: 'retrieveFile',
        summary: 'A file object (an output or error file reports bytes 0: it is streamed from the lines’ records)',
        parameters: [fileId],
        responses: {
          '200': { description: 'The file.', content: json({ $ref: '#/components/schemas/File' }) },
          '401': error('Missing or unknown API key.'),
          '404': error('No such file for this API key (or deleted).'),
        },
      },
      delete: {
        operationId: 'deleteFile',
        summary: 'Delete a file; its content answers 404 from then on',
        parameters: [fileId],
        responses: {
          '200': {
            description: 'Deleted.',
            content: json({
              type: 'object',
              required: ['id', 'object', 'deleted'],
              properties: { id: { type: 'string' }, object: { const: 'file' }, deleted: { const: true } },
            }),
          },
          '401': error('Missing or unknown API key.'),
          '404': error('No such file for this API key.'),
          '409': error('A batch is still enqueueing this file’s lines.'),
        },
      },
    },
    '/v1/files/{id}/content': {
      get: {
        operationId: 'fileContent',
        summary: 'The file’s lines (JSONL), streamed; for an output or error file, the provider line format',
        parameters: [fileId],
        responses: {
          '200': { description: 'JSON Lines.', content: { 'application/jsonl': { schema: { type: 'string' } } } },
          '401': error('Missing or unknown API key.'),
          '404': error('No such file for this API key (or deleted).'),
        },
      },
    },
    '/v1/batches': {
      post: {
        operationId: 'createBatch',
        summary: 'Create a batch from an uploaded file; every line becomes a request of the pipeline',
        parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['input_file_id', 'endpoint', 'completion_window'],
            properties: {
              input_file_id: { type: 'string' },
              endpoint: { type: 'string', examples: ['/v1/chat/completions'] },
              completion_window: {
                type: 'string',
                pattern: '^\\d+(s|m|h|d)$',
                description: 'Any duration up to FACADE_MAX_WINDOW (default 7d): the batch expires when it passes.',
              },
              metadata: {
                type: ['object', 'null'],
                additionalProperties: { type: 'string', maxLength: 512 },
                description: 'Up to 16 pairs; `callback_url` receives the batch webhook instead of the tenant default.',
              },
            },
          }),
        },
        responses: {
          '200': {
            description: 'The batch (validating, or failed when a line’s url is not the endpoint).',
            content: json({ $ref: '#/components/schemas/Batch' }),
          },
          '400': error(
            'A bad parameter, or `queue_quota_exceeded`: the file holds more lines than the tenant’s max_queued.',
          ),
          '401': error('Missing or unknown API key.'),
          '404': error('No such input file for this API key.'),
          '422': error('metadata.callback_url is refused by the address policy.'),
          '429': error(
            'The gates of a single request, for the file’s lines as a whole: `queue_quota_exceeded` (max_queued, ' +
              'lines of batches not yet enqueued included), `budget_exceeded`, `rate_limit_exceeded`; `Retry-After`.',
          ),
          '503': error('`capacity_exceeded` (GLOBAL_MAX_QUEUED for the file’s lines); `Retry-After`.'),
        },
      },
      get: {
        operationId: 'listBatches',
        summary: 'The tenant’s batches, newest first',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
          {
            name: 'after',
            in: 'query',
            description: 'A batch id: the page starts after it.',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': { description: 'A page of batches.', content: json(listOf('#/components/schemas/Batch')) },
          '400': error('A bad limit.'),
          '401': error('Missing or unknown API key.'),
        },
      },
    },
    '/v1/batches/{id}': {
      get: {
        operationId: 'retrieveBatch',
        summary: 'A batch; request_counts move line by line',
        parameters: [batchId],
        responses: {
          '200': { description: 'The batch.', content: json({ $ref: '#/components/schemas/Batch' }) },
          '401': error('Missing or unknown API key.'),
          '404': error('No such batch for this API key.'),
        },
      },
    },
    '/v1/batches/{id}/cancel': {
      post: {
        operationId: 'cancelBatch',
        summary: 'Cancel a batch: cancelling, then cancelled once its lines in provider batches have ended',
        parameters: [batchId],
        responses: {
          '200': { description: 'The batch, cancelling.', content: json({ $ref: '#/components/schemas/Batch' }) },
          '401': error('Missing or unknown API key.'),
          '404': error('No such batch for this API key.'),
          '409': error('The batch has ended already.'),
        },
      },
    },
  };
}

export function facadeSchemas(): Record<string, unknown> {
  return {
    File: {
      type: 'object',
      required: ['id', 'object', 'bytes', 'created_at', 'filename', 'purpose', 'status'],
      properties: {
        id: { type: 'string' },
        object: { const: 'file' },
        bytes: { type: 'integer' },
        created_at: { type: 'integer' },
        filename: { type: 'string' },
        purpose: { enum: ['batch', 'batch_output'] },
        status: { const: 'processed' },
        expires_at: ts,
        status_details: { type: ['string', 'null'] },
      },
    },
    Batch: {
      type: 'object',
      required: [
        'id',
        'object',
        'endpoint',
        'errors',
        'input_file_id',
        'completion_window',
        'status',
        'output_file_id',
        'error_file_id',
        'created_at',
        'expires_at',
        'request_counts',
        'metadata',
      ],
      properties: {
        id: { type: 'string' },
        object: { const: 'batch' },
        endpoint: { type: 'string' },
        errors: {
          oneOf: [
            { type: 'null' },
            {
              type: 'object',
              required: ['object', 'data'],
              properties: {
                object: { const: 'list' },
                data: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['code', 'line', 'message', 'param'],
                    properties: {
                      code: { type: 'string' },
                      line: { type: ['integer', 'null'] },
                      message: { type: 'string' },
                      param: { type: ['string', 'null'] },
                    },
                  },
                },
              },
            },
          ],
        },
        input_file_id: { type: 'string' },
        completion_window: { type: 'string' },
        status: {
          enum: [
            'validating',
            'failed',
            'in_progress',
            'finalizing',
            'completed',
            'expired',
            'cancelling',
            'cancelled',
          ],
        },
        output_file_id: { type: ['string', 'null'] },
        error_file_id: { type: ['string', 'null'] },
        created_at: { type: 'integer' },
        in_progress_at: ts,
        expires_at: ts,
        finalizing_at: ts,
        completed_at: ts,
        failed_at: ts,
        expired_at: ts,
        cancelling_at: ts,
        cancelled_at: ts,
        request_counts: {
          type: 'object',
          required: ['total', 'completed', 'failed'],
          properties: { total: { type: 'integer' }, completed: { type: 'integer' }, failed: { type: 'integer' } },
        },
        metadata: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    BatchWebhookEvent: {
      type: 'object',
      required: ['id', 'object', 'type', 'created_at', 'data'],
      properties: {
        id: { type: 'string', description: '`evt_` + the batch id.' },
        object: { const: 'event' },
        type: { enum: ['batch.completed', 'batch.failed', 'batch.expired', 'batch.cancelled'] },
        created_at: { type: 'integer' },
        data: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      },
    },
  };
}
