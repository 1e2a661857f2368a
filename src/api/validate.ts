// Runtime checks of every request that crosses the API. The types in contract.ts
// vanish at run time; a UI bug (or anything else holding the token) must get a
// clear error response, never crash or confuse the root engine. Hand-written on
// purpose: no schema library in the privileged process, and messages a person can read.
import { API_VERSION, SITE_ACTION_IDS, type CommandName, type Commands, type RequestEnvelope, type ServeOptions } from './contract.js';
import { checkLabel, checkMac } from '../sessions/labels.js';

export class ValidationError extends Error {}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fields(p: unknown, allowed: readonly string[], where: string): Obj {
  if (p === undefined) return {};
  if (!isObj(p)) throw new ValidationError(`${where}: params must be an object`);
  for (const k of Object.keys(p)) if (!allowed.includes(k)) throw new ValidationError(`${where}: unknown field "${k}"`);
  return p;
}

function str(o: Obj, k: string, opts: { optional?: boolean; max?: number; pattern?: RegExp; nonEmpty?: boolean } = {}): string | undefined {
  const v = o[k];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string') throw new ValidationError(`"${k}" must be a string`);
  if (opts.nonEmpty && v.length === 0) throw new ValidationError(`"${k}" must not be empty`);
  if (v.length > (opts.max ?? 4096)) throw new ValidationError(`"${k}" is too long`);
  if (v.includes('\0')) throw new ValidationError(`"${k}" contains a NUL character`);
  if (opts.pattern && !opts.pattern.test(v)) throw new ValidationError(`"${k}" is not valid: ${JSON.stringify(v)}`);
  return v;
}

function bool(o: Obj, k: string, optional = false): boolean | undefined {
  const v = o[k];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'boolean') throw new ValidationError(`"${k}" must be true or false`);
  return v;
}

function int(o: Obj, k: string, min: number, max: number, optional = false): number | undefined {
  const v = o[k];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ValidationError(`"${k}" must be a whole number from ${min} to ${max}`);
  return v;
}

function strArray(o: Obj, k: string): string[] | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 32) throw new ValidationError(`"${k}" must be a list of at most 32 paths`);
  return v.map((_, i) => str(v as unknown as Obj, String(i), { max: 4096, nonEmpty: true }) as string);
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const RANGE = /^\d{1,3}(\.\d{1,3}){3}-\d{1,3}(\.\d{1,3}){3}$/;
const IFACE = /^[^\s/]{1,64}$/;
const none = (p: unknown, where: string) => fields(p, [], where) as Record<string, never>;

/** One validator per command: returns the params typed, or throws ValidationError. */
const validators: { [N in CommandName]: (p: unknown) => Commands[N]['params'] } = {
  'engine.status': (p) => none(p, 'engine.status'),
  'engine.shutdown': (p) => none(p, 'engine.shutdown'),
  'interfaces.list': (p) => none(p, 'interfaces.list'),
  'serve.stop': (p) => none(p, 'serve.stop'),
  'serve.action': (p) => {
    const id = str(fields(p, ['id'], 'serve.action'), 'id', { max: 64 });
    const known = SITE_ACTION_IDS.find((a) => a === id);
    if (!known) throw new ValidationError(`"id" must be one of ${SITE_ACTION_IDS.join(', ')}, not ${JSON.stringify(id)}`);
    return { id: known };
  },
  'sessions.list': (p) => none(p, 'sessions.list'),
  'library.list': (p) => none(p, 'library.list'),
  'settings.get': (p) => none(p, 'settings.get'),
  'wimboot.status': (p) => none(p, 'wimboot.status'),
  'files.list': (p) => {
    const dir = str(fields(p, ['dir'], 'files.list'), 'dir', { optional: true });
    return dir === undefined ? {} : { dir };
  },
  'wimboot.install': (p) => ({ path: str(fields(p, ['path'], 'wimboot.install'), 'path', { nonEmpty: true }) as string }),
  'serve.start': (p) => {
    const o = fields(p, ['iface', 'mode', 'range', 'force', 'imageId', 'imagePath', 'initrds', 'cmdline', 'httpPort', 'probeSeconds', 'bootOnce', 'secureBoot', 'openFirewall'], 'serve.start');
    const mode = str(o, 'mode');
    if (mode !== 'auto' && mode !== 'dhcp' && mode !== 'proxy') throw new ValidationError('"mode" must be auto, dhcp or proxy');
    const out: ServeOptions = {
      iface: str(o, 'iface', { pattern: IFACE }) as string,
      mode,
      range: str(o, 'range', { optional: true, pattern: RANGE }),
      force: bool(o, 'force', true),
      imageId: str(o, 'imageId', { optional: true, max: 256, nonEmpty: true }),
      imagePath: str(o, 'imagePath', { optional: true, nonEmpty: true }),
      initrds: strArray(o, 'initrds'),
      cmdline: str(o, 'cmdline', { optional: true }),
      httpPort: int(o, 'httpPort', 1, 65535, true),
      probeSeconds: int(o, 'probeSeconds', 0, 60, true),
      bootOnce: bool(o, 'bootOnce', true),
    };
    if (o.openFirewall !== undefined) out.openFirewall = bool(o, 'openFirewall');
    const secureBoot = str(o, 'secureBoot', { optional: true });
    if (secureBoot !== undefined) {
      if (secureBoot !== 'auto' && secureBoot !== 'signed' && secureBoot !== 'ipxe') throw new ValidationError('"secureBoot" must be auto, signed or ipxe');
      out.secureBoot = secureBoot;
    }
    // Neither is fine: the library's menu or per-machine assignments decide (the engine says so if they do not).
    if (out.imageId && out.imagePath) throw new ValidationError('give "imageId" or "imagePath", not both');
    return out;
  },
  'library.add': (p) => {
    const o = fields(p, ['path', 'name', 'initrds', 'cmdline'], 'library.add');
    return { path: str(o, 'path', { nonEmpty: true }) as string, name: str(o, 'name', { optional: true, max: 256 }), initrds: strArray(o, 'initrds'), cmdline: str(o, 'cmdline', { optional: true }) };
  },
  'library.remove': (p) => ({ id: str(fields(p, ['id'], 'library.remove'), 'id', { max: 256, nonEmpty: true }) as string }),
  'library.inspect': (p) => ({ id: str(fields(p, ['id'], 'library.inspect'), 'id', { max: 256, nonEmpty: true }) as string }),
  'assign.set': (p) => {
    const o = fields(p, ['mac', 'imageId', 'bootOnce'], 'assign.set');
    return { mac: (str(o, 'mac', { max: 17 }) as string).toLowerCase(), imageId: str(o, 'imageId', { max: 256, nonEmpty: true }) as string, bootOnce: bool(o, 'bootOnce') as boolean };
  },
  'assign.clear': (p) => ({ mac: (str(fields(p, ['mac'], 'assign.clear'), 'mac', { max: 17 }) as string).toLowerCase() }),
  'menu.set': (p) => {
    const o = fields(p, ['enabled', 'timeoutSeconds', 'defaultEntryId', 'includeLocalBoot'], 'menu.set');
    return {
      enabled: bool(o, 'enabled') as boolean,
      timeoutSeconds: int(o, 'timeoutSeconds', 0, 3600) as number,
      defaultEntryId: str(o, 'defaultEntryId', { optional: true, max: 256 }),
      includeLocalBoot: bool(o, 'includeLocalBoot') as boolean,
    };
  },
  'machines.labels': (p) => none(p, 'machines.labels'),
  'evidence.save': (p) => none(p, 'evidence.save'),
  'host.check': (p) => {
    const o = fields(p, ['iface', 'httpPort'], 'host.check');
    const httpPort = int(o, 'httpPort', 1, 65535, true);
    return { iface: str(o, 'iface', { pattern: IFACE }) as string, ...(httpPort !== undefined ? { httpPort } : {}) };
  },
  'machines.setLabel': (p) => {
    const o = fields(p, ['mac', 'label'], 'machines.setLabel');
    const mac = (str(o, 'mac', { max: 17 }) as string).toLowerCase();
    const label = str(o, 'label', { max: 256 }) as string;
    try {
      return { mac: checkMac(mac), label: checkLabel(label) };
    } catch (err) {
      throw new ValidationError((err as Error).message);
    }
  },
  'logs.export': (p) => {
    const format = str(fields(p, ['format'], 'logs.export'), 'format');
    if (format !== 'jsonl' && format !== 'text') throw new ValidationError('"format" must be jsonl or text');
    return { format };
  },
};

// MACs are checked after lower-casing, so "AA:BB:..." is accepted.
for (const cmd of ['assign.set', 'assign.clear'] as const) {
  const inner = validators[cmd] as (p: unknown) => { mac: string };
  (validators as Record<string, (p: unknown) => unknown>)[cmd] = (p: unknown) => {
    const v = inner(p);
    if (!MAC.test(v.mac)) throw new ValidationError(`"mac" must look like 52:54:00:12:34:56, not ${JSON.stringify(v.mac)}`);
    return v;
  };
}

export function isCommandName(s: unknown): s is CommandName {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(validators, s);
}

export type ParsedRequest = { ok: true; request: RequestEnvelope } | { ok: false; id: number; code: 'bad-request' | 'unknown-command' | 'invalid-params' | 'unsupported-version'; message: string };

/** Parses one text frame into a checked request; never throws. */
export function parseRequest(text: string): ParsedRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, id: -1, code: 'bad-request', message: 'not JSON' };
  }
  if (!isObj(raw)) return { ok: false, id: -1, code: 'bad-request', message: 'a request is a JSON object {v, id, cmd, params}' };
  const id = typeof raw.id === 'number' && Number.isSafeInteger(raw.id) && raw.id >= 0 ? raw.id : -1;
  if (id < 0) return { ok: false, id: -1, code: 'bad-request', message: '"id" must be a non-negative integer' };
  if (raw.v !== API_VERSION) return { ok: false, id, code: 'unsupported-version', message: `this engine speaks API version ${API_VERSION}` };
  if (!isCommandName(raw.cmd)) return { ok: false, id, code: 'unknown-command', message: `unknown command ${JSON.stringify(raw.cmd)}` };
  try {
    const params = validators[raw.cmd](raw.params);
    return { ok: true, request: { v: API_VERSION, id, cmd: raw.cmd, params } as RequestEnvelope };
  } catch (err) {
    if (err instanceof ValidationError) return { ok: false, id, code: 'invalid-params', message: `${raw.cmd}: ${err.message}` };
    return { ok: false, id, code: 'invalid-params', message: `${raw.cmd}: invalid parameters` };
  }
}

/** Whether a token is acceptable as a WebSocket subprotocol suffix (RFC 6455 token characters, enough entropy). */
export function isWellFormedToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{32,256}$/.test(token);
}
