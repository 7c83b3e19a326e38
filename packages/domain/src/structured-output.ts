/**
 * Structured outputs (SPEC §14): the JSON schema a request asks its answer to follow, and where the answer is.
 *
 * - chat: `response_format: {type: "json_schema", json_schema: {name, schema, strict?}}`; the answer is
 *   `choices[0].message.content` (JSON text), `finish_reason: "length"` when it was cut off;
 * - Responses: `text: {format: {type: "json_schema", name, schema, strict?}}`; the answer is the `output_text` of its
 *   `message` output items, `status: "incomplete"` with `incomplete_details.reason: "max_output_tokens"` when cut off.
 *
 * The ingest stores the schema's JSON text on the request record (`schema`); the poller validates each answer with
 * it (services/poller/src/schema-check.ts).
 */

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The schema a request body asks for, or undefined (no json_schema format, or not one this endpoint has). */
export function structuredOutputSchema(endpoint: string, body: unknown): Json | undefined {
  if (!isObject(body)) return undefined;
  if (endpoint === '/v1/chat/completions') {
    const format = body.response_format;
    if (isObject(format) && format.type === 'json_schema' && isObject(format.json_schema)) {
      const schema = format.json_schema.schema;
      return isObject(schema) ? schema : undefined;
    }
    return undefined;
  }
  if (endpoint === '/v1/responses') {
    const text = body.text;
    const format = isObject(text) ? text.format : undefined;
    if (isObject(format) && format.type === 'json_schema' && isObject(format.schema)) return format.schema;
  }
  return undefined;
}

/** What an answer says, for the schema check and the line taxonomy. */
export interface AnswerText {
  /** The answer's text (chat: the first choice's content; Responses: the output text), undefined when there is none. */
  text: string | undefined;
  /** The model refused (`message.refusal`, or a Responses `refusal` content part). */
  refusal: boolean;
  /** Cut off by the token limit (chat `finish_reason: length`; Responses `incomplete` for max_output_tokens). */
  truncated: boolean;
}

/** Reads an answered line's body (chat.completion or response object); undefined for other shapes. */
export function answerText(body: unknown): AnswerText | undefined {
  if (!isObject(body)) return undefined;
  if (body.object === 'chat.completion' && Array.isArray(body.choices)) {
    const choice = body.choices[0];
    if (!isObject(choice)) return { text: undefined, refusal: false, truncated: false };
    const message = isObject(choice.message) ? choice.message : {};
    return {
      text: typeof message.content === 'string' ? message.content : undefined,
      refusal: typeof message.refusal === 'string' && message.refusal !== '',
      truncated: choice.finish_reason === 'length',
    };
  }
  if (body.object === 'response' && Array.isArray(body.output)) {
    let text: string | undefined;
    let refusal = false;
    for (const item of body.output) {
      if (!isObject(item) || item.type !== 'message' || !Array.isArray(item.content)) continue;
      for (const part of item.content) {
        if (!isObject(part)) continue;
        if (part.type === 'output_text' && typeof part.text === 'string') text = (text ?? '') + part.text;
        if (part.type === 'refusal') refusal = true;
      }
    }
    const details = isObject(body.incomplete_details) ? body.incomplete_details : undefined;
    return {
      text,
      refusal,
      truncated: body.status === 'incomplete' && details?.reason === 'max_output_tokens',
    };
  }
  return undefined;
}
