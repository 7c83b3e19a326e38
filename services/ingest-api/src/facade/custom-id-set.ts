/**
 * The custom_ids seen so far in an upload, for the duplicate check, in flat memory: a 96-bit hash of each id in an
 * open-addressing table of 32-bit words (12 bytes a slot, at most half full), about 24 MB for a million lines — where
 * a `Set` of the strings took several times that and grew the ingest's heap with the file.
 *
 * A hash is not the id: two different ids with the same 96 bits would be refused as a duplicate. Three independently
 * seeded murmur3-style hashes of the UTF-16 code units make that about 1 in 10^16 for a million-line file of ordinary
 * ids; a tenant crafting a collision only gets its own file refused.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function hash32(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class CustomIdSet {
  private slots: Uint32Array;
  private mask: number;
  private count = 0;

  constructor(initialSlots = 1 << 12) {
    this.slots = new Uint32Array(initialSlots * 3);
    this.mask = initialSlots - 1;
  }

  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    const [a, b, c] = this.hashes(id);
    return this.find(a, b, c) >= 0;
  }

  add(id: string): void {
    const [a, b, c] = this.hashes(id);
    if (this.find(a, b, c) >= 0) return;
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    this.insert(a, b, c);
    this.count++;
  }

  /** The id last hashed and its three hashes: the line check asks `has` and then `add` for the same id. */
  private last: { id: string; h: [number, number, number] } | undefined;

  private hashes(id: string): [number, number, number] {
    if (this.last?.id === id) return this.last.h;
    // a is never 0: 0 marks an empty slot.
    const h: [number, number, number] = [hash32(id, 0x9747b28c) | 1, hash32(id, 0x5bd1e995), hash32(id, 0x2f1a7c3d)];
    this.last = { id, h };
    return h;
  }

  /** The slot holding (a, b, c), or -1. */
  private find(a: number, b: number, c: number): number {
    const s = this.slots;
    for (let i = (b ^ c) & this.mask; ; i = (i + 1) & this.mask) {
      const w = s[i * 3] as number;
      if (w === 0) return -1;
      if (w === a >>> 0 && s[i * 3 + 1] === b && s[i * 3 + 2] === c) return i;
    }
  }

  private insert(a: number, b: number, c: number): void {
    const s = this.slots;
    let i = (b ^ c) & this.mask;
    while (s[i * 3] !== 0) i = (i + 1) & this.mask;
    s[i * 3] = a;
    s[i * 3 + 1] = b;
    s[i * 3 + 2] = c;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.mask = this.mask * 2 + 1;
    for (let i = 0; i < old.length; i += 3) {
      const a = old[i] as number;
      if (a !== 0) this.insert(a, old[i + 1] as number, old[i + 2] as number);
    }
  }
}
