/** RR type codes (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891, RFC 8945, RFC 8659). */
export const QTYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33,
  OPT: 41, DS: 43, TSIG: 250, IXFR: 251, AXFR: 252, ANY: 255, CAA: 257,
} as const;

/** Class codes (RFC 1035 §3.2.4, §3.2.5). */
export const QCLASS = { IN: 1, CH: 3, NONE: 254, ANY: 255 } as const;

/** Header opcodes (RFC 1035 §4.1.1, RFC 1996). */
export const OPCODE = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** Response codes (RFC 1035 §4.1.1, RFC 6891 §9, RFC 8945 §3). */
export const RCODE = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9,
  BADVERS: 16, BADSIG: 16, BADKEY: 17, BADTIME: 18,
} as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(QTYPE).map(([k, v]) => [v, k]));
const TYPE_CODES = new Map<string, number>(Object.entries(QTYPE));

/** Mnemonic of a type code, or TYPEnnn (RFC 3597 §5). */
export function typeName(code: number): string {
  return TYPE_NAMES.get(code) ?? `TYPE${code}`;
}

/** Type code of a mnemonic or TYPEnnn; undefined when unknown. */
export function typeCode(name: string): number | undefined {
  const up = name.toUpperCase();
  const known = TYPE_CODES.get(up);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(up);
  if (m && Number(m[1]) <= 65535) return Number(m[1]);
  return undefined;
}

/** Types whose rdata names may be compressed (RFC 3597 §4: only the RFC 1035 types). */
export const COMPRESSIBLE = new Set<number>([QTYPE.NS, QTYPE.CNAME, QTYPE.SOA, QTYPE.PTR, QTYPE.MX]);
