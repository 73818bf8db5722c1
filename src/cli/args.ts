/** Minimal argv parser: --flag, --key value, --key=value, positionals. Unknown flags are errors. */
export interface Parsed {
  flags: Record<string, string | boolean>;
  positionals: string[];
}

export function parseArgs(argv: string[], spec: { bool?: string[]; value?: string[] }): Parsed {
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const bool = new Set(['help', 'h', ...(spec.bool ?? [])]);
  const value = new Set(spec.value ?? []);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--') || a === '-h') {
      const eq = a.indexOf('=');
      const key = a === '-h' ? 'h' : a.slice(2, eq >= 0 ? eq : undefined);
      if (bool.has(key)) { flags[key] = true; continue; }
      if (value.has(key)) {
        const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`--${key} needs a value`);
        flags[key] = v;
        continue;
      }
      throw new UsageError(`unknown option ${a}`);
    }
    positionals.push(a);
  }
  return { flags, positionals };
}

export class UsageError extends Error {}
