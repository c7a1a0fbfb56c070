/**
 * Progress of `certpin verify` on stderr, for people and for CI logs. On a terminal, one line redrawn in place; in a
 * log (not a terminal), a line every tenth of the hosts and every few seconds. Both name the hosts still pending,
 * longest-waiting first: the one that hangs a run is the one to see, not the last one started.
 * @module
 */
import type { Style } from '../style.js';

/** How progress is shown. */
export type ProgressMode = 'tty' | 'lines' | 'none';

/** What the checks report to the progress display. */
export interface Progress {
  started(host: string): void;
  finished(host: string, failed: boolean): void;
  /** Clears the terminal line; stops the timer. */
  stop(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  readonly stream: { write(text: string): unknown; columns?: number };
  readonly style: Style;
  readonly mode: ProgressMode;
  readonly total: number;
  /** In `lines` mode, also a line after this long without one (default 5 s). */
  readonly everyMs?: number;
  readonly now?: () => number;
}

const NAMED = 5;

/**
 * A progress display. `lines` mode prints nothing for fewer than 20 hosts unless a check takes longer than
 * `everyMs`: a short run needs no progress, a stuck one does.
 */
export function createProgress(options: ProgressOptions): Progress {
  const { stream, style, mode, total } = options;
  const now = options.now ?? (() => performance.now());
  const everyMs = options.everyMs ?? 5000;
  const pending = new Map<string, number>();
  const startedAt = now();
  let done = 0;
  let failed = 0;
  let lastLine = now();
  let lastDraw = 0;
  const step = Math.max(10, Math.ceil(total / 10));

  const pendingText = (width: number): string => {
    if (pending.size === 0) return '';
    const t = now();
    const oldest = [...pending].sort((a, b) => a[1] - b[1]);
    const named = oldest.slice(0, NAMED).map(([host, since]) => `${host} ${((t - since) / 1000).toFixed(1)} s`);
    let text = `pending (${pending.size}): ${named.join(', ')}${pending.size > NAMED ? `, … ${pending.size - NAMED} more` : ''}`;
    if (text.length > width) text = `${text.slice(0, Math.max(0, width - 1))}…`;
    return text;
  };
  const counts = () => `${done}/${total} checked${failed ? `, ${failed} failing` : ''}`;

  const line = () => {
    lastLine = now();
    stream.write(`certpin verify: ${counts()} after ${((lastLine - startedAt) / 1000).toFixed(1)} s${pending.size ? `; ${pendingText(400)}` : ''}\n`);
  };
  const draw = (force = false) => {
    const t = now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    const width = (stream.columns && stream.columns >= 40 ? stream.columns : 80) - 1;
    const head = `[${counts()}] `;
    stream.write(`\r\u001b[2K${style.dim(`${head}${pendingText(Math.max(10, width - head.length))}`)}`);
  };

  let timer: NodeJS.Timeout | undefined;
  if (mode === 'lines') {
    // Checked ten times per period: a line is late by a tenth of it at most, not by a whole period.
    timer = setInterval(() => {
      if (pending.size && now() - lastLine >= everyMs) line();
    }, Math.max(20, Math.min(everyMs / 10, 1000)));
    timer.unref();
  } else if (mode === 'tty') {
    // Redraw the waiting times even when nothing finishes.
    timer = setInterval(() => draw(true), 500);
    timer.unref();
  }

  return {
    started(host) {
      pending.set(host, now());
      if (mode === 'tty') draw();
    },
    finished(host, hostFailed) {
      pending.delete(host);
      done++;
      if (hostFailed) failed++;
      if (mode === 'tty') draw(done === total);
      else if (mode === 'lines' && total >= 20 && done % step === 0 && done < total) line();
    },
    stop() {
      if (timer) clearInterval(timer);
      if (mode === 'tty') stream.write('\r\u001b[2K');
    },
  };
}
