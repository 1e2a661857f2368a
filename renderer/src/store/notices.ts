// A desktop notification (and, when asked for, a short beep) when a machine fails and
// when one is handed off: at most one per machine per boot, only for changes seen live
// (a fresh UI's snapshot of machines that failed earlier stays quiet).
import { create } from 'zustand';
import type { ClientSession } from '../api/types.js';
import { useLabels } from './labels.js';
import { useSessions } from './sessions.js';

export type NoticePermission = 'granted' | 'denied' | 'default' | 'unsupported';

export interface NoticesStore {
  /** Desktop notifications wanted (on unless turned off). */
  notify: boolean;
  /** A beep with each notice (off unless turned on). */
  sound: boolean;
  permission: NoticePermission;
}

function saved(key: string, fallback: boolean): boolean {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : v === 'on';
  } catch {
    return fallback;
  }
}

function currentPermission(): NoticePermission {
  return typeof Notification === 'undefined' ? 'unsupported' : (Notification.permission as NoticePermission);
}

export const useNotices = create<NoticesStore>(() => ({ notify: saved('pxekit.notify', true), sound: saved('pxekit.sound', false), permission: currentPermission() }));

function store(key: string, on: boolean): void {
  try {
    localStorage.setItem(key, on ? 'on' : 'off');
  } catch {
    /* private mode: the choice lasts this session */
  }
}

/** Turns notifications on or off; turning them on asks the browser's permission when it was never asked (a click is a user gesture). */
export async function setNotify(on: boolean): Promise<void> {
  store('pxekit.notify', on);
  useNotices.setState({ notify: on });
  if (on && currentPermission() === 'default') {
    try {
      await Notification.requestPermission();
    } catch {
      /* an old browser without the promise form */
    }
  }
  useNotices.setState({ permission: currentPermission() });
}

export function setSound(on: boolean): void {
  store('pxekit.sound', on);
  useNotices.setState({ sound: on });
  // Browsers start audio only after a user gesture: this click is one, so the beeps later can play.
  if (on) beep('done');
}

let audio: AudioContext | undefined;

/** A short beep: one high tone for a finished machine, two low ones for a failure. */
export function beep(kind: 'failed' | 'done'): void {
  try {
    audio ??= new AudioContext();
    void audio.resume();
    const tones = kind === 'failed' ? [0, 0.22] : [0];
    for (const start of tones) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = kind === 'failed' ? 440 : 880;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio.destination);
      const t = audio.currentTime + start;
      osc.start(t);
      osc.stop(t + 0.15);
    }
  } catch {
    /* no audio device: the notification still says it */
  }
}

/** mac#firstSeen#boots of the machines already announced: the last ANNOUNCED_MAX (a Set keeps insertion order). */
const announced = new Set<string>();
const ANNOUNCED_MAX = 4096;

function announce(s: ClientSession): void {
  const key = `${s.mac}#${s.firstSeen}#${s.boots}`;
  if (announced.has(key)) return;
  announced.add(key);
  if (announced.size > ANNOUNCED_MAX) announced.delete(announced.values().next().value as string);
  const { notify, sound } = useNotices.getState();
  const name = useLabels.getState().labels[s.mac] ?? s.mac;
  const failed = s.state === 'failed';
  if (notify && currentPermission() === 'granted') {
    const title = failed ? `${name} failed to boot` : `${name} is handed off`;
    const pxe = s.diagnosis?.pxeError ?? s.failure?.pxeError;
    const body = failed ? [s.diagnosis?.title ?? s.failure?.message, pxe && `Screen shows: ${pxe}`].filter(Boolean).join('\n') : `Everything it needs was delivered: its OS is starting${s.ip ? ` (${s.ip})` : ''}.`;
    try {
      new Notification(title, { body, tag: `pxekit-${s.mac}` });
    } catch {
      /* a browser that allows notifications only from a service worker */
    }
  }
  if (sound) beep(failed ? 'failed' : 'done');
}

/** Watches the machines; returns the function that stops watching. */
export function startNotices(): () => void {
  let prev = new Map(Object.entries(useSessions.getState().byMac).map(([mac, s]) => [mac, s.state]));
  useNotices.setState({ permission: currentPermission() });
  return useSessions.subscribe((st) => {
    const next = new Map<string, ClientSession['state']>();
    for (const [mac, s] of Object.entries(st.byMac)) {
      next.set(mac, s.state);
      const before = prev.get(mac);
      // Once per boot: its failure, or its hand-off (the OS arriving after it is no second notice).
      if ((s.state === 'failed' || s.state === 'handed-off') && before !== undefined && before !== s.state) announce(s);
    }
    prev = next;
  });
}
