/**
 * Turn a client-supplied host name (option 12 or the first label of 81) into a DNS label
 * (RFC 1123 §2.1: a-z, 0-9, inner hyphens, at most 63): lowercase, only the first label, other
 * characters become "-", hyphens trimmed. Returns undefined when nothing usable remains.
 */
export function sanitiseHostname(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const first = raw.split('.')[0] ?? '';
  const label = first.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return label.length > 0 ? label : undefined;
}
