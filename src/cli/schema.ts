import { z } from 'zod';
import { configSchema } from '../config/schema.js';
import { EXIT } from './common.js';

export const help = `builderd schema
  Print the JSON Schema (draft 2020-12) of the configuration format, for editors (yaml-language-server).`;

/** The published JSON Schema of the config format. */
export function jsonSchema(): unknown {
  const s = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { $id: 'https://builderd.invalid/schema/builderd.schema.json', title: 'builderd site configuration', ...s };
}

export function run(): number {
  process.stdout.write(JSON.stringify(jsonSchema(), null, 2) + '\n');
  return EXIT.OK;
}
