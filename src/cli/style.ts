/**
 * Terminal styling for the CLI: colours only when the stream is a terminal (or `FORCE_COLOR` asks for them), and
 * never when `NO_COLOR` is set (https://no-color.org), whatever else says.
 * @module
 */

/** Functions that wrap text in ANSI colours, or return it unchanged when colours are off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/** Whether colours may be written to `stream` under the current environment. */
export function colorsEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** A {@link Style} for a stream (`process.stdout` or `process.stderr`). */
export function styleFor(stream: { isTTY?: boolean }): Style {
  const enabled = colorsEnabled(stream);
  const wrap = (open: number, close: number) => (text: string) => (enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}
