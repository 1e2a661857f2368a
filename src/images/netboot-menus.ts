// Netboot trees (Debian's netboot.tar.gz and its kind) do not say what a machine will fetch: their
// menus do. The engine shows per-file progress, decides when a machine has been handed off, and
// names a missing file together with the menu that named it, so it has to read those menus the way
// the loaders read them: pxelinux/syslinux.efi (working directory, PATH for modules, INCLUDE /
// MENU INCLUDE / CONFIG, `initrd=` on APPEND) and GRUB (`$prefix`, `(tftp)/` devices, `set`
// variables, `source`/`configfile`, menuentry/submenu).
//
// This is a reader, not an interpreter: it follows every branch (both arms of a GRUB `if`, every
// label) so the answer is a superset of what one machine fetches, never less. Menus come from
// whatever tree a technician dropped in, so nothing here throws or trusts its input: at most 200
// configs are read, 16 levels deep, 256 KiB each; include loops and paths that climb out of the tree
// become plain-words notes instead of being followed.
//
// Paths in entries are spelled as the loader will request them (after resolving), because that is
// what a TFTP/HTTP request will carry; configs and support files are spelled as the tree holds them
// (they were found there).
import { readBytes as readTreeBytes, type ImageTree } from './tree.js';

export type MenuLoader = 'pxelinux' | 'grub';
export type MenuFileRole = 'kernel' | 'initrd' | 'program' | 'config' | 'support';

export interface MenuEntry {
  loader: MenuLoader;
  /** The menu label/title a technician sees ("Install", "Debian GNU/Linux"). */
  label: string;
  /** Titles of the submenus that hold the entry, outermost first ([] for the top menu). */
  menu: string[];
  /** Tree-relative path of the config file that names this entry. */
  source: string;
  /** Tree-relative paths as the loader will request them. */
  kernel?: string;
  initrds: string[];
  /** A program run instead of a kernel (chainloader, a COM32 module that is not a menu, a .0, memtest, memdisk). */
  program?: string;
  /** Whether it is the default entry of its menu. */
  isDefault: boolean;
}

export interface MissingFile {
  path: string;
  /** The config that named it (for ldlinux: the first config, since the loader needs it to read any). */
  from: string;
  role: MenuFileRole;
}

export interface MenuReading {
  entries: MenuEntry[];
  /** Configs read, in order, tree-relative, each once. */
  configs: string[];
  /** Files the loader itself loads for the menu (menu modules and their libraries, ldlinux, fonts, backgrounds). */
  support: string[];
  /** Files named by a menu that the tree does not hold. */
  missing: MissingFile[];
  /** Plain-words problems. */
  notes: string[];
}

export interface SyslinuxMenuOptions {
  /** The directory the loader was loaded from (tree-relative, '' for the root): its working directory. */
  baseDir: string;
  /** Config files to start from, each read if present, into one menu (as ldlinux does with several). */
  configs: string[];
  /** Which ldlinux the loader needs: ldlinux.c32 (BIOS pxelinux.0, the default), ldlinux.e64, ldlinux.e32. */
  firmware?: 'bios' | 'efi64' | 'efi32';
}

export interface GrubMenuOptions {
  /** GRUB's prefix directory, tree-relative ('grub', 'debian-installer/amd64/grub'). */
  prefix: string;
  /** More configs to read after `<prefix>/grub.cfg` (tree-relative). */
  configs?: string[];
  /** Configs to read instead of `<prefix>/grub.cfg`: a machine's own grub.cfg-01-<mac>, which GRUB reads alone when it exists. */
  start?: string[];
}

export const MENU_LIMITS = { configs: 200, depth: 16, configBytes: 256 * 1024, moduleBytes: 2 * 1024 * 1024, entries: 5000 } as const;

// ---------------------------------------------------------------------------------------------
// Shared: collecting a reading, paths, bounded reads

class Collector {
  readonly reading: MenuReading = { entries: [], configs: [], support: [], missing: [], notes: [] };
  reads = 0;
  private readonly seenConfigs = new Set<string>();
  private readonly seenSupport = new Set<string>();
  private readonly seenMissing = new Set<string>();
  private readonly seenNotes = new Set<string>();
  private readonly statCache = new Map<string, Promise<string | undefined>>();
  constructor(readonly tree: ImageTree) {}

  entry(e: MenuEntry): void {
    if (this.reading.entries.length < MENU_LIMITS.entries) this.reading.entries.push(e);
    else this.note(`more than ${MENU_LIMITS.entries} menu entries: the rest are left out`);
  }
  /** Whether a config has been read already (menus that hand back to one another are navigation, not loops). */
  wasRead(path: string): boolean {
    return this.seenConfigs.has(path.toLowerCase());
  }
  note(text: string): void {
    if (this.seenNotes.has(text)) return;
    this.seenNotes.add(text);
    this.reading.notes.push(text);
  }
  missing(path: string, from: string, role: MenuFileRole): void {
    const k = `${role}\0${path.toLowerCase()}\0${from}`;
    if (this.seenMissing.has(k)) return;
    this.seenMissing.add(k);
    this.reading.missing.push({ path, from, role });
  }
  support(path: string): void {
    if (this.seenSupport.has(path.toLowerCase())) return;
    this.seenSupport.add(path.toLowerCase());
    this.reading.support.push(path);
  }
  /** The tree's spelling of a file, or undefined. */
  file(path: string): Promise<string | undefined> {
    let p = this.statCache.get(path.toLowerCase());
    if (!p) {
      p = this.tree.stat(path).then(
        (st) => (st?.type === 'file' ? st.path : undefined),
        () => undefined,
      );
      this.statCache.set(path.toLowerCase(), p);
    }
    return p;
  }
  /** Records a file the menu needs; reports it missing when the tree lacks it. */
  async need(path: string | undefined, from: string, role: MenuFileRole): Promise<void> {
    if (path === undefined) return;
    if (!(await this.file(path))) this.missing(path, from, role);
  }
  /** Adds a support file when the tree holds it (optional files: backgrounds, help screens). */
  async supportIfPresent(path: string | undefined): Promise<void> {
    if (path === undefined) return;
    const real = await this.file(path);
    if (real) this.support(real);
  }
  /**
   * Reads a config within the bounds. `stack` is the chain of configs including this one (loops);
   * undefined = not read (a note or a missing file was recorded).
   */
  async readConfig(path: string, from: string | undefined, stack: string[]): Promise<{ text: string; real: string } | undefined> {
    const real = await this.file(path);
    if (!real) {
      if (from !== undefined) this.missing(path, from, 'config');
      return undefined;
    }
    if (stack.some((s) => s.toLowerCase() === real.toLowerCase())) {
      this.note(`${from ?? real} includes ${real}, which is already being read (an include loop): not followed`);
      return undefined;
    }
    if (stack.length >= MENU_LIMITS.depth) {
      this.note(`${from ?? real} includes ${real} deeper than ${MENU_LIMITS.depth} levels: not followed`);
      return undefined;
    }
    if (this.reads >= MENU_LIMITS.configs) {
      this.note(`more than ${MENU_LIMITS.configs} menu configs: ${real} and later ones were not read`);
      return undefined;
    }
    let size = 0;
    try {
      size = (await this.tree.stat(real))?.size ?? 0;
    } catch {
      /* read below reports */
    }
    if (size > MENU_LIMITS.configBytes) {
      this.note(`${real} is ${size} bytes, more than a menu config may be (${MENU_LIMITS.configBytes}): not read`);
      return undefined;
    }
    this.reads++;
    const buf = await readBytes(this.tree, real, MENU_LIMITS.configBytes);
    if (!buf) {
      this.note(`${real} could not be read`);
      return undefined;
    }
    if (!this.seenConfigs.has(real.toLowerCase())) {
      this.seenConfigs.add(real.toLowerCase());
      this.reading.configs.push(real);
    }
    return { text: buf.toString('utf8'), real };
  }
}

/** A file's bytes, or undefined when it is missing, too big or cannot be read (a menu never throws). */
async function readBytes(tree: ImageTree, path: string, max: number): Promise<Buffer | undefined> {
  return readTreeBytes(tree, path, max).catch(() => undefined);
}

/**
 * `name` against `dir` (both tree-relative, '/'-separated): '.' collapsed, '..' followed inside the
 * tree; undefined (and a note) when it climbs out. `absolute` names start at the tree root.
 */
function joinTree(c: Collector, dir: string, name: string, absolute: boolean, from: string): string | undefined {
  const segs = absolute ? [] : dir.split('/').filter((s) => s && s !== '.');
  for (const s of name.split('/')) {
    if (!s || s === '.') continue;
    if (s === '..') {
      if (!segs.length) {
        c.note(`${from} names ${name}, which leaves the tree: not followed`);
        return undefined;
      }
      segs.pop();
    } else segs.push(s);
  }
  if (!segs.length) return undefined;
  return segs.join('/');
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function ext(path: string): string {
  const b = baseName(path).toLowerCase();
  const i = b.lastIndexOf('.');
  return i < 0 ? '' : b.slice(i);
}

const MEMTEST = /memtest|mt86/i;

// ---------------------------------------------------------------------------------------------
// pxelinux / syslinux.efi

type KType = 'kernel' | 'linux' | 'boot' | 'bss' | 'pxe' | 'fdimage' | 'comboot' | 'com32' | 'config' | 'localboot';
const KERNEL_KEYWORDS: KType[] = ['localboot', 'kernel', 'linux', 'boot', 'bss', 'pxe', 'fdimage', 'comboot', 'com32', 'config'];
const MENU_MODULES = new Set(['vesamenu.c32', 'menu.c32']);
/** Where the core looks for ldlinux when it is not in the loader's directory (core/elflink/load_env32.c). */
const LDLINUX_DIRS = ['boot/isolinux', 'isolinux', 'boot/syslinux', 'syslinux', ''];

interface SlMenu {
  names: string[];
  labels: SlLabel[];
  parent?: SlMenu;
}

interface SlLabel {
  name: string;
  display?: string;
  /** The KERNEL-ish line's value; the label's name when it has none (syslinux boots a file of that name). */
  kernel: string;
  type: KType;
  append?: string;
  initrd?: string;
  menuDefault: boolean;
  /** menu exit/goto/quit: navigation, no boot. */
  nav: boolean;
  menu: SlMenu;
  cwd: string;
  source: string;
}

interface SlSession {
  cwd: string;
  path: string[];
  append?: string;
  defaultCmd?: string;
  defaultFrom?: string;
  ui?: string;
  uiFrom?: string;
  ontimeout?: string;
  root: SlMenu;
  cur: SlMenu;
  labels: SlLabel[];
  ld?: SlLabel;
  first?: string;
}

/** The rest of `line` after keyword `kw` (case-insensitive, followed by blank or end), or undefined. */
function kw(line: string, word: string): string | undefined {
  if (line.length < word.length || line.slice(0, word.length).toLowerCase() !== word) return undefined;
  const next = line[word.length];
  if (next !== undefined && next !== ' ' && next !== '\t') return undefined;
  return line.slice(word.length).trim();
}

function firstWord(s: string): [string, string] {
  const t = s.trim();
  const m = /^(\S+)\s*(.*)$/s.exec(t);
  return m ? [m[1]!, m[2]!] : ['', ''];
}

class Syslinux {
  private readonly elfModules = new Set<string>();
  private sawElf = false;
  constructor(
    readonly c: Collector,
    readonly o: SyslinuxMenuOptions,
  ) {}

  /** A pxelinux file name against the working directory: '/' and '::' start at the TFTP root. */
  resolve(cwd: string, name: string, from: string): string | undefined {
    let n = name.replace(/\\/g, '/');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(n)) {
      const m = /^tftp:\/\/[^/]*\/(.*)$/i.exec(n);
      if (!m) {
        this.c.note(`${from} names ${name}, a URL outside the tree: not checked`);
        return undefined;
      }
      return joinTree(this.c, '', m[1]!, true, from);
    }
    const dc = n.indexOf('::');
    if (dc >= 0) return joinTree(this.c, '', n.slice(dc + 2), true, from);
    const abs = n.startsWith('/');
    if (abs) n = n.replace(/^\/+/, '');
    return joinTree(this.c, cwd, n, abs, from);
  }

  /** A module: as named against the working directory, then along PATH (the loader's directory first). */
  async findModule(s: { cwd: string; path: string[] }, name: string, from: string): Promise<string | undefined> {
    const n = name.replace(/\\/g, '/');
    const direct = this.resolve(s.cwd, n, from);
    if (n.includes('/') || n.includes('::') || direct === undefined) return direct;
    if (await this.c.file(direct)) return direct;
    for (const dir of [this.o.baseDir, ...s.path]) {
      const p = joinTree(this.c, dir, n, false, from);
      if (p && (await this.c.file(p))) return p;
    }
    return direct;
  }

  /** Support module plus the libraries its ELF header asks for (syslinux 5+ modules are ELF shared objects). */
  async supportModule(s: { cwd: string; path: string[] }, path: string | undefined, from: string): Promise<void> {
    if (!path) return;
    const real = await this.c.file(path);
    if (!real) {
      this.c.missing(path, from, 'support');
      return;
    }
    this.c.support(real);
    await this.moduleDeps(s, real, from);
  }

  async moduleDeps(s: { cwd: string; path: string[] }, real: string, from: string): Promise<void> {
    if (this.elfModules.has(real.toLowerCase())) return;
    this.elfModules.add(real.toLowerCase());
    const buf = await readBytes(this.c.tree, real, MENU_LIMITS.moduleBytes);
    const needed = buf ? elfNeeded(buf) : undefined;
    if (!needed) return;
    this.sawElf = true;
    for (const lib of needed) {
      const p = await this.findModule({ cwd: s.cwd, path: s.path }, lib, from);
      await this.supportModule(s, p, from);
    }
  }

  newSession(cwd: string): SlSession {
    const root: SlMenu = { names: [], labels: [] };
    return { cwd, path: [], root, cur: root, labels: [] };
  }

  async run(): Promise<void> {
    const s = this.newSession(this.o.baseDir);
    let any = false;
    for (const cfg of this.o.configs) {
      const p = this.resolve(this.o.baseDir, cfg, cfg);
      if (!p || !(await this.c.file(p))) continue;
      any = true;
      await this.parse(s, p, undefined, []);
    }
    if (!any) this.c.note(`none of the pxelinux configs (${this.o.configs.join(', ') || 'none given'}) is in the tree`);
    await this.finish(s);
    await this.ldlinux(s);
  }

  private async ldlinux(s: SlSession): Promise<void> {
    const fw = this.o.firmware ?? 'bios';
    const name = fw === 'efi64' ? 'ldlinux.e64' : fw === 'efi32' ? 'ldlinux.e32' : 'ldlinux.c32';
    for (const dir of [this.o.baseDir, ...LDLINUX_DIRS]) {
      const p = dir ? `${dir}/${name}` : name;
      const real = await this.c.file(p);
      if (real) {
        this.c.support(real);
        return;
      }
    }
    // pxelinux.0 before 5.00 has no ldlinux; its modules are not ELF. syslinux.efi always needs one.
    if (fw !== 'bios' || this.sawElf) {
      const p = this.o.baseDir ? `${this.o.baseDir}/${name}` : name;
      this.c.missing(p, s.first ?? this.o.configs[0] ?? '', 'support');
    }
  }

  private record(s: SlSession): void {
    if (s.ld) s.labels.push(s.ld);
    s.ld = undefined;
  }

  private async parse(s: SlSession, path: string, from: string | undefined, stack: string[]): Promise<void> {
    const got = await this.c.readConfig(path, from, stack);
    if (!got) return;
    const src = got.real;
    s.first ??= src;
    const inner = [...stack, src];
    const lines = got.text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/\r$/, '').trim();
      if (!line || line.startsWith('#')) continue;
      let r: string | undefined;
      if ((r = kw(line, 'menu')) !== undefined) {
        await this.menuLine(s, r, src, inner);
      } else if ((r = kw(line, 'text')) !== undefined) {
        while (i + 1 < lines.length && kw(lines[i + 1]!.trim(), 'endtext') === undefined) i++;
        i++;
      } else if ((r = kw(line, 'include')) !== undefined) {
        const [file] = firstWord(r);
        const p = file ? this.resolve(s.cwd, file, src) : undefined;
        if (p) await this.parse(s, p, src, inner);
      } else if ((r = kw(line, 'append')) !== undefined) {
        if (s.ld) s.ld.append = r;
        else s.append = r;
      } else if ((r = kw(line, 'initrd')) !== undefined) {
        if (s.ld) s.ld.initrd = r;
      } else if ((r = kw(line, 'label')) !== undefined) {
        this.record(s);
        const [name] = firstWord(r);
        s.ld = { name, kernel: name, type: 'kernel', menuDefault: false, nav: false, menu: s.cur, cwd: s.cwd, source: src };
      } else if ((r = kw(line, 'default')) !== undefined) {
        s.defaultCmd = r;
        s.defaultFrom = src;
      } else if ((r = kw(line, 'ui')) !== undefined) {
        s.ui = r;
        s.uiFrom = src;
      } else if ((r = kw(line, 'ontimeout')) !== undefined) {
        s.ontimeout = r;
      } else if ((r = kw(line, 'path')) !== undefined) {
        for (const d of r.split(':').map((x) => x.trim()).filter(Boolean)) {
          const p = d === '/' ? '' : this.resolve(s.cwd, d, src);
          if (p !== undefined) s.path.push(p);
        }
      } else if (/^f(1[0-2]?|[2-9])\s/i.test(line) || kw(line, 'display') !== undefined || kw(line, 'font') !== undefined || kw(line, 'kbdmap') !== undefined) {
        const [, rest] = firstWord(line);
        const [file] = firstWord(rest);
        if (file) await this.c.supportIfPresent(this.resolve(s.cwd, file, src));
      } else {
        for (const t of KERNEL_KEYWORDS) {
          if ((r = kw(line, t)) === undefined) continue;
          if (s.ld) {
            s.ld.kernel = r;
            s.ld.type = t;
          }
          break;
        }
      }
    }
  }

  private async menuLine(s: SlSession, rest: string, src: string, inner: string[]): Promise<void> {
    let r: string | undefined;
    if ((r = kw(rest, 'label')) !== undefined) {
      if (s.ld) s.ld.display = r;
      else if (s.cur.parent) s.cur.names[s.cur.names.length - 1] = r.replace(/\^/g, '').trim();
    } else if (kw(rest, 'default') !== undefined) {
      if (s.ld) s.ld.menuDefault = true;
    } else if ((r = kw(rest, 'include')) !== undefined) {
      const [file, tag] = firstWord(r);
      const p = file ? this.resolve(s.cwd, file, src) : undefined;
      if (!p) return;
      if (tag) this.begin(s, tag);
      await this.parse(s, p, src, inner);
      if (tag) this.end(s);
    } else if ((r = kw(rest, 'begin')) !== undefined) {
      this.begin(s, r);
    } else if (kw(rest, 'end') !== undefined) {
      this.end(s);
    } else if (kw(rest, 'exit') !== undefined || kw(rest, 'goto') !== undefined || kw(rest, 'quit') !== undefined) {
      if (s.ld) s.ld.nav = true;
    } else if ((r = kw(rest, 'background')) !== undefined) {
      const [file] = firstWord(r);
      if (file && !file.startsWith('#')) await this.c.supportIfPresent(this.resolve(s.cwd, file, src));
    }
  }

  private begin(s: SlSession, tag: string): void {
    this.record(s);
    const m: SlMenu = { names: [...s.cur.names, tag.replace(/\^/g, '').trim()], labels: [], parent: s.cur };
    s.cur = m;
  }

  private end(s: SlSession): void {
    this.record(s);
    s.cur = s.cur.parent ?? s.cur;
  }

  /** Turns what a session read into entries; reads the configs its menus hand over to. */
  private async finish(s: SlSession): Promise<void> {
    this.record(s);
    const from = s.first ?? '';
    let menuMode = false;
    const later: { path: string; cwd: string; from: string }[] = [];
    const menuModule = async (cmd: string, at: string, cwd: string): Promise<boolean> => {
      const [mod, args] = firstWord(cmd);
      if (!MENU_MODULES.has(baseName(mod).toLowerCase())) return false;
      await this.supportModule(s, await this.findModule(s, mod, at), at);
      // Arguments of menu.c32/vesamenu.c32 are the config files it reads instead.
      for (const f of args.split(/\s+/).filter(Boolean)) {
        const p = this.resolve(cwd, f, at);
        if (p) later.push({ path: p, cwd, from: at });
      }
      return true;
    };
    if (s.ui) {
      menuMode = true;
      if (!(await menuModule(s.ui, s.uiFrom ?? from, s.cwd))) {
        const [mod] = firstWord(s.ui);
        await this.supportModule(s, await this.findModule(s, /\.[^/]*$/.test(mod) ? mod : `${mod}.c32`, s.uiFrom ?? from), s.uiFrom ?? from);
      }
    }
    const byName = (n: string) => s.labels.find((l) => l.name === n);
    const defName = s.defaultCmd ? firstWord(s.defaultCmd)[0] : undefined;
    let defLabel = defName !== undefined ? byName(defName) : undefined;
    if (s.defaultCmd && !defLabel && !s.ui) {
      // Old style: DEFAULT names a command, not a label (DEFAULT vesamenu.c32, DEFAULT vmlinuz ...).
      if (await menuModule(s.defaultCmd, s.defaultFrom ?? from, s.cwd)) menuMode = true;
      else {
        const [k, args] = firstWord(s.defaultCmd);
        const synthetic: SlLabel = { name: k, kernel: `${k} ${args}`.trim(), type: 'kernel', menuDefault: true, nav: false, menu: s.root, cwd: s.cwd, source: s.defaultFrom ?? from };
        s.labels.unshift(synthetic);
        defLabel = synthetic;
      }
    }
    if (!defLabel && s.ontimeout) defLabel = byName(firstWord(s.ontimeout)[0]);
    for (const l of s.labels) l.menu.labels.push(l);
    const defaults = new Set<SlLabel>();
    const menus = new Set(s.labels.map((l) => l.menu));
    for (const m of menus) {
      const bootable = m.labels.filter((l) => !l.nav);
      const d = defLabel && defLabel.menu === m ? defLabel : [...bootable].reverse().find((l) => l.menuDefault) ?? (menuMode ? bootable[0] : undefined);
      if (d) defaults.add(d);
    }
    for (const l of s.labels) {
      if (l.nav) continue;
      await this.entry(s, l, defaults.has(l), later);
    }
    for (const cfg of later) {
      if (this.c.wasRead(cfg.path)) continue;
      const sub = this.newSession(cfg.cwd);
      await this.parse(sub, cfg.path, cfg.from, []);
      await this.finish(sub);
    }
  }

  private async entry(s: SlSession, l: SlLabel, isDefault: boolean, later: { path: string; cwd: string; from: string }[]): Promise<void> {
    const [file, kargs] = firstWord(l.kernel);
    const src = l.source;
    let type = l.type;
    if (type === 'config') {
      // CONFIG file [dir]: the label restarts the loader on another config (and working directory).
      const p = this.resolve(l.cwd, file, src);
      const dir = kargs ? this.resolve(l.cwd, firstWord(kargs)[0], src) : undefined;
      if (p && !this.c.wasRead(p)) later.push({ path: p, cwd: dir ?? l.cwd, from: src });
      else if (p) await this.c.need(p, src, 'config');
      return;
    }
    const e: MenuEntry = { loader: 'pxelinux', label: (l.display ?? l.name).replace(/\^/g, '').trim() || l.name, menu: l.menu.names, source: src, initrds: [], isDefault };
    if (type === 'localboot') {
      this.c.entry(e);
      return;
    }
    if (!file) return;
    if (type === 'kernel') {
      const x = ext(file);
      type = x === '.c32' ? 'com32' : x === '.cbt' || x === '.com' ? 'comboot' : x === '.img' ? 'fdimage' : x === '.bss' ? 'bss' : x === '.bin' || x === '.bs' ? 'boot' : x === '.0' ? 'pxe' : 'linux';
    }
    const s2 = { cwd: l.cwd, path: s.path };
    if (type === 'com32') {
      const name = ext(file) ? file : `${file}.c32`;
      if (MENU_MODULES.has(baseName(name).toLowerCase())) {
        // A label that opens another menu: navigation; its arguments are configs.
        const [, a] = firstWord(`${name} ${kargs} ${l.append && l.append !== '-' ? l.append : ''}`);
        await this.supportModule(s2, await this.findModule(s2, name, src), src);
        for (const f of a.split(/\s+/).filter(Boolean)) {
          const p = this.resolve(l.cwd, f, src);
          if (p && !this.c.wasRead(p)) later.push({ path: p, cwd: l.cwd, from: src });
        }
        return;
      }
      e.program = await this.findModule(s2, name, src);
      await this.c.need(e.program, src, 'program');
      const real = e.program ? await this.c.file(e.program) : undefined;
      if (real) await this.moduleDeps(s2, real, src);
      this.c.entry(e);
      return;
    }
    const path = this.resolve(l.cwd, file, src);
    if (type !== 'linux') {
      e.program = path;
      await this.c.need(path, src, 'program');
      this.c.entry(e);
      return;
    }
    // Linux kernel: the first initrd= on the command line (the INITRD keyword is appended after APPEND), comma separated.
    const append = l.append ?? s.append;
    const cmdline = `${kargs} ${append && append !== '-' ? append : ''}${l.initrd ? ` initrd=${l.initrd}` : ''}`;
    const m = /(?:^|\s)initrd=(\S*)/.exec(cmdline);
    for (const f of m ? m[1]!.split(',').filter(Boolean) : []) {
      const p = this.resolve(l.cwd, f, src);
      if (!p) continue;
      e.initrds.push(p);
      await this.c.need(p, src, 'initrd');
    }
    const b = baseName(file).toLowerCase();
    // ldlinux loads any other name as a Linux kernel; an .efi that is not named like one (vmlinuz.efi)
    // is an EFI program someone pointed KERNEL at.
    if (MEMTEST.test(b) || b === 'memdisk' || (ext(b) === '.efi' && !/vmlinu|linux|kernel|bzimage/.test(b))) {
      e.program = path;
      await this.c.need(path, src, 'program');
    } else {
      e.kernel = path;
      await this.c.need(path, src, 'kernel');
    }
    this.c.entry(e);
  }
}

/** DT_NEEDED names of an ELF shared object (32- or 64-bit, little endian), or undefined if not ELF. */
export function elfNeeded(buf: Buffer): string[] | undefined {
  try {
    if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[5] !== 1) return undefined;
    const is64 = buf[4] === 2;
    const shoff = is64 ? Number(buf.readBigUInt64LE(0x28)) : buf.readUInt32LE(0x20);
    const shentsize = buf.readUInt16LE(is64 ? 0x3a : 0x2e);
    const shnum = buf.readUInt16LE(is64 ? 0x3c : 0x30);
    if (!shoff || shnum > 4096 || shentsize < (is64 ? 64 : 40)) return [];
    const sec = (i: number) => {
      const o = shoff + i * shentsize;
      if (o + shentsize > buf.length) return undefined;
      return is64
        ? { type: buf.readUInt32LE(o + 4), off: Number(buf.readBigUInt64LE(o + 24)), size: Number(buf.readBigUInt64LE(o + 32)), link: buf.readUInt32LE(o + 40) }
        : { type: buf.readUInt32LE(o + 4), off: buf.readUInt32LE(o + 16), size: buf.readUInt32LE(o + 20), link: buf.readUInt32LE(o + 24) };
    };
    const out: string[] = [];
    for (let i = 0; i < shnum; i++) {
      const d = sec(i);
      if (!d || d.type !== 6 /* SHT_DYNAMIC */) continue;
      const str = sec(d.link);
      if (!str) continue;
      const step = is64 ? 16 : 8;
      for (let o = d.off; o + step <= Math.min(buf.length, d.off + d.size); o += step) {
        const tag = is64 ? Number(buf.readBigInt64LE(o)) : buf.readInt32LE(o);
        if (tag === 0) break;
        if (tag !== 1 /* DT_NEEDED */) continue;
        const at = str.off + (is64 ? Number(buf.readBigUInt64LE(o + 8)) : buf.readUInt32LE(o + 4));
        if (at >= buf.length) continue;
        const end = buf.indexOf(0, at);
        const name = buf.subarray(at, end < 0 ? Math.min(buf.length, at + 256) : end).toString('latin1');
        if (name && out.length < 64) out.push(name);
      }
    }
    return out;
  } catch {
    return undefined;
  }
}

export async function readSyslinuxMenus(tree: ImageTree, o: SyslinuxMenuOptions): Promise<MenuReading> {
  const c = new Collector(tree);
  try {
    await new Syslinux(c, o).run();
  } catch (e) {
    c.note(`reading the pxelinux menus stopped: ${(e as Error).message}`);
  }
  return c.reading;
}

// ---------------------------------------------------------------------------------------------
// GRUB

type Part = { lit: string } | { v: string };
type Word = Part[];
interface GCmd {
  words: Word[];
  block?: GCmd[];
}

/** GRUB script text → commands with `{ }` blocks. Quotes, `$var`/`${var}`, `#` comments, `\` escapes and continuations. */
function grubParse(text: string): GCmd[] {
  type Tok = { t: 'w'; w: Word } | { t: 'sep' } | { t: '{' } | { t: '}' };
  const toks: Tok[] = [];
  let i = 0;
  let w: Word | undefined;
  const lit = (s: string) => {
    w ??= [];
    const last = w[w.length - 1];
    if (last && 'lit' in last) last.lit += s;
    else w.push({ lit: s });
  };
  const flush = () => {
    if (w) toks.push({ t: 'w', w });
    w = undefined;
  };
  const variable = () => {
    // at '$'
    if (text[i + 1] === '{') {
      const e = text.indexOf('}', i + 2);
      if (e < 0) {
        lit('$');
        i++;
        return;
      }
      w ??= [];
      w.push({ v: text.slice(i + 2, e) });
      i = e + 1;
      return;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9?#@*]/.exec(text.slice(i + 1, i + 65));
    if (!m) {
      lit('$');
      i++;
      return;
    }
    w ??= [];
    w.push({ v: m[0] });
    i += 1 + m[0].length;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\') {
      if (text[i + 1] === '\n') i += 2;
      else if (text[i + 1] === '\r' && text[i + 2] === '\n') i += 3;
      else {
        lit(text[i + 1] ?? '');
        i += 2;
      }
    } else if (ch === ' ' || ch === '\t' || ch === '\r') {
      flush();
      i++;
    } else if (ch === '\n' || ch === ';') {
      flush();
      toks.push({ t: 'sep' });
      i++;
    } else if (ch === '#' && !w) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ((ch === '{' || ch === '}') && !w && /^[\s;]?$/.test(text[i + 1] ?? '')) {
      toks.push({ t: ch });
      i++;
    } else if (ch === "'") {
      const e = text.indexOf("'", i + 1);
      const end = e < 0 ? text.length : e;
      lit(text.slice(i + 1, end));
      i = end + 1;
    } else if (ch === '"') {
      lit('');
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) {
          if (text[i + 1] !== '\n') lit('$"\\'.includes(text[i + 1]!) ? text[i + 1]! : `\\${text[i + 1]}`);
          i += 2;
        } else if (text[i] === '$') variable();
        else {
          lit(text[i]!);
          i++;
        }
      }
      i++;
    } else if (ch === '$') {
      variable();
    } else {
      lit(ch);
      i++;
    }
  }
  flush();
  let p = 0;
  const block = (depth: number): GCmd[] => {
    const out: GCmd[] = [];
    let words: Word[] = [];
    const end = () => {
      if (words.length) out.push({ words });
      words = [];
    };
    while (p < toks.length) {
      const t = toks[p++]!;
      if (t.t === 'w') words.push(t.w);
      else if (t.t === 'sep') end();
      else if (t.t === '{') {
        const cmd: GCmd = { words, block: depth < 64 ? block(depth + 1) : [] };
        out.push(cmd);
        words = [];
      } else {
        end();
        if (depth > 0) return out;
      }
    }
    end();
    return out;
  };
  return block(0);
}

const SKIP_KEYWORDS = new Set(['if', 'elif', 'then', 'else', 'fi', 'while', 'until', 'do', 'done', '!']);

interface GMenu {
  names: string[];
  items: GItem[];
}
type GItem = { kind: 'entry'; title: string; id?: string; body: GCmd[]; vars: Map<string, string>; source: string } | { kind: 'submenu'; title: string; id?: string; body: GCmd[]; vars: Map<string, string>; source: string };

class Grub {
  constructor(
    readonly c: Collector,
    readonly o: GrubMenuOptions,
  ) {}

  async run(): Promise<void> {
    const prefix = this.o.prefix.replace(/^\/+|\/+$/g, '');
    const vars = new Map<string, string>([
      ['prefix', `(tftp)/${prefix}`],
      ['root', 'tftp'],
      ['grub_platform', 'efi'],
    ]);
    const first = prefix ? `${prefix}/grub.cfg` : 'grub.cfg';
    if (!this.o.start && !(await this.c.file(first))) this.c.note(`GRUB's prefix ${prefix || '(tree root)'} holds no grub.cfg: GRUB would stop at its prompt`);
    for (const cfg of this.o.start ?? [first, ...(this.o.configs ?? [])]) {
      const p = joinTree(this.c, '', cfg.replace(/^\/+/, ''), true, cfg);
      if (!p || !(await this.c.file(p))) continue;
      await this.configfile(p, undefined, [], new Map(vars), []);
    }
  }

  /** A config read as its own menu (the first one, `configfile`, `normal`). */
  private async configfile(path: string, from: string | undefined, stack: string[], vars: Map<string, string>, names: string[]): Promise<void> {
    const menu: GMenu = { names, items: [] };
    const got = await this.c.readConfig(path, from, stack);
    if (!got) return;
    const implicit = await this.exec(grubParse(got.text), vars, menu, got.real, [...stack, got.real]);
    await this.finishMenu(menu, vars, [...stack, got.real]);
    if (implicit) this.c.entry(implicit);
  }

  private expand(w: Word, vars: Map<string, string>): string {
    return w.map((p) => ('lit' in p ? p.lit : (vars.get(p.v) ?? ''))).join('');
  }

  /** A GRUB file name → tree path; undefined (with a note) when it is on a disk, not the network. */
  path(raw: string, vars: Map<string, string>, from: string): string | undefined {
    let dev: string | undefined;
    let rest = raw;
    if (raw.startsWith('(')) {
      const e = raw.indexOf(')');
      if (e < 0) return undefined;
      dev = raw.slice(1, e);
      rest = raw.slice(e + 1);
    } else dev = (vars.get('root') ?? '').replace(/^\(|\)$/g, '');
    if (!/^(tftp|http|https|pxe)(,|:|$)/i.test(dev)) {
      this.c.note(`${from} names ${raw} on ${dev ? `(${dev})` : 'a device GRUB has to search for'}, not on the network: not checked`);
      return undefined;
    }
    return joinTree(this.c, '', rest.replace(/\\/g, '/'), true, from);
  }

  /**
   * Runs top-level commands of a config (or a sourced file) into `menu`. Returns an implicit entry
   * when the config boots something outside any menuentry.
   */
  private async exec(cmds: GCmd[], vars: Map<string, string>, menu: GMenu, src: string, stack: string[], entry?: MenuEntry): Promise<MenuEntry | undefined> {
    let implicit: MenuEntry | undefined = entry;
    for (const cmd of cmds) {
      let words = cmd.words.map((w) => this.expand(w, vars));
      while (words.length && SKIP_KEYWORDS.has(words[0]!)) words = words.slice(1);
      const [name, ...args] = words;
      if (!name) continue;
      if (name === 'function' || name === 'for') continue; // bodies are only run when called/iterated
      if (name === 'menuentry' || name === 'submenu') {
        if (!cmd.block) continue;
        const { title, id } = titleOf(args);
        menu.items.push({ kind: name === 'menuentry' ? 'entry' : 'submenu', title, id, body: cmd.block, vars, source: src });
        continue;
      }
      if (cmd.block) continue;
      const target = (): MenuEntry => (implicit ??= { loader: 'grub', label: src, menu: menu.names, source: src, initrds: [], isDefault: true });
      const files = args.filter((a) => !a.startsWith('--'));
      switch (name) {
        case 'set': {
          const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(args.filter((a) => !a.startsWith('-')).join(' '));
          if (m) vars.set(m[1]!, m[2]!);
          if (m?.[1] === 'theme') await this.c.supportIfPresent(this.path(m[2]!, vars, src));
          break;
        }
        case 'unset':
          for (const a of args) vars.delete(a);
          break;
        case 'search':
        case 'search.file':
        case 'search.fs_uuid':
        case 'search.fs_label': {
          const i = args.findIndex((a) => a.startsWith('--set'));
          if (i >= 0) vars.set(args[i]!.includes('=') ? args[i]!.slice(args[i]!.indexOf('=') + 1) : (args[i + 1] && !args[i + 1]!.startsWith('-') ? args[i + 1]! : 'root'), '');
          break;
        }
        case 'source': {
          const p = files[0] ? this.path(files[0], vars, src) : undefined;
          if (!p) break;
          const got = await this.c.readConfig(p, src, stack);
          if (got) implicit = await this.exec(grubParse(got.text), vars, menu, got.real, [...stack, got.real], implicit);
          break;
        }
        case 'configfile':
        case 'normal': {
          const p = files[0] ? this.path(files[0], vars, src) : undefined;
          if (p && !this.c.wasRead(p)) await this.configfile(p, src, stack, new Map(vars), menu.names);
          else if (p) await this.c.need(p, src, 'config');
          break;
        }
        case 'loadfont':
          for (const f of files) {
            await this.c.supportIfPresent(this.path(f.includes('/') || f.includes(')') ? f : `${vars.get('prefix') ?? ''}/fonts/${f}.pf2`, vars, src));
          }
          break;
        case 'background_image':
          if (files[0]) await this.c.supportIfPresent(this.path(files[0], vars, src));
          break;
        case 'linux':
        case 'linuxefi':
        case 'linux16':
        case 'kernel':
        case 'multiboot':
        case 'multiboot2': {
          const p = files[0] ? this.path(files[0], vars, src) : undefined;
          if (!p) break;
          const e = target();
          if (MEMTEST.test(baseName(p))) {
            e.program = p;
            await this.c.need(p, src, 'program');
          } else {
            e.kernel = p;
            await this.c.need(p, src, 'kernel');
          }
          break;
        }
        case 'initrd':
        case 'initrdefi':
        case 'initrd16':
        case 'module':
        case 'module2': {
          const list = name.startsWith('module') ? files.slice(0, 1) : files;
          for (const f of list) {
            const p = this.path(f.replace(/^newc:[^:]*:/, ''), vars, src);
            if (!p) continue;
            target().initrds.push(p);
            await this.c.need(p, src, 'initrd');
          }
          break;
        }
        case 'chainloader': {
          const p = files[0] ? this.path(files[0], vars, src) : undefined;
          if (!p) break;
          target().program = p;
          await this.c.need(p, src, 'program');
          break;
        }
        default:
          break;
      }
    }
    return implicit;
  }

  /** Runs the menu's entries and submenus (GRUB runs a body when it is chosen: with the variables as the menu left them). */
  private async finishMenu(menu: GMenu, vars: Map<string, string>, stack: string[]): Promise<void> {
    const def = defaultIndex(menu.items, vars.get('default') ?? '0');
    for (let i = 0; i < menu.items.length; i++) {
      const it = menu.items[i]!;
      const v = new Map(it.vars);
      if (it.kind === 'entry') {
        const e: MenuEntry = { loader: 'grub', label: it.title, menu: menu.names, source: it.source, initrds: [], isDefault: i === def.index && def.path.length === 0 };
        this.c.entry(e);
        // Menu entries defined inside an entry make the menu shown after it is chosen.
        const inner: GMenu = { names: [...menu.names, it.title], items: [] };
        await this.exec(it.body, v, inner, it.source, stack, e);
        await this.finishMenu(inner, v, stack);
      } else {
        const sub: GMenu = { names: [...menu.names, it.title], items: [] };
        v.delete('default');
        await this.exec(it.body, v, sub, it.source, stack);
        if (i === def.index && def.path.length) v.set('default', def.path.join('>'));
        await this.finishMenu(sub, v, stack);
      }
    }
  }
}

function titleOf(args: string[]): { title: string; id?: string } {
  let title: string | undefined;
  let id: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const takes = ['--class', '--users', '--hotkey', '--id', '--source'].includes(k);
      const val = v ?? (takes ? args[++i] : undefined);
      if (k === '--id') id = val;
    } else if (title === undefined) title = a;
  }
  return { title: title ?? '', id };
}

/** `default` (a number, a title, an id, or "a>b" into submenus) → the item index here and the rest of the path. */
function defaultIndex(items: GItem[], value: string): { index: number; path: string[] } {
  const [head = '', ...rest] = value.split('>');
  let index = /^\d+$/.test(head) ? Number(head) : items.findIndex((it) => it.title === head || it.id === head);
  if (index < 0 || index >= items.length) {
    index = 0; // GRUB falls back to the first entry
    return { index, path: [] };
  }
  return { index, path: rest };
}

export async function readGrubMenus(tree: ImageTree, o: GrubMenuOptions): Promise<MenuReading> {
  const c = new Collector(tree);
  try {
    await new Grub(c, o).run();
  } catch (e) {
    c.note(`reading the GRUB menus stopped: ${(e as Error).message}`);
  }
  return c.reading;
}

// ---------------------------------------------------------------------------------------------

/** Several readings as one (for `pxekit inspect`): entries and notes in order, file lists without repeats. */
export function mergeReadings(...r: MenuReading[]): MenuReading {
  const uniq = <T>(xs: T[], key: (x: T) => string) => {
    const seen = new Set<string>();
    return xs.filter((x) => {
      const k = key(x);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };
  return {
    entries: r.flatMap((x) => x.entries),
    configs: uniq(r.flatMap((x) => x.configs), (s) => s.toLowerCase()),
    support: uniq(r.flatMap((x) => x.support), (s) => s.toLowerCase()),
    missing: uniq(r.flatMap((x) => x.missing), (m) => `${m.role}\0${m.path.toLowerCase()}\0${m.from}`),
    notes: uniq(r.flatMap((x) => x.notes), (s) => s),
  };
}
