import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainScript, clientScriptPath, httpUrl, kernelScript, macFromScriptName } from '../../src/boot/ipxe-script.js';

test('URLs are absolute with encoded segments', () => {
  assert.equal(httpUrl('10.0.0.1', 8080, 'image/vmlinuz'), 'http://10.0.0.1:8080/image/vmlinuz');
  assert.equal(httpUrl('10.0.0.1', 80, '/a b/c#d'), 'http://10.0.0.1:80/a%20b/c%23d');
});

test('per-client script paths round-trip the MAC', () => {
  assert.equal(clientScriptPath('52:54:00:AB:cd:0F'), 'ipxe/52-54-00-ab-cd-0f.ipxe');
  assert.equal(macFromScriptName('52-54-00-ab-cd-0f.ipxe'), '52:54:00:ab:cd:0f');
  assert.equal(macFromScriptName('52-54-00-AB-CD-0F.IPXE'), '52:54:00:ab:cd:0f');
  assert.equal(macFromScriptName('default.ipxe'), undefined);
  assert.equal(macFromScriptName('52-54-00-ab-cd.ipxe'), undefined);
});

test('kernel script: kernel with initrd= names, named initrds, boot, and a failure path', () => {
  const s = kernelScript({
    kernelUrl: 'http://10.0.0.1:8080/image/vmlinuz',
    initrds: [
      { name: 'initrd-0.img', url: 'http://10.0.0.1:8080/image/initrd-0.img' },
      { name: 'initrd-1.img', url: 'http://10.0.0.1:8080/image/initrd-1.img' },
    ],
    cmdline: 'console=ttyS0 quiet',
    label: 'vmlinuz',
  });
  const lines = s.split('\n');
  assert.equal(lines[0], '#!ipxe');
  assert.ok(lines.includes('kernel http://10.0.0.1:8080/image/vmlinuz initrd=initrd-0.img initrd=initrd-1.img console=ttyS0 quiet || goto failed'));
  assert.ok(lines.includes('initrd --name initrd-0.img http://10.0.0.1:8080/image/initrd-0.img || goto failed'));
  assert.ok(lines.includes('initrd --name initrd-1.img http://10.0.0.1:8080/image/initrd-1.img || goto failed'));
  // Order matters: kernel before its initrds, boot after both.
  const k = lines.findIndex((l) => l.startsWith('kernel '));
  const b = lines.indexOf('boot || goto failed');
  assert.ok(k < lines.findIndex((l) => l.startsWith('initrd ')) && b > k);
  const f = lines.indexOf(':failed');
  assert.ok(f > b);
  assert.match(lines.slice(f).join('\n'), /echo PXE Kit: could not boot vmlinuz/);
  assert.ok(lines.slice(f).includes('sleep 10'));
  assert.ok(lines.slice(f).includes('exit 1'));
});

test('kernel script without initrds or cmdline has no trailing space', () => {
  const s = kernelScript({ kernelUrl: 'http://1.2.3.4:8080/image/vmlinuz', initrds: [], cmdline: '' });
  assert.ok(s.split('\n').includes('kernel http://1.2.3.4:8080/image/vmlinuz || goto failed'));
});

test('a command line with a line break is refused', () => {
  assert.throws(() => kernelScript({ kernelUrl: 'http://x/k', initrds: [], cmdline: 'a\nshell' }), /line break/);
});

test('chain script chains the absolute URL', () => {
  const s = chainScript('http://10.0.0.1:8080/image/boot.efi', 'shell.efi');
  assert.ok(s.startsWith('#!ipxe\n'));
  assert.ok(s.split('\n').includes('chain http://10.0.0.1:8080/image/boot.efi || goto failed'));
  assert.ok(s.includes(':failed'));
});

test('labels cannot inject settings expansion or commands into echo lines', () => {
  const s = chainScript('http://x/y', 'evil ${net0/ip}\nshell');
  assert.ok(!s.includes('${net0/ip}'));
  assert.ok(!s.split('\n').includes('shell'));
});
