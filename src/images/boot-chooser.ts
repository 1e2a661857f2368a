// Decides, per machine and at the moment it asks, which script it gets: its boot-once
// local-disk script, its assigned image, the library menu, or the default image. The
// library can change while serving (the UI adds an image, assigns a machine): images are
// re-published in the background and every script request reads the current settings.
import { basename } from 'node:path';
import { bufferFile, type PublishedFile, type PublishedFiles } from '../files/published.js';
import { HANDOFF_ROLE } from '../files/roles.js';
import { httpUrl, macFromScriptName, macToHyphens } from '../boot/ipxe-script.js';
import { publishImage, startsFromIpxeMenu, type ImageSpec, type PublishedImage, type PublishedNetboot } from './publish-image.js';
import { SESSIONS_MAX, type ClientSession } from '../sessions/session.js';
import { RecentMap } from '../util/recent-map.js';
import type { ImageLibrary, StoredEntry } from './library.js';
import { localBootScript, menuScript, messageScript } from './menu.js';
import { grubConfigRole, PXEKIT_SIGNED_LOADERS } from '../boot/signed-chain.js';
import {
  GRUB_HANDOFF_DIR,
  HANDOFF_ANSWER_GRUB,
  HANDOFF_ANSWER_IPXE,
  HANDOFF_PREFIX,
  macFromHandoffName,
  type BootPlan,
} from '../boot/boot-plan.js';
import {
  GRUB_DIR,
  grubDispatchConfig,
  GRUB_MACHINE_PREFIX,
  grubKernelConfig,
  grubLocalBootConfig,
  grubMenuConfig,
  grubMessageConfig,
  macFromGrubConfigName,
} from '../boot/grub-config.js';
import { safeId, type SetupFilesFor } from './publish-iso.js';
import { VERDICT_WORDS } from './secure-boot-image.js';
import { wimbootMenuNote } from './wimboot.js';

export interface BootChooserOptions {
  files: PublishedFiles;
  serverIp: string;
  httpPort: number;
  library?: ImageLibrary;
  /** What every machine without an assignment boots (when the menu is off). */
  defaultImage?: ImageSpec;
  /** Machines booting the default image (or a menu choice) boot it once, then from the local disk. */
  bootOnce?: boolean;
  /** Problems worth telling the technician (an image that could not be opened). */
  log?: (message: string) => void;
  /** Windows setup media: the files WinPE gets to connect PXE Kit's share of them (src/share/). */
  setupFiles?: SetupFilesFor;
  /** Where netboot archives are unpacked. */
  dataDir?: string;
}

/** What a machine was last handed by a script or configuration: what it is booting now. */
interface Handing {
  imageId: string;
  bootOnce: boolean;
  plan: BootPlan;
}

const SCRIPT_PREFIX = 'ipxe/';

export class BootChooser {
  private defaultImg?: PublishedImage;
  private defaultKey?: string;
  private readonly images = new Map<string, { img: PublishedImage; path: string }>();
  /** GRUB prefixes of images' own chains other than PXE Kit's "grub", with how many images use each. */
  private readonly ownGrubPrefixes = new Map<string, number>();
  /** Per machine given a script; bounded (script paths carry MACs anyone can make up). */
  private readonly handing = new RecentMap<string, Handing>(SESSIONS_MAX);
  private syncing: Promise<void> = Promise.resolve();
  private resyncWanted = false;
  private stopped = false;
  description = 'nothing';

  constructor(private readonly o: BootChooserOptions) {}

  private url(p: string): string {
    return httpUrl(this.o.serverIp, this.o.httpPort, p);
  }

  async start(): Promise<void> {
    const { files, library } = this.o;
    const spec = this.o.defaultImage;
    if (spec) {
      const libId = 'id' in spec && spec.id && library?.entry(spec.id) ? spec.id : undefined;
      if (libId) this.defaultKey = libId;
      else {
        this.defaultImg = await publishImage(files, spec, { serverIp: this.o.serverIp, httpPort: this.o.httpPort, registerScripts: false, setupFiles: this.o.setupFiles, dataDir: this.o.dataDir });
        this.publishOwnGrubPrefix(this.defaultImg);
        this.defaultKey = `default:${'path' in spec ? spec.path : spec.kernel}`;
        this.description = this.defaultImg.description;
      }
    }
    await this.sync();
    if (this.defaultKey && !this.defaultImg) this.description = this.images.get(this.defaultKey)?.img.description ?? this.defaultKey;
    if (!spec) this.description = library?.menu().enabled ? 'the library menu' : 'the library assignments';
    library?.on('change', this.onLibraryChange);
    files.addDynamic(SCRIPT_PREFIX, (rest) => this.resolveScript(rest));
    // iPXE reports the hand-off here just before it boots (src/boot/boot-plan.ts).
    files.addDynamic(HANDOFF_PREFIX, (rest) => (macFromHandoffName(rest) ? bufferFile(`${HANDOFF_PREFIX}${rest}`, HANDOFF_ANSWER_IPXE, HANDOFF_ROLE) : undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.o.library?.off('change', this.onLibraryChange);
    await this.syncing;
    this.o.files.removeDynamic(SCRIPT_PREFIX);
    this.o.files.removeDynamic(HANDOFF_PREFIX);
    if (this.defaultImg) this.unpublish(this.defaultImg);
    for (const { img } of this.images.values()) this.unpublish(img);
    this.images.clear();
  }

  private onLibraryChange = (ev: { type: string }): void => {
    if (ev.type !== 'library') return;
    void this.sync();
  };

  /** Publishes present library entries not yet published, unpublishes removed ones. Serialised. */
  sync(): Promise<void> {
    if (this.resyncWanted) return this.syncing;
    this.resyncWanted = true;
    this.syncing = this.syncing.then(async () => {
      this.resyncWanted = false;
      if (this.stopped || !this.o.library) return;
      const entries = (await this.o.library.list()).filter((e) => e.present);
      const want = new Set(entries.map((e) => e.id));
      for (const [id, { img }] of this.images) {
        if (!want.has(id)) {
          this.unpublish(img);
          this.images.delete(id);
        }
      }
      for (const e of entries) {
        if (this.images.has(e.id) || this.stopped) continue;
        const stored = this.o.library.entry(e.id) as StoredEntry;
        try {
          const img = await publishImage(this.o.files, this.o.library.imageSpecNow(stored), {
            serverIp: this.o.serverIp,
            httpPort: this.o.httpPort,
            filePrefix: `lib/${e.id}/`,
            registerScripts: false,
            setupFiles: this.o.setupFiles,
            dataDir: this.o.dataDir,
          });
          this.images.set(e.id, { img, path: e.path });
          this.publishOwnGrubPrefix(img);
        } catch (err) {
          this.o.log?.(`library image "${e.name}" cannot be served: ${(err as Error).message}`);
        }
      }
    });
    return this.syncing;
  }

  /** What serving the default image costs the technician (a Windows ISO without wimboot), for the status bar. */
  get warning(): string | undefined {
    return (this.defaultImg ?? (this.defaultKey ? this.images.get(this.defaultKey)?.img : undefined))?.warning;
  }

  /** The image given to serve, when it is Windows setup media: its ISO or folder, to share over SMB. */
  setupMediaToShare(): string | undefined {
    const img = this.defaultImg ?? (this.defaultKey ? this.images.get(this.defaultKey)?.img : undefined);
    return img?.setupMedia && 'path' in img.spec ? img.spec.path : undefined;
  }

  scriptPathFor(mac: string): string {
    return `${SCRIPT_PREFIX}${macToHyphens(mac)}.ipxe`;
  }

  /**
   * The boot plan for this machine as of now (src/boot/boot-plan.ts): what DHCP hands it and
   * what its next script or configuration says.
   */
  plan(macIn: string): BootPlan {
    const mac = macIn.toLowerCase();
    return this.planOf(mac, this.decide(mac));
  }

  /** The plan of what this machine is booting: the image its last script or configuration handed it, else as of now. */
  handedPlan(macIn: string): BootPlan {
    const mac = macIn.toLowerCase();
    return this.handing.get(mac)?.plan ?? this.plan(mac);
  }

  private planOf(mac: string, c: Choice): BootPlan {
    // Every script and configuration PXE Kit writes reports its hand-off.
    const base: Omit<BootPlan, 'choice' | 'signedChainCan'> = { mac, bootOnce: false, signedLoaders: PXEKIT_SIGNED_LOADERS, payload: [], handoff: { kind: 'signal' } };
    if (c.kind === 'image') {
      const img = this.imageFor(c.imageId);
      if (img?.netboot) {
        // The tree's own loader runs last: delivering a menu entry's files is the hand-off.
        const m = img.netboot.plan(mac);
        return { ...base, choice: 'image', imageId: c.imageId, bootOnce: c.bootOnce, signedChainCan: false, payload: m.payload, handoff: { kind: 'files', entries: m.entries }, firstStage: img.netboot.firstStage };
      }
      return {
        ...base,
        choice: 'image',
        imageId: c.imageId,
        bootOnce: c.bootOnce,
        signedLoaders: img?.ownSignedLoaders ?? PXEKIT_SIGNED_LOADERS,
        signedChainCan: !!img?.linuxBoot,
        payload: img?.payload ?? [],
        readAsDisk: img?.readAsDisk,
        runsOn: img?.program?.runsOn && { firmware: img.program.runsOn, what: img.program.what },
      };
    }
    // A menu goes the signed way when any entry can; its shim must trust every entry's kernel, so PXE Kit's.
    if (c.kind === 'menu') return { ...base, choice: 'menu', signedChainCan: c.items.some((id) => !!this.imageFor(id)?.linuxBoot) };
    return { ...base, choice: c.kind, signedChainCan: true };
  }

  /** Feed every session update here: a boot-once machine that was handed off goes to the local disk next time. */
  onSession(s: ClientSession): void {
    if (s.state !== 'handed-off') return;
    const mac = s.mac.toLowerCase();
    const h = this.handing.get(mac);
    if (h?.bootOnce) return this.o.library?.markBootedOnce(s.mac, h.imageId);
    // A netboot tree is handed out by DHCP, with no script of PXE Kit's to record it.
    const p = h ? undefined : this.plan(mac);
    if (p?.firstStage && p.bootOnce && p.imageId) this.o.library?.markBootedOnce(s.mac, p.imageId);
  }

  /**
   * The netboot tree that is this machine's TFTP/HTTP root (what it was last handed, else what it
   * boots now), or undefined. A machine not known yet (proxy mode, before its address was seen)
   * gets the default image's tree.
   */
  treeRootFor(mac: string | undefined): ((path: string) => PublishedFile | undefined) | undefined {
    return this.treeOf(mac)?.resolve;
  }

  /** Which menu of the machine's tree named a file it asked for, in words; undefined when none did. */
  namedBy(mac: string | undefined, path: string): string | undefined {
    return this.treeOf(mac)?.namedBy(path);
  }

  /**
   * The netboot tree this machine boots, from its choice alone: every TFTP and HTTP request asks
   * this, so it makes no plan (a tree's plan reads its menus for the machine).
   */
  private treeOf(macIn: string | undefined): PublishedNetboot | undefined {
    if (!macIn) return this.defaultKey ? this.imageFor(this.defaultKey)?.netboot : undefined;
    const mac = macIn.toLowerCase();
    const handed = this.handing.get(mac)?.imageId;
    const c = handed ? undefined : this.decide(mac);
    const id = handed ?? (c?.kind === 'image' ? c.imageId : undefined);
    return id ? this.imageFor(id)?.netboot : undefined;
  }

  private imageFor(id: string): PublishedImage | undefined {
    if (this.defaultImg && id === this.defaultKey) return this.defaultImg;
    return this.images.get(id)?.img;
  }

  /** Records what this machine is handed (the tracker follows its plan; boot-once is recorded at its hand-off). */
  private give(mac: string, imageId: string, bootOnce: boolean): PublishedImage {
    const img = this.imageFor(imageId)!;
    this.handing.set(mac, { imageId, bootOnce, plan: this.planOf(mac, { kind: 'image', imageId, bootOnce }) });
    return img;
  }

  /** A menu entry's title, with what it needs when Secure Boot is on (nothing when it boots). */
  private menuTitleOf(id: string): string {
    const verdict = this.o.library?.entry(id)?.secureBoot?.verdict ?? (this.imageFor(id)?.linuxBoot ? 'boots' : 'needs-secure-boot-off');
    return (verdict === 'boots' ? this.titleOf(id) : `${this.titleOf(id)} (${VERDICT_WORDS[verdict]})`) + wimbootMenuNote(this.o.library?.entry(id));
  }

  private titleOf(id: string): string {
    // The image given on the command line is not in the library: its file name.
    if (this.defaultImg && id === this.defaultKey) return basename(id.slice('default:'.length));
    const e = this.o.library?.entry(id);
    if (!e) return id;
    const os = [e.os, e.version].filter(Boolean).join(' ');
    return os && os !== e.name && e.os !== 'Linux' ? `${e.name} (${os})` : e.name;
  }

  /**
   * What this machine boots, as of now: its boot-once local disk, its assigned image, the
   * library menu, or the default image. No side effect: the loaders' writers below record
   * what they hand out.
   */
  private decide(macIn: string): Choice {
    const mac = macIn.toLowerCase();
    const lib = this.o.library;
    const once = lib?.bootedOnce(mac);
    const a = lib?.assignmentFor(mac);
    if (a) {
      if (a.bootOnce && once?.imageId === a.imageId) return { kind: 'local', reason: `${mac} already booted "${this.titleOf(a.imageId)}" once` };
      if (this.imageFor(a.imageId)) return { kind: 'image', imageId: a.imageId, bootOnce: a.bootOnce };
      return { kind: 'message', text: `the image assigned to ${mac} ("${this.titleOf(a.imageId)}") is not available: is its file still there?` };
    }
    const menu = lib?.menu();
    const items = [...this.images.keys()].filter((id) => lib?.entry(id));
    if (menu?.enabled && items.length) {
      if (this.o.bootOnce && once) return { kind: 'local', reason: `${mac} already booted once` };
      return { kind: 'menu', items, timeoutSeconds: menu.timeoutSeconds, defaultId: menu.defaultEntryId, includeLocalBoot: menu.includeLocalBoot };
    }
    if (this.defaultKey && this.imageFor(this.defaultKey)) {
      if (this.o.bootOnce && once?.imageId === this.defaultKey)
        return { kind: 'local', reason: `${mac} already booted ${this.defaultImg ? this.titleOf(this.defaultKey) : `"${this.titleOf(this.defaultKey)}"`} once` };
      return { kind: 'image', imageId: this.defaultKey, bootOnce: !!this.o.bootOnce };
    }
    return { kind: 'message', text: `no image is chosen for ${mac}: pick a default image, assign one to this machine or turn on the menu` };
  }

  /**
   * An image's own GRUB reads its configuration under its own prefix ("EFI/fedora/grub.cfg"):
   * there it gets the same dispatch and per-machine configurations as PXE Kit's GRUB under grub/.
   */
  private publishOwnGrubPrefix(img: PublishedImage): void {
    const prefix = img.ownSignedLoaders?.grubPrefix;
    if (!prefix || prefix.toLowerCase() === GRUB_DIR.replace(/\/$/, '')) return;
    const n = this.ownGrubPrefixes.get(prefix) ?? 0;
    this.ownGrubPrefixes.set(prefix, n + 1);
    if (n > 0) return;
    this.o.files.addDynamic(`${prefix}/`, (rest) => {
      if (rest.toLowerCase() === 'grub.cfg') return bufferFile(`${prefix}/grub.cfg`, grubDispatchConfig(), 'boot script');
      const m = /^pxekit\/(.+)$/.exec(rest);
      const text = m ? this.resolveGrubConfig(m[1]) : undefined;
      return text === undefined ? undefined : bufferFile(`${prefix}/${rest}`, text, grubConfigRole(m![1]));
    });
  }

  private unpublish(img: PublishedImage): void {
    img.unpublish();
    const prefix = img.ownSignedLoaders?.grubPrefix;
    const n = prefix ? this.ownGrubPrefixes.get(prefix) : undefined;
    if (!prefix || !n) return;
    if (n > 1) this.ownGrubPrefixes.set(prefix, n - 1);
    else {
      this.ownGrubPrefixes.delete(prefix);
      this.o.files.removeDynamic(`${prefix}/`);
    }
  }

  /** The iPXE script for one machine, as of now. */
  scriptFor(macIn: string): string {
    const mac = macIn.toLowerCase();
    const c = this.decide(mac);
    switch (c.kind) {
      case 'local':
        return localBootScript(c.reason);
      case 'message':
        return messageScript(c.text);
      case 'image':
        return this.give(mac, c.imageId, c.bootOnce).scriptFor(mac);
      case 'menu':
        return menuScript({
          items: c.items.map((id) => ({ id, title: this.menuTitleOf(id), url: this.url(`${SCRIPT_PREFIX}img/${id}/${macToHyphens(mac)}.ipxe`) })),
          timeoutSeconds: c.timeoutSeconds,
          defaultId: c.defaultId,
          includeLocalBoot: c.includeLocalBoot,
        });
    }
  }

  /** The signed GRUB's configuration for one machine, as of now (the same decision as scriptFor). */
  grubConfigFor(macIn: string): string {
    const mac = macIn.toLowerCase();
    const c = this.decide(mac);
    switch (c.kind) {
      case 'local':
        return grubLocalBootConfig(c.reason);
      case 'message':
        return grubMessageConfig(c.text);
      case 'image':
        return this.grubImageConfig(mac, c.imageId, c.bootOnce);
      case 'menu': {
        const def = c.items.indexOf(c.defaultId ?? '');
        return grubMenuConfig({
          items: c.items.map((id) => ({ title: this.menuTitleOf(id), configPath: `${GRUB_MACHINE_PREFIX}img/${id}/${mac}.cfg` })),
          timeoutSeconds: c.timeoutSeconds,
          defaultIndex: c.defaultId === 'local' && c.includeLocalBoot ? c.items.length : Math.max(0, def),
          includeLocalBoot: c.includeLocalBoot,
        });
      }
    }
  }

  private grubImageConfig(mac: string, imageId: string, bootOnce: boolean): string {
    const img = this.imageFor(imageId)!;
    if (img.netboot) {
      // A netboot folder boots through its own loader, which this GRUB does not start; iPXE's menu
      // chains it (test/e2e/netboot-menu.test.ts), and DHCP hands it out to a machine it is assigned to.
      const ipxeToo = startsFromIpxeMenu(img.netboot.opened.loaders.x64);
      return grubMessageConfig(
        `${this.titleOf(imageId)} is a netboot folder: its own loader does not start from this menu. Assign the folder to this machine (it then gets the folder's loader directly)${ipxeToo ? ', or switch Secure Boot off on this machine and serve with "Secure Boot: iPXE" (--secure-boot ipxe) for the iPXE menu' : ''}`,
      );
    }
    if (!img.linuxBoot) {
      // GRUB's chainloader started iPXE but iPXE hung there (OVMF, Secure Boot off): say it instead.
      return grubMessageConfig(
        `${this.titleOf(imageId)} boots only through iPXE, which is not signed: switch Secure Boot off on this machine and serve with "Secure Boot: auto" or "iPXE" (--secure-boot auto|ipxe)`,
      );
    }
    this.give(mac, imageId, bootOnce);
    return grubKernelConfig(img.linuxBoot);
  }

  /** A configuration under grub/pxekit/: "<mac>.cfg", a menu choice "img/<id>/<mac>.cfg", or the hand-off report "handoff/<mac>.cfg". */
  resolveGrubConfig(rest: string): string | undefined {
    const mac = macFromGrubConfigName(rest);
    if (mac) return this.grubConfigFor(mac);
    if (rest.startsWith(GRUB_HANDOFF_DIR)) return macFromGrubConfigName(rest.slice(GRUB_HANDOFF_DIR.length)) ? HANDOFF_ANSWER_GRUB : undefined;
    const m = /^img\/([^/]+)\/([^/]+)$/.exec(rest);
    const chosenMac = m && macFromGrubConfigName(m[2]);
    if (!m || !chosenMac || !this.imageFor(m[1])) return undefined;
    return this.grubImageConfig(chosenMac, m[1], !!this.o.bootOnce);
  }

  private resolveScript(rest: string) {
    const mac = macFromScriptName(rest);
    if (mac) return bufferFile(`${SCRIPT_PREFIX}${rest}`, this.scriptFor(mac), 'boot script');
    // A menu choice: ipxe/img/<id>/<mac>.ipxe
    const m = /^img\/([^/]+)\/([^/]+)$/.exec(rest);
    const chosenMac = m && macFromScriptName(m[2]);
    if (!m || !chosenMac || !this.imageFor(m[1])) return undefined;
    return bufferFile(`${SCRIPT_PREFIX}${rest}`, this.give(chosenMac, m[1], !!this.o.bootOnce).scriptFor(chosenMac), 'boot script');
  }
}

/** What a machine boots, before any loader writes it down. */
type Choice =
  | { kind: 'image'; imageId: string; bootOnce: boolean }
  | { kind: 'local'; reason: string }
  | { kind: 'message'; text: string }
  | { kind: 'menu'; items: string[]; timeoutSeconds: number; defaultId?: string; includeLocalBoot: boolean };

/** The id a single ISO given on the command line is served under ("iso/<id>/..."). */
export function defaultIsoId(path: string): string {
  return safeId(basename(path));
}
