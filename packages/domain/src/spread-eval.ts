/**
 * A script call whose large arguments are written to the socket as they are, not copied together first (issue 17).
 *
 * ioredis builds a command that has a Buffer argument as one new Buffer holding every argument (`MixedBuffers`), so a
 * settle call of 100 embeddings answers (~2 MB) was copied twice in the poller — once to make each stored response
 * (`{"status_code":…,"body":<the provider's bytes>}`) one Buffer, once more by ioredis — and each copy was a fresh
 * 2 MB allocation the garbage collector counted. Here an argument may be a `SpreadArg`: several pieces sent as one bulk
 * string. The command is written corked, piece by piece (the socket's writev; the kernel's copy is the only one), and
 * the last piece is what `toWritable` hands back to ioredis, which writes it after the rest.
 *
 * Only for a command sent on its own (`sendCommand`, never queued into a pipeline, whose writes are gathered later).
 * It goes out as EVALSHA; a Redis that does not know the script (NOSCRIPT) gets the call the ordinary way, which loads
 * it (nothing ran: the reply was an error before the script started).
 */
import { createHash } from 'node:crypto';
import { type Cluster, Command, type Redis } from 'ioredis';
import { scriptSource } from './lua.js';

/** One bulk string made of `parts`, in order. */
export interface SpreadArg {
  parts: ReadonlyArray<string | Buffer>;
}

export type SpreadValue = string | Buffer | SpreadArg;

const isSpread = (v: SpreadValue): v is SpreadArg => typeof v !== 'string' && !Buffer.isBuffer(v);

const byteLength = (v: string | Buffer) => (typeof v === 'string' ? Buffer.byteLength(v) : v.length);

/** The argument as one Buffer (the ordinary path, and a socket that cannot be corked). */
export function joinSpread(v: SpreadValue): string | Buffer {
  if (!isSpread(v)) return v;
  return Buffer.concat(v.parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}

interface CorkableSocket {
  cork(): void;
  uncork(): void;
  write(chunk: string | Buffer): boolean;
}

const corkable = (s: unknown): s is CorkableSocket =>
  typeof (s as CorkableSocket | null)?.cork === 'function' && typeof (s as CorkableSocket).write === 'function';

class SpreadCommand extends Command {
  constructor(
    head: Array<string | number>,
    private readonly tail: SpreadValue[],
  ) {
    // The script's sha, key count and keys are ordinary arguments (ioredis finds the keys, and the Cluster slot, there).
    super('evalsha', head, { replyEncoding: 'utf8' });
  }

  override toWritable(socket: object): string | Buffer {
    const head = this.args as Array<string | Buffer>;
    const count = 1 + head.length + this.tail.length;
    let text = `*${count}\r\n$7\r\nevalsha\r\n`;
    for (const arg of head) text += `$${byteLength(arg)}\r\n${arg}\r\n`;
    if (!corkable(socket)) {
      const pieces: Buffer[] = [Buffer.from(text)];
      for (const arg of this.tail) {
        const v = joinSpread(arg);
        pieces.push(Buffer.from(`$${byteLength(v)}\r\n`), typeof v === 'string' ? Buffer.from(v) : v, CRLF);
      }
      return Buffer.concat(pieces);
    }
    socket.cork();
    // Uncorked once ioredis has written the last piece (a Node pattern: writes of one tick go out as one writev).
    process.nextTick(() => socket.uncork());
    for (const arg of this.tail) {
      if (!isSpread(arg) && !Buffer.isBuffer(arg)) {
        text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
        continue;
      }
      const parts = isSpread(arg) ? arg.parts : [arg];
      let length = 0;
      for (const p of parts) length += byteLength(p);
      text += `$${length}\r\n`;
      for (const p of parts) {
        if (typeof p === 'string') {
          text += p;
        } else if (p.length > 0) {
          socket.write(text);
          socket.write(p);
          text = '';
        }
      }
      text += '\r\n';
    }
    return text;
  }
}

const CRLF = Buffer.from('\r\n');

const shas = new Map<string, string>();

/**
 * Runs the script of `file` (scripts/, its sha as ioredis's `defineCommand` computes it) on `keys` with `args`;
 * `fallback` is the ordinary call of the command, used when Redis answers NOSCRIPT.
 */
export async function evalSpread<T>(
  redis: Redis | Cluster,
  file: string,
  keys: string[],
  args: SpreadValue[],
  fallback: (args: Array<string | Buffer>) => Promise<T>,
): Promise<T> {
  let sha = shas.get(file);
  if (sha === undefined) {
    sha = createHash('sha1').update(scriptSource(file)).digest('hex');
    shas.set(file, sha);
  }
  try {
    return (await redis.sendCommand(new SpreadCommand([sha, keys.length, ...keys], args))) as T;
  } catch (err) {
    if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
    return fallback(args.map(joinSpread));
  }
}
