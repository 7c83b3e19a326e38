/**
 * The queues view: bull-board over every partition's flush, poll and deliver queue. Its assets are served from the
 * installed `@bull-board/ui` package; the one external asset its page links (web fonts from a CDN) is stripped from the
 * rendered HTML, and a Content-Security-Policy keeps the browser on this origin in case a later version adds another.
 */

import { QUEUE_KINDS } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Express } from 'express';

export const BOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/** `<link … href="https://…">` tags: any stylesheet or icon from another origin. */
const EXTERNAL_LINK = /<link\b[^>]*\bhref="https?:\/\/[^"]*"[^>]*>/gi;

type Engine = (path: string, options: object, callback: (err: Error | null, html?: string) => void) => void;

/** An express app serving bull-board under `basePath` (the absolute path it is mounted at). */
export function createQueuesBoard(runtime: Runtime, basePath: string): Express {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(basePath);
  const queues = QUEUE_KINDS.flatMap((kind) =>
    runtime.keys.allPartitions().map(
      (p) =>
        // The same queue name exists once per partition: the prefix keeps them apart on the board.
        new BullMQAdapter(runtime.queues.queue(kind, p), {
          prefix: runtime.keys.partitions > 1 ? `p${p}/` : '',
          // Read-only (issue 14.6): one "Clean all" on the delayed deliver queue dropped pending webhook retries.
          // Redelivers go through the overview's button, which keeps the request's state in step.
          readOnlyMode: true,
          description: `${kind} jobs of partition ${p} (BullMQ prefix ${runtime.keys.tag(p)})`,
        }),
    ),
  );
  createBullBoard({ queues, serverAdapter: adapter, options: { uiConfig: { boardTitle: 'batchbridge queues' } } });

  const app = adapter.getRouter() as Express;
  const engines = (app as unknown as { engines: Record<string, Engine> }).engines;
  const ejs = engines['.ejs'];
  if (ejs) {
    app.engine('ejs', (path, options, callback) =>
      ejs(path, options, (err, rendered) => callback(err, rendered?.replace(EXTERNAL_LINK, ''))),
    );
  }
  return app;
}
