// The private smb.conf: one read-only share on one address, every Samba file under the run
// directory, nothing else shared; Samba's own testparm reads it back as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smbConfig, usernameMap, SmbConfigError, SHARE_USER } from '../../src/share/smb-config.js';

const input = { runDir: '/var/tmp/pxk/smb-abc', address: '10.0.0.1', prefix: 24, shareName: 'pxekit', path: '/tmp/pxekit-media-x' };

/** section -> key -> value, as Samba reads it. */
function parse(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) out[(section = s[1])] = {};
    else {
      const i = line.indexOf('=');
      out[section][line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
  }
  return out;
}

test('bound to the address, SMB2+, private directories, one read-only guest-readable share, nothing else', () => {
  const c = parse(smbConfig(input));
  assert.deepEqual(Object.keys(c), ['global', 'pxekit']);
  const g = c.global;
  assert.equal(g['interfaces'], '10.0.0.1/24');
  assert.equal(g['bind interfaces only'], 'yes');
  assert.equal(g['hosts allow'], '10.0.0.0/24');
  assert.equal(g['hosts deny'], 'ALL');
  assert.equal(g['smb ports'], '445');
  assert.equal(g['server min protocol'], 'SMB2_02');
  assert.equal(g['disable netbios'], 'yes');
  for (const k of ['private dir', 'lock directory', 'state directory', 'cache directory', 'pid directory', 'ncalrpc dir', 'log file', 'username map']) {
    assert.ok(g[k].startsWith('/var/tmp/pxk/smb-abc/'), `${k} = ${g[k]}`);
  }
  assert.equal(g['passdb backend'], 'tdbsam:/var/tmp/pxk/smb-abc/private/passdb.tdb');
  assert.equal(g['map to guest'], 'Bad User');
  assert.equal(g['load printers'], 'no');
  assert.equal(g['disable spoolss'], 'yes');
  assert.equal(g['usershare max shares'], '0');
  const s = c.pxekit;
  assert.equal(s['path'], '/tmp/pxekit-media-x');
  assert.equal(s['read only'], 'yes');
  assert.equal(s['guest ok'], 'yes');
  assert.equal(s['browseable'], 'yes');
  assert.equal(s['wide links'], 'no');
  assert.equal(s['force user'], undefined);
  assert.equal(parse(smbConfig({ ...input, forceUser: 'alice' })).pxekit['force user'], 'alice');
  assert.equal(parse(smbConfig({ ...input, address: '192.168.7.130', prefix: 25 })).global['hosts allow'], '192.168.7.128/25');
  assert.equal(usernameMap(), `nobody = ${SHARE_USER}\n`);
});

test("Samba's testparm loads it without complaint and sees exactly one share", () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-smbconf-'));
  try {
    for (const d of ['private', 'lock', 'state', 'cache', 'pid', 'log']) mkdirSync(join(dir, d));
    const conf = join(dir, 'smb.conf');
    writeFileSync(conf, smbConfig({ ...input, runDir: dir }));
    writeFileSync(join(dir, 'users.map'), usernameMap());
    const out = execFileSync('testparm', ['-s', conf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const shares = [...out.matchAll(/^\[(.+)\]$/gm)].map((m) => m[1]);
    assert.deepEqual(shares, ['global', 'pxekit']);
    assert.match(out, /read only = Yes|^\s*guest ok = Yes/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('share names, paths and addresses Samba would misread are refused', () => {
  for (const bad of [
    { ...input, shareName: 'a b' },
    { ...input, shareName: 'homes' },
    { ...input, shareName: 'IPC$' },
    { ...input, path: '/media/100%U' },
    { ...input, path: '/media/x\n[etc]\npath = /etc' },
    { ...input, path: 'relative/dir' },
    { ...input, address: '10.0.0' },
    { ...input, prefix: 33 },
    { ...input, forceUser: 'root\n[x]' },
  ]) {
    assert.throws(() => smbConfig(bad), SmbConfigError, JSON.stringify(bad));
  }
});
