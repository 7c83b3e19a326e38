import type { RequestObject } from '@batchbridge/domain';
import { describe, expect, it } from 'vitest';
import { finishedAnswer, finishedRequestOf, outcomeAnswer, pendingAnswer, responseBodyText } from './wait-answer.js';

const base: RequestObject = {
  id: 'breq_0000000000000000000000001',
  object: 'batchbridge.request',
  endpoint: '/v1/chat/completions',
  status: 'completed',
  model: 'gpt-4o-mini',
  custom_id: null,
  created_at: 1,
  completed_at: 2,
  batch_id: 'batch_1',
  attempts: 1,
  response: null,
  error: null,
  lane: 'batch',
  completion_window: null,
  deadline_at: null,
  deadline_met: null,
  usage: null,
  cost: null,
};

describe('answers after a wait', () => {
  it('answers a completion with the provider body itself', () => {
    const body = { id: 'chatcmpl-1', object: 'chat.completion', choices: [] };
    const a = finishedAnswer({ ...base, response: { status_code: 200, body } }, 30);
    expect(a).toEqual({
      status: 200,
      headers: { 'Preference-Applied': 'wait=30', 'X-Request-ID': base.id },
      body,
    });
  });

  it('answers a refused line with the provider status and error body, other failures 502, a cancel 409', () => {
    const refused = { error: { message: 'nope', type: 'invalid_request_error', param: null, code: null } };
    const failed = {
      ...base,
      status: 'failed' as const,
      response: { status_code: 400, body: refused },
      error: { code: 'provider_rejected', message: 'nope' },
    };
    expect(finishedAnswer(failed, 5)).toMatchObject({ status: 400, body: refused });
    const exhausted = {
      ...base,
      status: 'failed' as const,
      response: { status_code: 500, body: {} },
      error: { code: 'max_attempts_exceeded', message: 'gave up' },
    };
    expect(finishedAnswer(exhausted, 5)).toMatchObject({
      status: 502,
      body: { error: { code: 'max_attempts_exceeded', message: 'gave up', type: 'server_error', param: null } },
    });
    expect(
      finishedAnswer({ ...base, status: 'failed', error: { code: 'batch_expired', message: 'x' } }, 5).status,
    ).toBe(502);
    expect(finishedAnswer({ ...base, status: 'cancelled' }, 5)).toMatchObject({
      status: 409,
      body: { error: { code: 'request_cancelled' } },
    });
  });

  it('answers 202 with the request object and where to find it when the wait ran out', () => {
    const a = pendingAnswer({ ...base, status: 'submitted' }, 10);
    expect(a.status).toBe(202);
    expect(a.headers.Location).toBe(`/v1/requests/${base.id}`);
    expect(a.body).toMatchObject({ id: base.id, status: 'submitted' });
  });

  it('answers a stored completion with its body as stored, the same JSON value as the parsed answer', () => {
    const bodies = [
      { id: 'chatcmpl-1', choices: [{ message: { content: 'a "quoted" } brace ] and \\ backslash\\' } }] },
      [1, { a: '}' }],
      'text',
      42,
      null,
    ];
    for (const body of bodies) {
      for (const stored of [
        `{"status_code":200,"body":${JSON.stringify(body)}}`,
        JSON.stringify({ status_code: 200, request_id: 'req_"1\\', body }),
      ]) {
        const outcome = { id: base.id, status: 'completed' as const, response: stored, error: undefined };
        const fast = outcomeAnswer(outcome, 7);
        expect(fast.text).toBe(JSON.stringify(body));
        expect(JSON.parse(fast.text as string)).toEqual(finishedAnswer(finishedRequestOf(outcome), 7).body);
        expect({ status: fast.status, headers: fast.headers }).toEqual({
          status: 200,
          headers: { 'Preference-Applied': 'wait=7', 'X-Request-ID': base.id },
        });
      }
    }
  });

  it('parses a stored response of any other form rather than cut it', () => {
    const other = [
      '{"status_code":200,"body":{"a":1},"request_id":"r"}',
      '{"body":{"a":1},"status_code":200}',
      '{"status_code":200, "body":{"a":1}}',
      '{"status_code":200,"body":"x"} ',
      '{"status_code":200,"request_id":"r","model":"m","body":{"a":1}}',
      '{"status_code":200,"request_id":null,"body":{"a":1}}',
    ];
    for (const stored of other) {
      expect(responseBodyText(stored)).toBeUndefined();
      const a = outcomeAnswer({ id: base.id, status: 'completed', response: stored, error: undefined }, 1);
      expect(a.text).toBeUndefined();
      expect(a).toMatchObject({ status: 200, body: (JSON.parse(stored) as { body: unknown }).body });
    }
    const failed = outcomeAnswer(
      {
        id: base.id,
        status: 'failed',
        response: '{"status_code":400,"body":{"error":{"message":"no"}}}',
        error: '{"code":"provider_rejected","message":"no"}',
      },
      1,
    );
    expect(failed).toMatchObject({ status: 400, body: { error: { message: 'no' } } });
    expect(failed.text).toBeUndefined();
  });
});
