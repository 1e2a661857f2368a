// The technician's names for machines (MAC → label), kept by the engine in its data dir:
// filled by machines.labels at connect, by machines.setLabel's answer and by 'labels' events.
import { create } from 'zustand';

export const useLabels = create<{ labels: Record<string, string> }>(() => ({ labels: {} }));

export function setLabels(labels: Record<string, string>): void {
  useLabels.setState({ labels: { ...labels } });
}
