/**
 * `files.create` of a batch input file from disk. The file goes to the SDK as a file-backed Blob (`fs.openAsBlob`):
 * its size is known and its bytes are read only while they are sent. The SDK turns it into `FormData`; the upload
 * client's fetch (streaming-fetch.ts) sends that with an exact `Content-Length`, reading the file from disk with the
 * socket's backpressure, so memory does not grow with the file (I4) and no provider front end sees a chunked upload.
 */
import { File } from 'node:buffer';
import { openAsBlob } from 'node:fs';
import type OpenAI from 'openai';

export async function uploadBatchFile(
  client: OpenAI,
  path: string,
  filename: string,
  options: { timeout?: number } = {},
): Promise<OpenAI.Files.FileObject> {
  const file = new File([await openAsBlob(path)], filename, { type: 'application/jsonl' });
  return client.files.create({ file, purpose: 'batch' }, options);
}
