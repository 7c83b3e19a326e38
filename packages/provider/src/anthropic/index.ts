/** The `anthropic` adapter's parts: chat ⇄ Messages translation and the Message Batches client. */

export * from './adapter.js';
export * from './batches-client.js';
export * from './translate.js';
