import { describe, expect, it } from 'vitest';
import { operationOf } from './client.js';

describe('operationOf', () => {
  it('labels OpenAI batch calls and Mistral job calls alike', () => {
    expect(operationOf('POST', 'https://api.openai.com/v1/batches')).toBe('batches.create');
    expect(operationOf('GET', 'https://api.openai.com/v1/batches/batch_1')).toBe('batches.retrieve');
    expect(operationOf('POST', 'https://api.mistral.ai/v1/batch/jobs')).toBe('batches.create');
    expect(operationOf('GET', 'https://api.mistral.ai/v1/batch/jobs')).toBe('batches.list');
    expect(operationOf('GET', 'https://api.mistral.ai/v1/batch/jobs/abc')).toBe('batches.retrieve');
    expect(operationOf('POST', 'https://api.mistral.ai/v1/batch/jobs/abc/cancel')).toBe('batches.cancel');
    expect(operationOf('GET', 'https://api.mistral.ai/v1/files/f/content')).toBe('files.content');
  });
});
