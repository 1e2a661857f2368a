// Small pieces the screens share.
export function ErrorNote({ text }: { text?: string }) {
  if (!text) return null;
  return (
    <div className="alert bad" role="alert">
      {text}
    </div>
  );
}

export function ProgressBar({ value, label, text }: { value: number; label: string; text?: string }) {
  const v = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={v} aria-valuetext={text ?? `${v}%`}>
      <div className="progress-fill" style={{ width: `${v}%` }} />
    </div>
  );
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
