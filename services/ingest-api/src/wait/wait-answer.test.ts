import type { RequestObject } from '@batchbridge/domain';
import { describe, expect, it } from 'vitest';
import { finishedAnswer, pendingAnswer } from './wait-answer.js';

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
});
