/**
 * multipart/form-data encoding of a `FormData` whose exact length is known before the first byte is sent, so that an
 * upload carries a `Content-Length` instead of `Transfer-Encoding: chunked` (which load balancers in front of some
 * providers refuse with 411 or buffer whole). String fields are encoded up front; file parts are Blobs of known size
 * and are read only while the body is sent — a file-backed Blob (`fs.openAsBlob`) streams from disk.
 *
 * The layout is the fetch standard's (the one undici uses for `fetch(url, { body: formData })`):
 *
 *   --<boundary>\r\nContent-Disposition: form-data; name="<name>"\r\n\r\n<value>\r\n                        (a string)
 *   --<boundary>\r\nContent-Disposition: form-data; name="<name>"; filename="<filename>"\r\n
 *   Content-Type: <type or application/octet-stream>\r\n\r\n<bytes>\r\n                                      (a file)
 *   --<boundary>--\r\n
 *
 * Names and filenames have CR, LF and `"` percent-encoded; line breaks in names and string values become CRLF.
 */
import { randomBytes } from 'node:crypto';

export interface MultipartBody {
  /** `multipart/form-data; boundary=…` */
  contentType: string;
  /** Exact size of the encoded body in bytes. */
  length: number;
  /**
   * The body, chunk by chunk; file parts are read from their Blob as the consumer asks for more. Throws if a file part
   * reads as more or fewer bytes than its Blob's size (the file changed after it was opened).
   */
  chunks(): AsyncGenerator<Uint8Array>;
}

const encoder = new TextEncoder();
const CRLF = encoder.encode('\r\n');

const normalizeLineBreaks = (value: string) => value.replace(/\r\n|\r|\n/g, '\r\n');
const escapeQuoted = (value: string) => value.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');

export function encodeMultipart(
  form: FormData,
  boundary = `batchbridge-${randomBytes(16).toString('hex')}`,
): MultipartBody {
  const parts: (Uint8Array | Blob)[] = [];
  for (const [name, value] of form) {
    const disposition = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeQuoted(normalizeLineBreaks(name))}"`;
    if (typeof value === 'string') {
      parts.push(encoder.encode(`${disposition}\r\n\r\n${normalizeLineBreaks(value)}\r\n`));
    } else {
      const filename = value.name ? `; filename="${escapeQuoted(value.name)}"` : '';
      const type = value.type || 'application/octet-stream';
      parts.push(encoder.encode(`${disposition}${filename}\r\nContent-Type: ${type}\r\n\r\n`), value, CRLF);
    }
  }
  parts.push(encoder.encode(`--${boundary}--\r\n`));
  const length = parts.reduce((sum, part) => sum + (part instanceof Blob ? part.size : part.byteLength), 0);

  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const part of parts) {
      if (!(part instanceof Blob)) {
        yield part;
        continue;
      }
      // Checked before a byte too many goes out: the receiver would take it as the start of the next request.
      let read = 0;
      for await (const chunk of part.stream() as unknown as AsyncIterable<Uint8Array>) {
        read += chunk.byteLength;
        if (read > part.size) break;
        yield chunk;
      }
      if (read !== part.size) {
        throw new Error(`multipart body: a file part of ${part.size} bytes read as ${read} (the file changed)`);
      }
    }
  }

  return { contentType: `multipart/form-data; boundary=${boundary}`, length, chunks };
}
