// Ties the setup-media share to the image served: when PXE Kit is started with Windows setup
// media (booted through wimboot), it shares them over SMB on the served NIC, and the files
// injected into WinPE (src/images/winpe-setup.ts) connect that share and start setup. The files are
// written when WinPE's loader asks for them, so they always say the truth: the share and its
// account, or why there is none (it could not start, it was turned off, another image).
import { join } from 'node:path';
import { startSetupShare, type SetupShare, type SetupShareOptions } from './smb-share.js';
import { winpeNoShareFiles, winpeSetupFiles } from '../images/winpe-setup.js';

export interface SetupMediaOptions {
  /** false: never start the share (--no-setup-share). */
  enabled: boolean;
  log: (level: 'info' | 'warn', message: string) => void;
  /** Who starts smbd: this process (root), or the root helper of an engine that gave root up (share-helper.ts). */
  startShare?: (o: SetupShareOptions) => Promise<SetupShare>;
}

export class SetupMediaShare {
  private share?: SetupShare;
  private source?: string;
  private problem?: string;

  constructor(private readonly o: SetupMediaOptions) {}

  /** Shares `source` (an ISO or a folder) on the served NIC. A failure is logged, not thrown: the boot still works, setup then asks for its media. */
  async start(source: string, net: { iface: string; address: string; prefix: number; dataDir: string }): Promise<void> {
    this.source = source;
    if (!this.o.enabled) {
      this.problem = 'sharing the setup media was turned off (--no-setup-share)';
      return;
    }
    try {
      this.share = await (this.o.startShare ?? startSetupShare)({ iface: net.iface, address: net.address, prefix: net.prefix, source, workDir: join(net.dataDir, 'setup-share') });
      this.o.log('info', `Windows setup media shared read-only as ${this.share.unc} on ${net.iface} (${this.share.how}): WinPE connects it and starts setup`);
    } catch (err) {
      this.problem = `the SMB share could not start: ${(err as Error).message}`;
      this.o.log('warn', `Windows setup media are not shared: ${(err as Error).message}. Machines boot WinPE, but setup will ask for its media.`);
    }
  }

  /** The files injected into WinPE booting the setup media at `source`. */
  filesFor(source: string): { name: string; text: string }[] {
    if (this.share && source === this.source) return winpeSetupFiles({ unc: this.share.unc, user: this.share.user, password: this.share.password, hasSetup: true });
    if (source === this.source && this.problem) return winpeNoShareFiles(this.problem);
    return winpeNoShareFiles('PXE Kit shares only the setup media it was started with (pxekit serve IMAGE), and this is another image');
  }

  async stop(): Promise<void> {
    const s = this.share;
    this.share = undefined;
    await s?.stop();
  }
}
