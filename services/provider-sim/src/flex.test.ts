// The simulator's flex tier (SPEC §10): like OpenAI's, only for the models that have one (gpt-5-mini of the openai
// profile's models); another model asked for flex is a 400, never a silent realtime answer.
import { describe, expect, it } from 'vitest';
import { api, startSim } from '../test/helpers.js';

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }], service_tier: 'flex' });

describe('flex per model', () => {
  it('answers flex for gpt-5-mini and refuses it for gpt-4o-mini', async () => {
    const sim = await startSim();
    const ok = await api<{ service_tier: string }>(sim, 'POST', '/chat/completions', chat('gpt-5-mini'));
    expect(ok.status).toBe(200);
    expect(ok.body.service_tier).toBe('flex');
    const refused = await api(sim, 'POST', '/chat/completions', chat('gpt-4o-mini'));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ type: 'invalid_request_error', param: 'service_tier' });
    expect(sim.counters().flexCompletions).toBe(1);
    expect(sim.counters().chatCompletions).toBe(1);
  });
});
