/**
 * `/docs`: the OpenAPI document rendered once, at start, as a self-contained HTML page — no script, no CDN, nothing
 * fetched at run time (deployments may have no internet access, and a docs page should not be a way in).
 */

type Doc = Record<string, unknown>;

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderDocsPage(doc: Doc): string {
  const info = (doc.info ?? {}) as Doc;
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Doc>>;
  const schemas = ((doc.components as Doc | undefined)?.schemas ?? {}) as Record<string, unknown>;
  const webhooks = (doc.webhooks ?? {}) as Record<string, Record<string, Doc>>;
  const ops = renderOperations(paths);
  const events = renderOperations(webhooks);
  const schemaBlocks = Object.entries(schemas)
    .map(
      ([name, s]) =>
        `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3><pre>${esc(JSON.stringify(s, null, 2))}</pre></section>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(info.title)} — API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font-family:ui-monospace,monospace}pre{background:#f6f6f6;padding:.75rem;overflow:auto;font-size:13px}
section{border-top:1px solid #ddd;padding:.5rem 0}.m{display:inline-block;min-width:4rem;text-align:center;
border-radius:3px;color:#fff;font-size:13px;padding:0 .4rem}.get{background:#2b7bb9}.post{background:#3a9a4a}
</style></head><body>
<h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${esc(info.description ?? '')}</p>
<p>Authenticate with <code>Authorization: Bearer &lt;API key&gt;</code>. Machine-readable document: <a href="/openapi.json">/openapi.json</a>.</p>
<h2>Operations</h2>${ops.join('\n')}
${events.length > 0 ? `<h2>Webhooks</h2><p>What batchbridge POSTs to your callback URL, and what your answer makes it do.</p>${events.join('\n')}` : ''}
<h2>Schemas</h2>${schemaBlocks}
</body></html>
`;
}

/** One section per operation of a `paths` or `webhooks` map (for a webhook, the "path" is the event's name). */
function renderOperations(paths: Record<string, Record<string, Doc>>): string[] {
  const ops: string[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = ((op.parameters ?? []) as Doc[])
        .map((p) => `<li><code>${esc(p.name)}</code> (${esc(p.in)}) — ${esc(p.description ?? '')}</li>`)
        .join('');
      const responses = Object.entries((op.responses ?? {}) as Record<string, Doc>)
        .map(([code, r]) => `<li><code>${esc(code)}</code> ${esc(r.description ?? '')}</li>`)
        .join('');
      ops.push(
        `<section id="${esc(op.operationId ?? `${method}${path}`)}"><h3><span class="m ${esc(method)}">${esc(
          method.toUpperCase(),
        )}</span> <code>${esc(path)}</code></h3><p><strong>${esc(op.summary ?? '')}</strong></p>` +
          (op.description ? `<p>${esc(op.description)}</p>` : '') +
          (params ? `<h4>Parameters</h4><ul>${params}</ul>` : '') +
          `<h4>Responses</h4><ul>${responses}</ul></section>`,
      );
    }
  }
  return ops;
}
