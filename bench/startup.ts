/**
 * Start-up: child processes of the Node binary running the benchmark, interleaved in sets (`node -e 0`, `import()`
 * of the built `dist/index.js`, `certpin --help`, `import('node:https')`, and that followed by certpin's import; an
 * empty ES module entry, and one that imports certpin; the order rotates), and the paired differences per set, in
 * wall-clock time and in the child's own CPU time. dist/ is rebuilt first when it is missing or older than a file of
 * src/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quartiles } from './harness.js';
import type { Quartiles } from './harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
export const distEntry = `${root}dist/index.js`;
/** The build's unbundled compiled output, which the in-process benchmarks import. */
export const compiledEntry = `${root}.build/tsc/index.js`;
export const cliEntry = `${root}bin/certpin.js`;

export interface StartupResults {
  /** node -e 0, milliseconds: wall and CPU. */
  readonly baseline: { readonly wall: Quartiles; readonly cpu: Quartiles };
  /** Quartiles of the paired differences (run − baseline of the same triple), milliseconds, wall and CPU. */
  readonly importDelta: { readonly wall: Quartiles; readonly cpu: Quartiles } | undefined;
  readonly helpDelta: { readonly wall: Quartiles; readonly cpu: Quartiles } | undefined;
  /** `import('node:https')` and `import('node:tls')` over node -e 0. */
  readonly httpsDelta: { readonly wall: Quartiles; readonly cpu: Quartiles } | undefined;
  /** `import('certpin')` in a process that has already imported node:https and node:tls, over that process. */
  readonly importAfterHttpsDelta: { readonly wall: Quartiles; readonly cpu: Quartiles } | undefined;
  /**
   * `import 'certpin'` as an ES module entry (`--input-type=module`) over an empty one: the case of an application's
   * own module. Unlike `-e` code, such an entry starts without `node:crypto`, so certpin's import loads it.
   */
  readonly moduleImportDelta: { readonly wall: Quartiles; readonly cpu: Quartiles } | undefined;
  readonly runs: number;
  readonly note?: string;
}

/**
 * Every child reports its own CPU time (user + system, all threads) when it exits, through an `--import` that all
 * three kinds load alike: the CPU clock is much less disturbed than the wall clock by other work on the machine.
 */
const REPORT_CPU = "data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('certpin-bench-cpu '+(u.user+u.system)+'\\n')})";

function timeRun(args: readonly string[]): { wall: number; cpu: number } {
  const start = performance.now();
  const result = spawnSync(process.execPath, ['--import', REPORT_CPU, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const wall = performance.now() - start;
  const stderr = result.stderr.toString();
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${String(result.status)}: ${stderr.slice(0, 500)}`);
  const cpu = Number(/certpin-bench-cpu (\d+)/.exec(stderr)?.[1] ?? NaN) / 1000;
  return { wall, cpu };
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
  const newestSource = newestIn(`${root}src`);
  const fresh = (file: string) => existsSync(file) && statSync(file).mtimeMs >= newestSource;
  if (fresh(distEntry) && fresh(compiledEntry)) return undefined;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  if (build.status !== 0 || !existsSync(distEntry) || !existsSync(compiledEntry)) return `npm run build failed: ${build.stderr?.toString().trim().split('\n')[0] ?? ''}`;
  return undefined;
}

export function benchmarkStartup(runs: number, options: { build: boolean }): StartupResults {
  const note = options.build ? ensureBuilt() : existsSync(distEntry) ? undefined : 'dist/ not built (npm run build)';
  const canImport = existsSync(distEntry);
  const https = `Promise.all([import('node:https'), import('node:tls')])`;
  const kinds = [
    { name: 'baseline', args: ['-e', '0'], base: 'baseline' },
    ...(canImport ? [{ name: 'import', args: ['-e', `import(${JSON.stringify(distEntry)}).then(() => {})`], base: 'baseline' }] : []),
    ...(canImport && existsSync(cliEntry) ? [{ name: 'help', args: [cliEntry, '--help'], base: 'baseline' }] : []),
    // What certpin adds to an application that already uses node:https (which loads tls, net, http and crypto's core).
    ...(canImport ? [{ name: 'https', args: ['-e', `${https}.then(() => {})`], base: 'baseline' }] : []),
    ...(canImport ? [{ name: 'importAfterHttps', args: ['-e', `${https}.then(() => import(${JSON.stringify(distEntry)}))`], base: 'https' }] : []),
    // An application's ES module: `node -e` loads node:crypto before any code runs, a module entry does not.
    ...(canImport ? [{ name: 'module', args: ['--input-type=module', '-e', ''], base: 'module' }] : []),
    ...(canImport ? [{ name: 'moduleImport', args: ['--input-type=module', '-e', `import ${JSON.stringify(distEntry)};`], base: 'module' }] : []),
  ];
  for (const kind of kinds) timeRun(kind.args); // warm the file system cache
  const times: Record<string, { wall: number; cpu: number }[]> = Object.fromEntries(kinds.map((k) => [k.name, []]));
  for (let i = 0; i < runs; i++) {
    const set: Record<string, { wall: number; cpu: number }> = {};
    // Rotate the order so that no kind always runs right after another.
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(i + k) % kinds.length]!;
      set[kind.name] = timeRun(kind.args);
    }
    for (const kind of kinds) {
      const t = set[kind.name]!;
      const b = set[kind.base]!;
      times[kind.name]!.push(kind.name === kind.base ? t : { wall: t.wall - b.wall, cpu: t.cpu - b.cpu });
    }
  }
  const summary = (list: { wall: number; cpu: number }[]) => (list.length ? { wall: quartiles(list.map((x) => x.wall)), cpu: quartiles(list.map((x) => x.cpu)) } : undefined);
  return { baseline: summary(times.baseline!)!, importDelta: summary(times.import ?? []), helpDelta: summary(times.help ?? []), httpsDelta: summary(times.https ?? []), importAfterHttpsDelta: summary(times.importAfterHttps ?? []), moduleImportDelta: summary(times.moduleImport ?? []), runs, note };
}
