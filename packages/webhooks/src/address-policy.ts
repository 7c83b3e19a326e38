// Owns the decision "may batchbridge open a connection to this IP address?" (SPEC §3, §4): public unicast addresses
// yes, everything else (loopback, private, link-local, metadata, CGNAT, multicast, reserved…) only when an operator
// allow-list (WEBHOOK_ALLOW_CIDRS) contains it. Both intake validation and the sender's connect-time lookup ask here.
import ipaddr from 'ipaddr.js';

type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [IpAddress, number];

/** The verdict on one IP address. */
export interface AddressVerdict {
  allowed: boolean;
  /** Why the address was refused (e.g. `loopback`, `private`, `linkLocal`); absent when allowed. */
  reason?: string;
}

/** Options of {@link createAddressPolicy}. */
export interface AddressPolicyOptions {
  /** CIDRs (IPv4 or IPv6) allowed in addition to public unicast addresses, e.g. `127.0.0.0/8` for a laptop demo. @defaultValue `[]` */
  allowCidrs?: readonly string[];
}

/** Decides which addresses webhooks may be delivered to. */
export interface AddressPolicy {
  /** Checks one IP address in any textual form ipaddr.js understands; anything that is not an IP address is refused. */
  checkIp(ip: string): AddressVerdict;
  /** The allow-list as given, normalised (`127.0.0.0/8`), for logs. */
  readonly allowCidrs: readonly string[];
}

/** Parses a comma-separated CIDR list (`"127.0.0.0/8, ::1/128"`); throws an error naming the first bad entry. */
export function parseCidrList(value: string): string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) parseCidr(entry);
  return entries;
}

/** Creates the policy; throws on an invalid CIDR in `allowCidrs`. */
export function createAddressPolicy(options: AddressPolicyOptions = {}): AddressPolicy {
  const allow = (options.allowCidrs ?? []).map(parseCidr);
  const allowCidrs = allow.map(([network, bits]) => `${network.toString()}/${bits}`);

  const allowListed = (addresses: readonly IpAddress[]): boolean =>
    allow.some(([network, bits]) =>
      addresses.some((address) => address.kind() === network.kind() && address.match(network, bits)),
    );

  const checkIp = (ip: string): AddressVerdict => {
    let raw: IpAddress;
    try {
      raw = ipaddr.parse(stripBrackets(ip));
    } catch {
      return { allowed: false, reason: 'not an IP address' };
    }
    // process() turns ::ffff:a.b.c.d into the IPv4 address it stands for, so ::ffff:127.0.0.1 is judged as 127.0.0.1.
    const processed = ipaddr.process(raw.toString());
    if (allowListed([raw, processed])) return { allowed: true };
    return judgePublic(processed, allowListed);
  };

  return { checkIp, allowCidrs };
}

// Global IPv6 unicast is 2000::/3; outside it nothing is reachable on the public internet (RFC 4291 §2.4).
const globalUnicastV6: Cidr = ipaddr.parseCIDR('2000::/3');

function judgePublic(address: IpAddress, allowListed: (addresses: readonly IpAddress[]) => boolean): AddressVerdict {
  if (address.kind() === 'ipv4') {
    const range = address.range();
    return range === 'unicast' ? { allowed: true } : { allowed: false, reason: range };
  }
  const v6 = address as ipaddr.IPv6;
  const range = v6.range();
  // Forms that carry an IPv4 address inside: judge the embedded address, or NAT64 64:ff9b::7f00:1 reaches 127.0.0.1.
  const embedded = embeddedIpv4(v6, range);
  if (embedded !== undefined) {
    if (allowListed([embedded])) return { allowed: true };
    const verdict = judgePublic(embedded, allowListed);
    return verdict.allowed
      ? verdict
      : { allowed: false, reason: `${range} of ${embedded.toString()}: ${verdict.reason}` };
  }
  if (range === 'teredo') return { allowed: false, reason: 'teredo' };
  if (range !== 'unicast') return { allowed: false, reason: range };
  if (!v6.match(globalUnicastV6)) return { allowed: false, reason: 'reserved' };
  return { allowed: true };
}

function embeddedIpv4(address: ipaddr.IPv6, range: string): ipaddr.IPv4 | undefined {
  const bytes = address.toByteArray();
  switch (range) {
    case 'rfc6052': // NAT64 64:ff9b::/96 (and the local-use /48): the IPv4 address is the last 32 bits
    case 'rfc6145': // IPv4-translated ::ffff:0:a.b.c.d
      return new ipaddr.IPv4(bytes.slice(12, 16));
    case '6to4': // 2002:AABB:CCDD::/48 carries AA.BB.CC.DD
      return new ipaddr.IPv4(bytes.slice(2, 6));
    default:
      return undefined;
  }
}

function parseCidr(entry: string): Cidr {
  try {
    return ipaddr.parseCIDR(entry.trim());
  } catch {
    throw new Error(`invalid CIDR "${entry}": expected an IPv4 or IPv6 network such as 127.0.0.0/8 or ::1/128`);
  }
}

function stripBrackets(ip: string): string {
  return ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
}
