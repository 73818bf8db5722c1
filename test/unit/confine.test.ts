// Path confinement shared by TFTP and HTTP (src/lib/confine.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { confine, confineLexical, realRoot } from '../../src/lib/confine.js';
import { tempDir } from '../helpers/artifacts.js';

test('lexical: normalises, strips leading /, refuses .., NUL, control chars, backslashes', () => {
  const ok = (p: string, rel: string, o = {}) => assert.deepEqual(confineLexical(p, o), { ok: true, rel }, p);
  const no = (p: string, reason: string, o = {}) => assert.deepEqual(confineLexical(p, o), { ok: false, reason }, p);
  ok('/pxelinux.0', 'pxelinux.0');
  ok('//a/./b//c.efi', 'a/b/c.efi');
  ok('boot/52%3A54%3A00%3Aaa%3A00%3A10.ipxe', 'boot/52%3A54%3A00%3Aaa%3A00%3A10.ipxe'); // TFTP: literal
  ok('/boot/52%3A54%3A00%3Aaa%3A00%3A10.ipxe', 'boot/52:54:00:aa:00:10.ipxe', { percentDecode: true });
  ok('/%252e%252e/secret', '%2e%2e/secret', { percentDecode: true }); // decoded once: stays literal
  no('../secret', 'dotdot');
  no('a/../../secret', 'dotdot');
  no('a/..', 'dotdot');
  no('/%2e%2e/secret', 'dotdot', { percentDecode: true });
  no('/..%2fsecret', 'dotdot', { percentDecode: true });
  no('a\0b', 'nul');
  no('/a%00b', 'nul', { percentDecode: true });
  no('a\nb', 'control-char');
  no('..\\secret', 'backslash');
  no('/%5c..%5csecret', 'backslash', { percentDecode: true });
  no('/%E0%A4%A', 'bad-encoding', { percentDecode: true });
  no('/', 'empty');
  no('x'.repeat(5000), 'too-long');
});

test('realpath: symlinks inside the root are followed, symlinks out of it refused, missing reported', async () => {
  const t = tempDir('btf-confine-');
  after(t.remove);
  const root = join(t.dir, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(t.dir, 'secret.txt'), 'secret');
  writeFileSync(join(root, 'sub', 'in.txt'), 'in');
  symlinkSync(join(t.dir, 'secret.txt'), join(root, 'out-link'));
  symlinkSync('sub/in.txt', join(root, 'in-link'));
  symlinkSync('..', join(root, 'sub', 'up'));
  symlinkSync(t.dir, join(root, 'dir-out'));
  const rr = await realRoot(root);
  assert.deepEqual(await confine(rr, 'in-link'), { ok: true, rel: 'in-link', path: join(rr, 'sub', 'in.txt') });
  assert.deepEqual(await confine(rr, 'out-link'), { ok: false, reason: 'outside-root' });
  assert.deepEqual(await confine(rr, 'dir-out/secret.txt'), { ok: false, reason: 'outside-root' });
  assert.deepEqual(await confine(rr, 'sub/up/sub/in.txt'), { ok: true, rel: 'sub/up/sub/in.txt', path: join(rr, 'sub', 'in.txt') });
  assert.deepEqual(await confine(rr, 'sub/up/up/secret.txt'), { ok: false, reason: 'missing', rel: 'sub/up/up/secret.txt' });
  assert.deepEqual(await confine(rr, 'nope'), { ok: false, reason: 'missing', rel: 'nope' });
});
