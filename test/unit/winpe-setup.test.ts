// The files injected into Windows PE: names wimboot places in System32, CRLF line endings,
// the share and account they connect with, what they run, and what they say on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { winpeSetupFiles, WinpeSetupError, WINPESHL_INI, SETUP_SCRIPT } from '../../src/images/winpe-setup.js';

const UNC = '\\\\10.0.0.1\\pxekit';
const base = { unc: UNC, user: 'pxekit', password: 'Abc123xyz', hasSetup: true };
const byName = (files: { name: string; text: string }[]) => Object.fromEntries(files.map((f) => [f.name, f.text]));

test('two files: winpeshl.ini runs the script in cmd /k, both with CRLF line endings only', () => {
  const files = winpeSetupFiles(base);
  assert.deepEqual(files.map((f) => f.name), ['winpeshl.ini', 'pxekit-setup.cmd']);
  assert.equal(WINPESHL_INI, 'winpeshl.ini');
  assert.equal(SETUP_SCRIPT, 'pxekit-setup.cmd');
  for (const f of files) {
    assert.ok(f.text.endsWith('\r\n'), `${f.name} ends with CRLF`);
    assert.doesNotMatch(f.text.replace(/\r\n/g, ''), /[\r\n]/, `${f.name}: a bare CR or LF`);
  }
  const ini = byName(files)['winpeshl.ini'].split('\r\n');
  assert.equal(ini[0], '[LaunchApps]');
  assert.equal(ini[1], '%SYSTEMROOT%\\System32\\cmd.exe, /k %SYSTEMROOT%\\System32\\pxekit-setup.cmd');
});

test('the script starts the network, retries net use with the account, then runs setup from the share', () => {
  const s = byName(winpeSetupFiles(base))['pxekit-setup.cmd'];
  const lines = s.split('\r\n');
  assert.equal(lines[0], '@echo off');
  const at = (re: RegExp) => {
    const i = lines.findIndex((l) => re.test(l));
    assert.ok(i >= 0, `no line matching ${re} in:\n${s}`);
    return i;
  };
  const wpeinit = at(/^wpeinit$/);
  const netUse = at(/^net use Z: \\\\10\.0\.0\.1\\pxekit \/user:pxekit Abc123xyz \/persistent:no >/);
  assert.ok(wpeinit < netUse, 'wpeinit before net use');
  // Retried with a pause: a failed net use loops back to :connect after ping -n, up to 10 tries.
  assert.ok(at(/^if not errorlevel 1 goto connected$/) === netUse + 1);
  assert.ok(at(/^if %PXEKIT_TRY% geq 10 goto failed$/) > netUse);
  assert.ok(at(/^ping -n \d+ 127\.0\.0\.1 >nul$/) > netUse);
  assert.ok(at(/^goto connect$/) > netUse);
  assert.ok(at(/^:connect$/) < netUse);
  const connected = at(/^:connected$/);
  const setup = at(/^Z:\\setup\.exe$/);
  assert.ok(setup > connected);
  assert.ok(at(/^if exist Z:\\setup\.exe goto setup$/) > connected);
  // The failure explains and gives the commands to type; labels used by goto all exist.
  const failed = at(/^:failed$/);
  assert.ok(at(/^echo PXE Kit could not connect the setup media at \\\\10\.0\.0\.1\\pxekit\.$/) > failed);
  assert.ok(at(/^type "%TEMP%\\pxekit-net-use\.txt"$/) > failed);
  assert.ok(at(/^echo {5}net use Z: \\\\10\.0\.0\.1\\pxekit \/user:pxekit Abc123xyz \/persistent:no$/) > failed);
  for (const m of s.matchAll(/goto (\w+)/g)) assert.ok(lines.includes(`:${m[1]}`), `goto ${m[1]} has no label`);
  // Nothing cmd.exe would interpret inside echo lines (&, |, <, >, ^, parentheses in blocks).
  for (const l of lines.filter((x) => x.startsWith('echo'))) assert.doesNotMatch(l, /[&|<>^]/, l);
});

test('media without setup.exe: connected, a message, and the prompt (no setup started)', () => {
  const s = byName(winpeSetupFiles({ ...base, hasSetup: false }))['pxekit-setup.cmd'];
  assert.doesNotMatch(s, /setup\.exe\r\n/);
  assert.match(s, /net use Z: /);
  assert.match(s, /echo PXE Kit: this image has no Windows setup\. Its files are on Z:/);
});

test('without an account the script connects as guest', () => {
  const s = byName(winpeSetupFiles({ unc: UNC, hasSetup: true }))['pxekit-setup.cmd'];
  assert.match(s, /^net use Z: \\\\10\.0\.0\.1\\pxekit \/persistent:no >/m);
  assert.doesNotMatch(s, /\/user:/);
});

test('values cmd.exe would interpret are refused', () => {
  for (const bad of [
    { ...base, unc: '\\\\10.0.0.1\\pxekit & del x' },
    { ...base, unc: '//10.0.0.1/pxekit' },
    { ...base, password: 'a%PATH%b' },
    { ...base, password: 'a&b' },
    { ...base, user: 'x y' },
    { unc: UNC, password: 'only', hasSetup: true },
  ]) {
    assert.throws(() => winpeSetupFiles(bad), WinpeSetupError, JSON.stringify(bad));
  }
});
