// The operator page in a real browser (Debian's chromium driven by playwright-core) against the whole pipeline in one
// process: an outcome dead-letters because its receiver answers 500; the operator logs in, sees the batch and the dead
// letter, and clicks Redeliver once the receiver is fixed; the webhook arrives with the same webhook-id. Screenshots
// are kept under test-results/ (gitignored) for a person to look at.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, submit } from '../e2e/helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const ADMIN_KEY = 'operator-key-for-the-browser-test';
const ARTIFACTS = resolve(import.meta.dirname, '../../test-results');

if (!HAVE_CHROMIUM) {
  console.warn(`operator page browser test skipped: no chromium at ${CHROMIUM} (apt-get install chromium)`);
}

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

describe.skipIf(!HAVE_CHROMIUM)('operator page in a browser', () => {
  let pipeline: Pipeline;
  let receiver: WebhookReceiver;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    receiver = await startWebhookReceiver({
      secrets: [String(TEST_TENANTS[0]!.webhook_secret)],
      respond: (d) => ({ status: d.path.startsWith('/broken') ? 500 : 200 }),
    });
    pipeline = await startPipeline({ ADMIN_KEY, WEBHOOK_RETRY_SCHEDULE: '20ms,20ms', BATCH_MAX_WAIT_MS: '100' });
    profile = mkdtempSync(join(tmpdir(), 'bb-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await pipeline?.dispose();
    await receiver?.close();
  });

  it('logs in, shows the batch and the dead letter, and redelivers it with the same webhook-id', async () => {
    const ok = await submit(
      pipeline.url,
      ACME_KEY,
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'say hello' }] },
      { 'x-callback-url': receiver.url('/fine') },
    );
    const dead = await submit(
      pipeline.url,
      ACME_KEY,
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'say goodbye' }] },
      { 'x-callback-url': receiver.url('/broken') },
    );
    expect([ok.status, dead.status]).toEqual([202, 202]);
    const deadId = String(dead.json.id);
    const webhookIdOf = (id: string) => receiver.deliveries().find((d) => d.path === '/broken' && d.body.includes(id));
    // Three attempts (1 + two retries), all answered 500: the outcome is dead-lettered.
    await receiver.waitFor((ds) => ds.filter((d) => d.path === '/broken').length >= 3, { timeoutMs: 30_000 });
    await expect.poll(() => pipeline.runtime.store.deadLetters.count(), { timeout: 10_000 }).toBe(1);
    const webhookId = webhookIdOf(deadId)!.webhookId;
    const batchId = String((await pipeline.runtime.store.requests.get(deadId))!.batch_id);

    const page = await context.newPage();
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!/^(http:\/\/127\.0\.0\.1[:/]|data:)/.test(r.url())) foreign.push(r.url());
    });

    await page.goto(`${pipeline.url}/admin/`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.fill('input[name="key"]', 'not-the-admin-key-at-all');
    await page.click('button[type="submit"]');
    await expect.poll(() => page.textContent('[role="alert"]')).toContain('not the admin key');
    await page.fill('input[name="key"]', ADMIN_KEY);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${pipeline.url}/admin/`);

    const batchRow = page.locator(`#batches tr[data-batch="${batchId}"]`);
    await expect.poll(() => batchRow.count()).toBe(1);
    expect(await batchRow.textContent()).toContain('completed');
    const deadRow = page.locator(`#dead-letters tr[data-request="${deadId}"]`);
    expect(await deadRow.count()).toBe(1);
    expect(await page.textContent('#savings-total')).toMatch(/\$\d/);
    await page.screenshot({ path: join(ARTIFACTS, 'operator-page.png'), fullPage: true });

    // The receiver is fixed; the operator redelivers.
    receiver.setResponder(() => ({ status: 200 }));
    const broken = <T extends { path: string }>(ds: readonly T[]) => ds.filter((d) => d.path === '/broken');
    const before = broken(receiver.deliveries()).length;
    await deadRow.locator('button', { hasText: 'Redeliver' }).click();
    await page.waitForURL(/\/admin\/\?redelivered=/);
    expect(await page.textContent('[role="status"]')).toContain(`Redelivery of ${deadId} queued`);

    const after = await receiver.waitFor((ds) => broken(ds).length > before, { timeoutMs: 20_000 });
    const redelivered = broken(after)[before]!;
    expect(redelivered.webhookId).toBe(webhookId);
    expect(redelivered.verified).toBe(true);
    expect((redelivered.json as { data: { id: string } }).data.id).toBe(deadId);
    await expect.poll(() => pipeline.runtime.store.deadLetters.count(), { timeout: 10_000 }).toBe(0);

    // The queues board renders from this origin.
    await page.goto(`${pipeline.url}/admin/queues/`);
    await page.getByText('deliver', { exact: false }).first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'operator-queues.png'), fullPage: true });
    expect(foreign).toEqual([]);
  });
});
