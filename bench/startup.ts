/**
 * Start-up times, each the median over child processes run interleaved with a `node -e 0` baseline:
 * `import('certpin')` (the built dist/src/index.js) and `certpin --help` (bin/certpin.js).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median } from './harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
export const distEntry = `${root}dist/src/index.js`;
export const cliEntry = `${root}bin/certpin.js`;

export interface StartupResults {
  readonly baselineMs: number;
  readonly importMs: number | undefined;
  readonly helpMs: number | undefined;
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

/** Builds dist/ when it is missing (npm run build). Returns a reason when that is impossible. */
export function ensureBuilt(): string | undefined {
  if (existsSync(distEntry)) return undefined;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  if (build.status !== 0 || !existsSync(distEntry)) return `npm run build failed: ${build.stderr?.toString().trim().split('\n')[0] ?? ''}`;
  return undefined;
}

export function benchmarkStartup(runs: number): StartupResults {
  const note = ensureBuilt();
  const canImport = existsSync(distEntry);
  const canHelp = canImport && existsSync(cliEntry);
  const baseline: number[] = [];
  const imports: number[] = [];
  const helps: number[] = [];
  const importArgs = ['-e', `import(${JSON.stringify(distEntry)}).then(() => {})`];
  const helpArgs = [cliEntry, '--help'];
  timeRun(['-e', '0']); // warm the file system cache
  for (let i = 0; i < runs; i++) {
    baseline.push(timeRun(['-e', '0']));
    if (canImport) imports.push(timeRun(importArgs));
    if (canHelp) helps.push(timeRun(helpArgs));
  }
  return {
    baselineMs: median(baseline),
    importMs: canImport ? median(imports) : undefined,
    helpMs: canHelp ? median(helps) : undefined,
    runs,
    note,
  };
}
