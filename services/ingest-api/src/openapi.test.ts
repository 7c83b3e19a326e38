/**
 * Keeps /openapi.json and real behaviour in step: every documented operation answers (never an unknown-route 404 or
 * a 405), every status the API really answers is documented for its operation, and every JSON answer validates
 * against the documented schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, chatBody, GLOBEX_KEY, startTestIngest, type TestIngest } from '../test/helpers.js';

type Doc = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
  >;
  components: object;
  webhooks: Record<string, unknown>;
};

describe('OpenAPI document', () => {
  let t: TestIngest;
  let doc: Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const exercised = new Set<string>();
  let validated = 0;

  beforeAll(async () => {
    t = await startTestIngest();
    const res = await t.call('GET', '/openapi.json', { key: null });
    expect(res.status).toBe(200);
    doc = res.json as Doc;
    // Make `#/components/...` refs resolvable from any response schema.
    ajv.addSchema({ $id: 'bb-openapi', components: doc.components });
  });
  afterAll(async () => {
    await t.dispose();
  });

  /** Asserts that `res` is a documented answer of `method path` and validates its JSON body. */
  function conforms(method: string, path: string, res: Answer): void {
    const op = doc.paths[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path} is not documented`).toBeDefined();
    exercised.add(`${method} ${path}`);
    const documented = op!.responses[String(res.status)];
    expect(documented, `${method} ${path} answered ${res.status}, which is not documented: ${res.text}`).toBeDefined();
    const schema = documented!.content?.['application/json']?.schema;
    if (!schema) return;
    const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"bb-openapi#/components/'));
    const validate = ajv.compile(rewritten);
    const ok = validate(res.json);
    expect(ok, `${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)} in ${res.text}`).toBe(true);
    validated += 1;
  }

  it('documents what the API really answers, and every documented operation exists', async () => {
    const chat = (body: unknown, headers: Record<string, string> = {}, key?: string) => t.chat(body, headers, key);
    const C = '/v1/chat/completions';

    const created = await chat(chatBody(), { 'idempotency-key': 'doc-1', 'x-custom-id': 'doc' });
    conforms('POST', C, created);
    conforms('POST', C, await chat(chatBody(), { 'idempotency-key': 'doc-1', 'x-custom-id': 'doc' }));
    conforms('POST', C, await chat(chatBody({ temperature: 3 }), { 'idempotency-key': 'doc-2' }));
    conforms('POST', C, await chat(chatBody({ top_p: 0.5 }), { 'idempotency-key': 'doc-1', 'x-custom-id': 'doc' }));
    conforms('POST', C, await chat(chatBody(), {}, 'bb_unknown_key_0123456789'));
    conforms('POST', C, await chat(chatBody({ model: 'gpt-4o' }), {}, GLOBEX_KEY));
    conforms('POST', C, await chat(chatBody({ messages: [{ role: 'user', content: 'z'.repeat(1_100_000) }] })));
    conforms(
      'POST',
      C,
      await t.call('POST', C, {
        raw: 'hello',
        headers: { 'content-type': 'text/plain', 'x-callback-url': 'http://127.0.0.1:9/' },
      }),
    );
    conforms('POST', C, await chat(chatBody(), { 'x-callback-url': 'http://10.0.0.1/hook' }));
    for (let i = 0; i < 6; i++) {
      const res = await chat(chatBody(), {}, GLOBEX_KEY);
      conforms('POST', C, res);
      if (i === 5) expect(res.status).toBe(429);
    }

    const id = created.json.id as string;
    const R = '/v1/requests/{id}';
    conforms('GET', R, await t.call('GET', `/v1/requests/${id}`));
    conforms('GET', R, await t.call('GET', `/v1/requests/${id}`, { key: GLOBEX_KEY }));
    conforms('GET', R, await t.call('GET', `/v1/requests/${id}`, { key: null }));
    conforms('POST', `${R}/redeliver`, await t.call('POST', `/v1/requests/${id}/redeliver`));
    conforms('POST', `${R}/cancel`, await t.call('POST', `/v1/requests/${id}/cancel`));
    conforms('POST', `${R}/cancel`, await t.call('POST', `/v1/requests/${id}/cancel`));
    conforms('POST', `${R}/cancel`, await t.call('POST', '/v1/requests/breq_nope/cancel'));
    conforms('POST', `${R}/redeliver`, await t.call('POST', `/v1/requests/${id}/redeliver`));
    conforms('POST', `${R}/redeliver`, await t.call('POST', `/v1/requests/${id}/redeliver`, { key: GLOBEX_KEY }));

    // The other batchable endpoints: accepted (202) and refused with a named parameter (400).
    const hook = { 'x-callback-url': 'http://127.0.0.1:9/hook' };
    const others: Array<[string, Record<string, unknown>]> = [
      ['/v1/embeddings', { model: 'text-embedding-3-small', input: 'hello' }],
      ['/v1/responses', { model: 'gpt-4o-mini', input: 'hello' }],
      ['/v1/completions', { model: 'gpt-4o-mini', prompt: 'hello' }],
      ['/v1/moderations', { input: 'hello' }],
    ];
    for (const [path, body] of others) {
      const accepted = await t.call('POST', path, { body, headers: hook });
      expect(accepted.status, `${path}: ${accepted.text}`).toBe(202);
      conforms('POST', path, accepted);
      conforms('POST', path, await t.call('POST', path, { body: { model: 'gpt-4o-mini' }, headers: hook }));
    }

    // SPEC §16: delivery log, secret rotation, endpoints, replay.
    conforms('GET', `${R}/deliveries`, await t.call('GET', `/v1/requests/${id}/deliveries`));
    conforms('GET', `${R}/deliveries`, await t.call('GET', `/v1/requests/${id}/deliveries`, { key: GLOBEX_KEY }));
    conforms('POST', '/v1/webhook-secret/rotate', await t.call('POST', '/v1/webhook-secret/rotate'));
    conforms('POST', '/v1/webhook-secret/rotate', await t.call('POST', '/v1/webhook-secret/rotate', { key: null }));
    conforms('GET', '/v1/endpoints', await t.call('GET', '/v1/endpoints'));
    const enable = (body: unknown) => t.call('POST', '/v1/endpoints/enable', { body });
    conforms('POST', '/v1/endpoints/enable', await enable({ url: 'https://hooks.example.com/x' }));
    conforms('POST', '/v1/endpoints/enable', await enable({ host: 'no port' }));
    const replay = (body: unknown) => t.call('POST', '/v1/deliveries/replay', { body });
    conforms('POST', '/v1/deliveries/replay', await replay({ since: 'soon' }));
    const replayed = await replay({ since: '2026-01-01T00:00:00Z', status: 'dead' });
    conforms('POST', '/v1/deliveries/replay', replayed);
    conforms('POST', '/v1/deliveries/replay', await replay({ since: '2026-01-01T00:00:00Z' }));
    conforms('GET', '/v1/deliveries/replay/{id}', await t.call('GET', `/v1/deliveries/replay/${replayed.json.id}`));
    conforms('GET', '/v1/deliveries/replay/{id}', await t.call('GET', '/v1/deliveries/replay/rpl_nope'));

    conforms('GET', '/v1/models', await t.call('GET', '/v1/models'));
    conforms('GET', '/v1/models', await t.call('GET', '/v1/models', { key: null }));
    // SPEC §15: the tenant's ledger.
    conforms('GET', '/v1/usage', await t.call('GET', '/v1/usage'));
    conforms('GET', '/v1/usage', await t.call('GET', '/v1/usage?from=2026-12-01&to=2026-12-02&group_by=model'));
    conforms('GET', '/v1/usage', await t.call('GET', '/v1/usage?group_by=tenant'));
    conforms('GET', '/v1/usage', await t.call('GET', '/v1/usage', { key: null }));
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      conforms('GET', path, await t.call('GET', path, { key: null }));
    }

    // The Batch API facade (SPEC §12).
    const boundary = 'bbdoc';
    const multipart = (content: string, purpose = 'batch') => ({
      raw:
        `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n${purpose}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="doc.jsonl"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n${content}\r\n--${boundary}--\r\n`,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    const line = JSON.stringify({ custom_id: 'a', method: 'POST', url: C, body: chatBody() });
    const uploaded = await t.call('POST', '/v1/files', multipart(`${line}\n`));
    expect(uploaded.status, uploaded.text).toBe(200);
    conforms('POST', '/v1/files', uploaded);
    conforms('POST', '/v1/files', await t.call('POST', '/v1/files', multipart(`${line}\n{"custom_id":1}\n`)));
    conforms('POST', '/v1/files', await t.call('POST', '/v1/files', { ...multipart(line), key: null }));
    const fid = uploaded.json.id as string;
    conforms('GET', '/v1/files', await t.call('GET', '/v1/files'));
    conforms('GET', '/v1/files', await t.call('GET', '/v1/files?limit=0'));
    conforms('GET', '/v1/files', await t.call('GET', '/v1/files', { key: null }));
    conforms('GET', '/v1/files/{id}', await t.call('GET', `/v1/files/${fid}`));
    conforms('GET', '/v1/files/{id}', await t.call('GET', `/v1/files/${fid}`, { key: GLOBEX_KEY }));
    conforms('GET', '/v1/files/{id}', await t.call('GET', `/v1/files/${fid}`, { key: null }));
    conforms('GET', '/v1/files/{id}/content', await t.call('GET', `/v1/files/${fid}/content`));
    conforms('GET', '/v1/files/{id}/content', await t.call('GET', '/v1/files/file-nope/content'));
    conforms('GET', '/v1/files/{id}/content', await t.call('GET', `/v1/files/${fid}/content`, { key: null }));
    const B = '/v1/batches';
    const batchBody = { input_file_id: fid, endpoint: C, completion_window: '24h' };
    const batch = await t.call('POST', B, { body: batchBody });
    conforms('POST', B, batch);
    conforms('POST', B, await t.call('POST', B, { body: { ...batchBody, completion_window: 'soon' } }));
    conforms('POST', B, await t.call('POST', B, { body: { ...batchBody, input_file_id: 'file-nope' } }));
    conforms(
      'POST',
      B,
      await t.call('POST', B, { body: { ...batchBody, metadata: { callback_url: 'http://10.0.0.1/x' } } }),
    );
    conforms('POST', B, await t.call('POST', B, { body: batchBody, key: null }));
    conforms('GET', B, await t.call('GET', `${B}?limit=1`));
    conforms('GET', B, await t.call('GET', `${B}?limit=1000`));
    conforms('GET', B, await t.call('GET', B, { key: null }));
    const bid = batch.json.id as string;
    conforms('GET', `${B}/{id}`, await t.call('GET', `${B}/${bid}`));
    conforms('GET', `${B}/{id}`, await t.call('GET', `${B}/${bid}`, { key: GLOBEX_KEY }));
    conforms('GET', `${B}/{id}`, await t.call('GET', `${B}/${bid}`, { key: null }));
    conforms('POST', `${B}/{id}/cancel`, await t.call('POST', `${B}/${bid}/cancel`));
    conforms('POST', `${B}/{id}/cancel`, await t.call('POST', `${B}/batch_nope/cancel`));
    conforms('POST', `${B}/{id}/cancel`, await t.call('POST', `${B}/${bid}/cancel`, { key: null }));
    const failed = await t.call('POST', B, { body: { ...batchBody, endpoint: '/v1/embeddings' } });
    expect(failed.json.status).toBe('failed');
    conforms('POST', B, failed);
    conforms('DELETE', '/v1/files/{id}', await t.call('DELETE', `/v1/files/${fid}`, { key: null }));
    conforms('DELETE', '/v1/files/{id}', await t.call('DELETE', `/v1/files/${fid}`));
    conforms('DELETE', '/v1/files/{id}', await t.call('DELETE', `/v1/files/${fid}`));

    const PE = '/v1/provider-events/{provider}';
    const event = { key: null, raw: '{"type":"batch.completed","data":{"id":"batch_x"}}' } as const;
    conforms('POST', PE, await t.call('POST', '/v1/provider-events/default', event));
    conforms('POST', PE, await t.call('POST', '/v1/provider-events/nobody', event));

    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect([...exercised].sort()).toEqual(documented.sort());
    expect(validated).toBeGreaterThan(25);
  });

  it('serves a self-contained docs page listing every operation', async () => {
    const res = await t.call('GET', '/docs', { key: null });
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.text).not.toMatch(/<script|https?:\/\/(?!127)/);
    for (const path of Object.keys(doc.paths)) expect(res.text).toContain(`<code>${path}</code>`);
    expect(Object.keys(doc.webhooks)).toHaveLength(7);
    for (const event of Object.keys(doc.webhooks)) expect(res.text).toContain(`<code>${event}</code>`);
  });
});
