/**
 * `stream: true` on `/v1/responses` with a wait (SPEC §8): batchbridge has the whole `response` at once, the client
 * asked for the Responses API's streaming events. The answer re-tells the finished response as the events OpenAI sends
 * (openai-openapi.yaml, `ResponseStreamEvent`), each as `event: <type>` + `data: <json>` with a `sequence_number`
 * counting from 0: `response.created` and `response.in_progress` (the response with `status: "in_progress"`, no output
 * and no usage yet), then per output item `response.output_item.added`, its parts (`response.content_part.added`,
 * `response.output_text.delta` / `.done`, `response.content_part.done`; refusals, function-call arguments and reasoning
 * summaries likewise), `response.output_item.done`; last `response.completed` (or `.incomplete` / `.failed`, after the
 * response's status) carrying the provider's response exactly. The openai SDKs (`responses.stream`, `create({stream:
 * true})`) and the AI SDK's Responses model assemble that back into the same response.
 */

type Json = Record<string, unknown>;

const IN_PROGRESS_OVERRIDES = {
  status: 'in_progress',
  output: [],
  usage: null,
  completed_at: null,
  error: null,
  incomplete_details: null,
} as const;

/** The last event's type for a response of this status. */
function finalEventType(status: unknown): string {
  return status === 'incomplete'
    ? 'response.incomplete'
    : status === 'failed'
      ? 'response.failed'
      : 'response.completed';
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The Responses streaming events re-telling `response` (a `response` object as the provider answered it). */
export function responseAsSse(response: unknown): string {
  const r: Json = isObject(response) ? response : {};
  const out: string[] = [];
  let sequence = 0;
  const emit = (type: string, fields: Json) => {
    const event = { type, ...fields, sequence_number: sequence++ };
    out.push(`event: ${type}\ndata: ${JSON.stringify(event)}\n\n`);
  };
  const { output_text: _aggregate, ...wire } = r;
  const started = { ...wire, ...IN_PROGRESS_OVERRIDES };
  emit('response.created', { response: started });
  emit('response.in_progress', { response: started });
  const output = Array.isArray(r.output) ? r.output : [];
  for (const [outputIndex, raw] of output.entries()) {
    const item: Json = isObject(raw) ? raw : {};
    const itemId = typeof item.id === 'string' ? item.id : `item_${outputIndex}`;
    const at = { item_id: itemId, output_index: outputIndex };
    if (item.type === 'message') {
      emit('response.output_item.added', {
        output_index: outputIndex,
        item: { ...item, status: 'in_progress', content: [] },
      });
      const content = Array.isArray(item.content) ? item.content : [];
      for (const [contentIndex, rawPart] of content.entries()) {
        const part: Json = isObject(rawPart) ? rawPart : {};
        const where = { ...at, content_index: contentIndex };
        if (part.type === 'output_text') {
          const text = typeof part.text === 'string' ? part.text : '';
          const logprobs = Array.isArray(part.logprobs) ? part.logprobs : [];
          const annotations = Array.isArray(part.annotations) ? part.annotations : [];
          emit('response.content_part.added', {
            ...where,
            part: { ...part, text: '', annotations: [], ...(part.logprobs !== undefined ? { logprobs: [] } : {}) },
          });
          if (text !== '') emit('response.output_text.delta', { ...where, delta: text, logprobs });
          for (const [annotationIndex, annotation] of annotations.entries()) {
            emit('response.output_text.annotation.added', {
              ...where,
              annotation_index: annotationIndex,
              annotation,
            });
          }
          emit('response.output_text.done', { ...where, text, logprobs });
        } else if (part.type === 'refusal') {
          const refusal = typeof part.refusal === 'string' ? part.refusal : '';
          emit('response.content_part.added', { ...where, part: { ...part, refusal: '' } });
          if (refusal !== '') emit('response.refusal.delta', { ...where, delta: refusal });
          emit('response.refusal.done', { ...where, refusal });
        } else {
          emit('response.content_part.added', { ...where, part });
        }
        emit('response.content_part.done', { ...where, part });
      }
    } else if (item.type === 'function_call') {
      const args = typeof item.arguments === 'string' ? item.arguments : '';
      emit('response.output_item.added', {
        output_index: outputIndex,
        item: { ...item, arguments: '', status: 'in_progress' },
      });
      if (args !== '') emit('response.function_call_arguments.delta', { ...at, delta: args });
      emit('response.function_call_arguments.done', { ...at, name: item.name, arguments: args });
    } else if (item.type === 'reasoning') {
      const summary = Array.isArray(item.summary) ? item.summary : [];
      emit('response.output_item.added', { output_index: outputIndex, item: { ...item, summary: [] } });
      for (const [summaryIndex, rawPart] of summary.entries()) {
        const part: Json = isObject(rawPart) ? rawPart : {};
        const text = typeof part.text === 'string' ? part.text : '';
        const where = { ...at, summary_index: summaryIndex };
        emit('response.reasoning_summary_part.added', { ...where, part: { ...part, text: '' } });
        if (text !== '') emit('response.reasoning_summary_text.delta', { ...where, delta: text });
        emit('response.reasoning_summary_text.done', { ...where, text });
        emit('response.reasoning_summary_part.done', { ...where, part });
      }
    } else {
      // Other items (tool calls of built-in tools, …) are told whole: added in progress, then done as they ended.
      emit('response.output_item.added', {
        output_index: outputIndex,
        item: 'status' in item ? { ...item, status: 'in_progress' } : item,
      });
    }
    emit('response.output_item.done', { output_index: outputIndex, item });
  }
  emit(finalEventType(r.status), { response: wire });
  return out.join('');
}

/**
 * An error as a Responses stream event (`event: error`): the documented flat fields (`code`, `message`, `param`) and
 * the nested `error` object the openai SDKs raise as an APIError and the AI SDK reads as an error part.
 */
export function responsesErrorAsSse(body: unknown): string {
  const raw = isObject(body) && isObject(body.error) ? body.error : {};
  const error = {
    type: typeof raw.type === 'string' ? raw.type : 'api_error',
    code: typeof raw.code === 'string' ? raw.code : null,
    message: typeof raw.message === 'string' ? raw.message : 'the request failed',
    param: typeof raw.param === 'string' ? raw.param : null,
  };
  const event = {
    type: 'error',
    code: error.code,
    message: error.message,
    param: error.param,
    error,
    sequence_number: 0,
  };
  return `event: error\ndata: ${JSON.stringify(event)}\n\n`;
}
