// The only bridge between the sandboxed window and the app: a few named, typed
// functions on window.pxekit. No Node, no raw ipcRenderer in the page. Sandboxed
// preloads cannot require local files, so the channel names are repeated from
// bridge.ts (main checks every sender anyway).
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { DesktopBridge, EngineStateInfo } from './bridge.js';

const bridge: DesktopBridge = {
  isDesktop: true,
  connection: () => ipcRenderer.invoke('pxekit:connection') as Promise<{ url: string; token: string }>,
  openImageDialog: () => ipcRenderer.invoke('pxekit:open-image') as Promise<string[]>,
  pathForFile: (file: File) => {
    try {
      return webUtils.getPathForFile(file);
    } catch {
      return '';
    }
  },
  saveLogs: (fileName: string, content: string) => ipcRenderer.invoke('pxekit:save-logs', String(fileName), String(content)) as Promise<string | null>,
  engineState: () => ipcRenderer.invoke('pxekit:engine-state') as Promise<EngineStateInfo>,
  onEngineState: (listener: (s: EngineStateInfo) => void) => {
    // Never hand the page the IpcRendererEvent (it carries the sender).
    const wrapped = (_e: IpcRendererEvent, s: EngineStateInfo) => listener(s);
    ipcRenderer.on('pxekit:engine-state-changed', wrapped);
    return () => void ipcRenderer.off('pxekit:engine-state-changed', wrapped);
  },
  restartEngine: () => ipcRenderer.invoke('pxekit:restart-engine') as Promise<void>,
};

contextBridge.exposeInMainWorld('pxekit', bridge);
