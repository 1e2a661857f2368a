// The receive queue the DHCP sockets ask for (src/net/sockopt-linux.ts setReceiveBuffer):
// past the system's cap, net.core.rmem_max, when the process may (root), which is what
// lets the engine's port-67 queue absorb a storm's bursts on a machine with the default
// cap (~200 KiB). A loopback socket; asks for more than this machine's cap, whatever it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { closeFd, openDeviceBoundFd, setReceiveBuffer } from '../../src/net/sockopt-linux.js';
import { requireRoot } from '../helpers/lab.js';

test('a receive queue larger than net.core.rmem_max is granted to root', { skip: requireRoot() }, () => {
  const cap = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  const fd = openDeviceBoundFd({ device: 'lo', address: '127.0.0.1', port: 0 });
  try {
    const asked = cap + 1024 * 1024;
    // The kernel doubles the value for its own bookkeeping, as getsockopt reports.
    assert.equal(setReceiveBuffer(fd, asked), 2 * asked, `asked for ${asked} bytes, past the cap of ${cap}`);
  } finally {
    closeFd(fd);
  }
});
