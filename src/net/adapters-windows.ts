// Windows NICs as the technician sees them in "Network Connections": one PowerShell run of
// Get-NetAdapter + Get-NetIPAddress (IPv4) as JSON, parsed into the facts interfaces.ts
// computes from /sys on Linux (link, Wi-Fi, virtual kind, USB, address).
// Parsed only from fixtures constructed from Microsoft's documentation (test/fixtures/os/windows).
import type { OsAdapter } from './interfaces.js';

/**
 * The script. Enums are turned into strings in PowerShell ([string]) because ConvertTo-Json
 * writes an enum as its number; the parser accepts both. `@()` keeps one adapter an array
 * inside the wrapper object, and the parser still accepts a lone object (what ConvertTo-Json
 * emits for a single piped item) and Windows PowerShell 5.1's {"value":[...],"Count":n}.
 */
export const WINDOWS_ADAPTERS_SCRIPT = [
  "$ErrorActionPreference='SilentlyContinue'",
  '$a=@(Get-NetAdapter -ErrorAction SilentlyContinue | Select-Object Name,InterfaceDescription,InterfaceIndex,MacAddress,' +
    "@{n='Status';e={[string]$_.Status}},@{n='MediaConnectionState';e={[string]$_.MediaConnectionState}}," +
    "PhysicalMediaType,@{n='NdisPhysicalMedium';e={[uint32]$_.NdisPhysicalMedium}},Virtual,HardwareInterface,ConnectorPresent,PnPDeviceID,LinkSpeed)",
  '$i=@(Get-NetIPAddress -AddressFamily IPv4 -ErrorAction SilentlyContinue | Select-Object InterfaceAlias,InterfaceIndex,IPAddress,PrefixLength,' +
    "@{n='PrefixOrigin';e={[string]$_.PrefixOrigin}},@{n='SuffixOrigin';e={[string]$_.SuffixOrigin}},@{n='AddressState';e={[string]$_.AddressState}})",
  '[pscustomobject]@{Adapters=$a;Addresses=$i} | ConvertTo-Json -Depth 3 -Compress',
].join('; ');

/** The command line: powershell.exe with the script (no profile, no prompt). */
export function windowsAdaptersCommand(): { file: string; args: string[] } {
  return { file: 'powershell.exe', args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', WINDOWS_ADAPTERS_SCRIPT] };
}

type Json = Record<string, unknown>;

/** ConvertTo-Json's shapes of "a list": an array, one object, nothing, or 5.1's {value, Count}. */
export function jsonList(v: unknown): Json[] {
  if (v === null || v === undefined || v === '') return [];
  if (Array.isArray(v)) return v.filter((x): x is Json => typeof x === 'object' && x !== null);
  if (typeof v === 'object') {
    const o = v as Json;
    if (Array.isArray(o.value) && 'Count' in o) return jsonList(o.value);
    return [o];
  }
  return [];
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** NDIS_PHYSICAL_MEDIUM numbers (ntddndis.h) that matter here. */
const NDIS_NATIVE_802_11 = 9;
const NDIS_WIRELESS_LAN = 1;
const NDIS_BLUETOOTH = 10;
const NDIS_802_3 = 14;

/** Media connect state: the string ("Connected") or NET_IF_MEDIA_CONNECT_STATE's number (1). */
function connected(v: unknown): boolean | undefined {
  const s = str(v).toLowerCase();
  if (s === 'connected' || s === '1') return true;
  if (s === 'disconnected' || s === '2') return false;
  return undefined;
}

/** Virtual adapters by driver description (and the vEthernet names Hyper-V, WSL and Docker give theirs). */
const VIRTUAL_DESCRIPTIONS: Array<[RegExp, string]> = [
  [/Wi-Fi Direct Virtual Adapter/i, 'Wi-Fi Direct (virtual)'],
  [/Bluetooth Device \(Personal Area Network\)|Bluetooth PAN/i, 'Bluetooth network'],
  [/VMware Virtual Ethernet Adapter/i, 'VMware network'],
  [/VirtualBox Host-Only/i, 'VirtualBox network'],
  [/TAP-Windows|TAP-Win32|OpenVPN|Wintun/i, 'VPN (TAP/TUN)'],
  [/WireGuard/i, 'VPN (WireGuard)'],
  [/AnyConnect|Cisco Secure Client|GlobalProtect|PANGP|Fortinet|FortiClient|SonicWall|Juniper|Pulse Secure|Check Point|NordLynx|Tailscale|ZeroTier|Mullvad|ProtonVPN|WAN Miniport/i, 'VPN'],
  [/Npcap Loopback|KM-TEST Loopback/i, 'loopback adapter'],
  [/Network Adapter Multiplexor/i, 'NIC team'],
];

function vEthernetKind(name: string, desc: string): string | undefined {
  if (!/Hyper-V Virtual Ethernet/i.test(desc) && !/^vEthernet \(/i.test(name)) return undefined;
  const sw = /^vEthernet \((.*)\)$/i.exec(name)?.[1] ?? '';
  if (/^WSL/i.test(sw)) return 'WSL network (Hyper-V)';
  if (/Docker|^nat$/i.test(sw)) return 'Docker network (Hyper-V)';
  if (/^Default Switch$/i.test(sw)) return 'Hyper-V Default Switch (NAT)';
  return sw ? `Hyper-V virtual switch "${sw}"` : 'Hyper-V virtual switch';
}

/** The facts of one Get-NetAdapter entry (without its address). */
export function classifyWindowsAdapter(a: Json): Omit<OsAdapter, 'ipv4'> {
  const name = str(a.Name);
  const desc = str(a.InterfaceDescription);
  const status = str(a.Status);
  const media = connected(a.MediaConnectionState);
  const linkUp = status ? status.toLowerCase() === 'up' : media ?? false;
  const mac = str(a.MacAddress).replace(/-/g, ':').toLowerCase();
  const medium = Number(a.NdisPhysicalMedium);
  const pnp = str(a.PnPDeviceID);
  const usb = /^USB\\/i.test(pnp) || /\bUSB\b/i.test(desc);
  const base = { name, mac: mac || undefined, linkUp, description: desc || undefined, status: status || undefined };
  const hyperv = vEthernetKind(name, desc);
  if (hyperv) {
    const note = /virtual switch "/.test(hyperv)
      ? `${hyperv}: if it is an External switch, it carries the wired NIC's address and is the one to serve on`
      : undefined;
    return { ...base, hardware: 'virtual', virtualKind: hyperv, note };
  }
  const byDesc = VIRTUAL_DESCRIPTIONS.find(([re]) => re.test(desc));
  if (byDesc) return { ...base, hardware: 'virtual', virtualKind: byDesc[1] };
  const wifi = medium === NDIS_NATIVE_802_11 || medium === NDIS_WIRELESS_LAN || /802\.11/.test(str(a.PhysicalMediaType)) || /Wi-?Fi|Wireless|WLAN|802\.11/i.test(desc);
  if (medium === NDIS_BLUETOOTH) return { ...base, hardware: 'virtual', virtualKind: 'Bluetooth network' };
  if (a.Virtual === true || a.HardwareInterface === false) {
    if (!wifi && medium !== NDIS_802_3 && !usb) return { ...base, hardware: 'virtual', virtualKind: 'virtual adapter' };
  }
  return { ...base, hardware: wifi ? 'wifi' : 'wired', ...(usb ? { usb: true } : {}) };
}

const isLinkLocal = (ip: string) => ip.startsWith('169.254.');

function netmaskOf(prefix: number): string {
  const bits = prefix <= 0 ? 0 : (0xffffffff << (32 - Math.min(prefix, 32))) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}

/** Get-NetAdapter + Get-NetIPAddress JSON (the script's output) into adapter facts, by adapter name. */
export function parseWindowsAdapters(json: string): OsAdapter[] {
  const text = json.trim().replace(/^\uFEFF/, '');
  if (!text) return [];
  const doc = JSON.parse(text) as unknown;
  const root = (typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? doc : {}) as Json;
  // The wrapper object, or the bare Get-NetAdapter output (array or single object).
  const adapters = 'Adapters' in root ? jsonList(root.Adapters) : jsonList(doc);
  const addresses = 'Addresses' in root ? jsonList(root.Addresses) : [];
  return adapters.map((a) => {
    const facts = classifyWindowsAdapter(a);
    const mine = addresses.filter(
      (i) => (a.InterfaceIndex !== undefined && i.InterfaceIndex === a.InterfaceIndex) || (a.InterfaceIndex === undefined && str(i.InterfaceAlias) === facts.name),
    );
    const usable = mine.filter((i) => !/^(Duplicate|Invalid|Deprecated)$/i.test(str(i.AddressState)));
    const routable = usable.find((i) => !isLinkLocal(str(i.IPAddress)));
    const chosen = routable ?? usable[0];
    const ipv4 = chosen
      ? { address: str(chosen.IPAddress), prefix: Number(chosen.PrefixLength), netmask: netmaskOf(Number(chosen.PrefixLength)) }
      : null;
    const out: OsAdapter = { ...facts, ipv4 };
    if (chosen && !routable) out.selfAssigned = true;
    if (mine.some((i) => /^Duplicate$/i.test(str(i.AddressState)))) out.note = 'Windows reports its IPv4 address as a duplicate: another machine on this network has the same address';
    return out;
  });
}
