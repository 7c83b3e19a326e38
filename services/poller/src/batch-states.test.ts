// The domain's batch lifecycle mirrors the provider's statuses (it cannot import them: the domain does not depend on
// the provider package): every status a poll can record is a batch state, live exactly when the provider's is not
// terminal, so record-poll never refuses a status the provider may report.
import { BATCH_STATES, BATCH_TRANSITIONS, FINISHED_BATCH_STATES } from '@batchbridge/domain';
import { BATCH_STATUSES, isTerminalBatch } from '@batchbridge/provider';
import { describe, expect, it } from 'vitest';

describe('batch states', () => {
  it('knows every provider status, finished exactly when the provider calls it terminal', () => {
    for (const status of BATCH_STATUSES) {
      expect(BATCH_STATES, status).toContain(status);
      expect((FINISHED_BATCH_STATES as readonly string[]).includes(status), status).toBe(isTerminalBatch(status));
    }
  });

  it('lets a fresh batch reach every provider status with its first poll', () => {
    for (const status of BATCH_STATUSES) expect(BATCH_TRANSITIONS.submitted, status).toContain(status);
  });
});
