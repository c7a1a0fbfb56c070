/**
 * Reading V8 CPU profiles (the `.cpuprofile` format of `node --cpu-prof` and of the inspector's `Profiler`): time per
 * category and per function, self and inclusive, so that two profiles of the same work (certpin's side and the
 * plain side) can be put next to each other.
 */

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

/** Where a function lives. */
export type Category = 'certpin' | 'dependencies' | 'node' | 'native (OpenSSL, libuv, V8 outside JS)' | 'garbage collection' | 'idle' | 'benchmark';

const repoMarker = '/src/';

export function categoryOf(frame: ProfileNode['callFrame']): Category {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(idle)') return 'idle';
  if (url.includes('node_modules')) return 'dependencies';
  if (url.includes('/bench/')) return 'benchmark';
  if (url.includes(repoMarker) || url.includes('/dist/')) return 'certpin';
  if (url.startsWith('node:') || url.startsWith('internal/')) return 'node';
  return 'native (OpenSSL, libuv, V8 outside JS)';
}

function label(frame: ProfileNode['callFrame']): string {
  const file = frame.url.replace(/^file:\/\/.*?\/(src|dist|bench|node_modules)\//, '$1/').replace(/\?.*$/, '');
  return `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`.trim();
}

export interface ProfileSummary {
  /** Sampled microseconds, idle excluded. */
  readonly busy: number;
  readonly byCategory: ReadonlyMap<Category, number>;
  /** Self time per function label. */
  readonly self: ReadonlyMap<string, number>;
  /** Inclusive time per function label (each sample counted once per label, however deep the recursion). */
  readonly inclusive: ReadonlyMap<string, number>;
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfTime = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i: charge the interval after a sample to it.
    const dt = deltas[i + 1] ?? 0;
    selfTime.set(samples[i]!, (selfTime.get(samples[i]!) ?? 0) + dt);
  }
  const byCategory = new Map<Category, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const [id, time] of selfTime) {
    const node = byId.get(id);
    if (!node) continue;
    const category = categoryOf(node.callFrame);
    byCategory.set(category, (byCategory.get(category) ?? 0) + time);
    if (category !== 'idle') busy += time;
    const name = label(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + time);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + time);
    }
  }
  return { busy, byCategory, self, inclusive };
}

function top(map: ReadonlyMap<string, number>, count: number, filter: (name: string) => boolean = () => true): [string, number][] {
  return [...map].filter(([name]) => filter(name)).sort((a, b) => b[1] - a[1]).slice(0, count);
}

const us = (x: number) => `${x.toFixed(1).padStart(8)} µs`;

/**
 * Text report of two profiles of the same number of operations: per category, the functions that differ most in
 * self time, and certpin's own functions by inclusive time (what calling them costs, callees included).
 */
export function compareProfiles(certpin: ProfileSummary, plain: ProfileSummary, operations: number): string {
  const per = (x: number | undefined) => (x ?? 0) / operations;
  const lines: string[] = [];
  lines.push(`per operation (sampled time ÷ ${operations}):            certpin       plain        Δ`);
  lines.push(`  busy (everything but idle)                   ${us(per(certpin.busy))} ${us(per(plain.busy))} ${us(per(certpin.busy) - per(plain.busy))}`);
  const categories = new Set([...certpin.byCategory.keys(), ...plain.byCategory.keys()]);
  for (const c of [...categories].filter((c) => c !== 'idle').sort()) {
    const a = per(certpin.byCategory.get(c));
    const b = per(plain.byCategory.get(c));
    lines.push(`  ${c.padEnd(45)} ${us(a)} ${us(b)} ${us(a - b)}`);
  }
  lines.push('', 'self time, largest differences (certpin − plain), per operation:');
  const names = new Set([...certpin.self.keys(), ...plain.self.keys()]);
  const diffs = [...names].map((n) => [n, per(certpin.self.get(n)) - per(plain.self.get(n))] as [string, number]).sort((x, y) => Math.abs(y[1]) - Math.abs(x[1])).slice(0, 22);
  for (const [name, d] of diffs) lines.push(`  ${us(d)}  ${name}  (certpin ${per(certpin.self.get(name)).toFixed(1)}, plain ${per(plain.self.get(name)).toFixed(1)})`);
  lines.push('', "certpin's functions by inclusive time (callees included), per operation:");
  for (const [name, t] of top(certpin.inclusive, 25, (n) => n.includes('src/'))) lines.push(`  ${us(per(t))}  ${name}`);
  return lines.join('\n');
}

/** The functions with the most inclusive time matching `filter`. */
export function inclusiveReport(summary: ProfileSummary, operations: number, filter: (name: string) => boolean, count = 25): string {
  return top(summary.inclusive, count, filter)
    .map(([name, t]) => `  ${us(t / operations)}  ${name}`)
    .join('\n');
}

export function selfReport(summary: ProfileSummary, operations: number, count = 25): string {
  return top(summary.self, count)
    .filter(([name]) => !name.startsWith('(idle)'))
    .map(([name, t]) => `  ${us(t / operations)}  ${name}`)
    .join('\n');
}
