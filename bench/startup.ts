/**
 * Start-up: child processes of the Node binary running the benchmark, interleaved in triples (`node -e 0`, then
 * `import()` of the built `dist/src/index.js`, then `certpin --help`, rotating the order), and the paired
 * differences per triple. dist/ is rebuilt first when it is missing or older than a file of src/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quartiles } from './harness.js';
import type { Quartiles } from './harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
export const distEntry = `${root}dist/src/index.js`;
export const cliEntry = `${root}bin/certpin.js`;

export interface StartupResults {
  readonly baseline: Quartiles;
  /** Quartiles of the paired differences (run − baseline of the same triple), milliseconds. */
  readonly importDelta: Quartiles | undefined;
  readonly helpDelta: Quartiles | undefined;
  readonly runs: number;
  readonly note?: string;
}

function timeRun(args: readonly string[]): number {
  const start = performance.now();
  const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${String(result.status)}: ${result.stderr.toString().slice(0, 500)}`);
  return ms;
}

function newestIn(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or stale (npm run build). Returns a reason when that is impossible. */
export function ensureBuilt(): string | undefined {
  if (existsSync(distEntry) && statSync(distEntry).mtimeMs >= newestIn(`${root}src`)) return undefined;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  if (build.status !== 0 || !existsSync(distEntry)) return `npm run build failed: ${build.stderr?.toString().trim().split('\n')[0] ?? ''}`;
  return undefined;
}

export function benchmarkStartup(runs: number, options: { build: boolean }): StartupResults {
  const note = options.build ? ensureBuilt() : existsSync(distEntry) ? undefined : 'dist/ not built (npm run build)';
  const canImport = existsSync(distEntry);
  const kinds = [
    { name: 'baseline', args: ['-e', '0'] },
    ...(canImport ? [{ name: 'import', args: ['-e', `import(${JSON.stringify(distEntry)}).then(() => {})`] }] : []),
    ...(canImport && existsSync(cliEntry) ? [{ name: 'help', args: [cliEntry, '--help'] }] : []),
  ];
  for (const kind of kinds) timeRun(kind.args); // warm the file system cache
  const baseline: number[] = [];
  const importDelta: number[] = [];
  const helpDelta: number[] = [];
  for (let i = 0; i < runs; i++) {
    const times: Record<string, number> = {};
    // Rotate the order so that no kind always runs right after another.
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(i + k) % kinds.length]!;
      times[kind.name] = timeRun(kind.args);
    }
    baseline.push(times.baseline!);
    if (times.import !== undefined) importDelta.push(times.import - times.baseline!);
    if (times.help !== undefined) helpDelta.push(times.help - times.baseline!);
  }
  return {
    baseline: quartiles(baseline),
    importDelta: importDelta.length ? quartiles(importDelta) : undefined,
    helpDelta: helpDelta.length ? quartiles(helpDelta) : undefined,
    runs,
    note,
  };
}
