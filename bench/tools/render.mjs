// Re-render results/latest.md and the README block from results/latest.json (after a change to
// the report format, without rerunning the bench). usage: node tools/render.mjs [quick]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, renderSummary } from '../lib/report.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const base = process.argv[2] === 'quick' ? 'quick' : 'latest';
const res = JSON.parse(readFileSync(join(here, 'results', `${base}.json`), 'utf8'));
writeFileSync(join(here, 'results', `${base}.md`), renderMarkdown(res));
if (base === 'latest') {
  const file = join(here, 'README.md');
  const text = readFileSync(file, 'utf8');
  const a = '<!-- bench:latest:start -->', b = '<!-- bench:latest:end -->';
  const i = text.indexOf(a), j = text.indexOf(b);
  if (i >= 0 && j > i) writeFileSync(file, `${text.slice(0, i + a.length)}\n${renderSummary(res)}${text.slice(j)}`);
}
