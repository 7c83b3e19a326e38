/**
 * The one new-request fixture of the tests: a `NewRequest` as the ingest API would build it (id in its partition, the
 * group of its endpoint and model, bytes of its batch line, estimated tokens), with any field overridden.
 */
import {
  batchLine,
  type Endpoint,
  estimateInputTokens,
  groupFor,
  type NewRequest,
  newRequestId,
  type PartitionId,
} from '@batchbridge/domain';

export interface RequestFixtureOptions extends Partial<NewRequest> {
  /** The user message of the default chat body. @defaultValue `'hello'` */
  content?: string;
  /** @defaultValue `'/v1/chat/completions'` */
  endpoint?: Endpoint;
}

export function newRequestFixture(options: RequestFixtureOptions = {}): NewRequest {
  const { content = 'hello', endpoint = '/v1/chat/completions', ...fields } = options;
  const partition: PartitionId = fields.partition ?? 0;
  const id = fields.id ?? newRequestId(partition);
  const model = fields.model ?? 'gpt-4o-mini';
  const body = fields.body ?? JSON.stringify({ model, messages: [{ role: 'user', content }] });
  return {
    tenant: 'acme',
    group: groupFor(endpoint, model, false),
    bytes: Buffer.byteLength(batchLine(id, body)),
    tokens: estimateInputTokens([{ content }]),
    ...fields,
    id,
    partition,
    model,
    body,
  };
}
