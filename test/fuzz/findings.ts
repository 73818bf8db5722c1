/** Saving fuzz findings as fixtures: test/fixtures/fuzz/<codec>/<kind>-<sha8>.json, replayed by test/unit/fuzz-fixtures.test.ts. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './targets.js';

export interface SavedFinding { codec: string; kind: string; message: string; hex: string; file: string; isNew: boolean }

/** Write a finding (once per input); returns where. */
export function saveFinding(codec: string, kind: string, message: string, hex: string, extra: Record<string, unknown> = {}): SavedFinding {
  const dir = join(FIXTURES, codec);
  mkdirSync(dir, { recursive: true });
  const id = createHash('sha256').update(hex).digest('hex').slice(0, 12);
  const file = join(dir, `${kind}-${id}.json`);
  const isNew = !existsSync(file);
  if (isNew) writeFileSync(file, JSON.stringify({ kind, message: message.split('\n').slice(0, 8).join('\n'), hex, found: new Date().toISOString(), ...extra }, null, 2) + '\n');
  return { codec, kind, message, hex, file, isNew };
}
