/** Parse "1h", "30m", "90s", "2d", "1h30m" or a bare number of seconds → seconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`bad duration: ${text}`);
    return Math.floor(text);
  }
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const re = /(\d+)([smhdw])/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    consumed = re.lastIndex;
  }
  if (consumed !== t.length || t.length === 0) throw new Error(`bad duration "${text}" (use 90s, 30m, 1h, 2d or 1h30m)`);
  return total;
}
