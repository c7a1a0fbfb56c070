/**
 * The demo's output: a heading per step, short lines, green/red marks. Colours only on a terminal and never with
 * NO_COLOR set (https://no-color.org).
 */
const useColour = process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

function paint(code: string, text: string): string {
  return useColour ? `\x1b[${code}m${text}\x1b[0m` : text;
}

export const style = {
  bold: (t: string) => paint('1', t),
  dim: (t: string) => paint('2', t),
  red: (t: string) => paint('31', t),
  green: (t: string) => paint('32', t),
  yellow: (t: string) => paint('33', t),
  cyan: (t: string) => paint('36', t),
};

/** Every expectation that failed; the demo exits 1 when this is not empty. */
export const failures: string[] = [];

export function heading(text: string): void {
  console.log(`\n${style.bold(style.cyan(text))}`);
}

export function say(text = ''): void {
  console.log(text ? `  ${text}` : '');
}

/** Prints a block of text (an error message) indented and dimmed, exactly as it is apart from the indent. */
export function quote(text: string): void {
  for (const line of text.split('\n')) console.log(`    ${style.dim('│')} ${line}`);
}

/** Records and prints one expectation of the demo. */
export function expect(ok: boolean, text: string, detail?: string): boolean {
  if (ok) console.log(`  ${style.green('✔')} ${text}`);
  else {
    console.log(`  ${style.red('✘')} ${text}${detail ? ` (${detail})` : ''}`);
    failures.push(detail ? `${text}: ${detail}` : text);
  }
  return ok;
}
