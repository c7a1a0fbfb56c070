/**
 * Measurement helpers: side-by-side comparisons interleaved in rounds (A then B, then B then A, …) so that drift
 * (CPU frequency, GC, other processes) hits both sides alike, and the numbers the table prints.
 */
export type Operation = () => Promise<unknown> | unknown;

export interface Comparison {
  /** Median over rounds of the mean time per operation, in microseconds. */
  readonly a: number;
  readonly b: number;
  /** Median of the per-round ratios a/b (paired, so drift between rounds cancels). */
  readonly ratio: number;
  /** Interquartile range of the per-round ratios: the noise of this measurement. */
  readonly ratioLow: number;
  readonly ratioHigh: number;
  readonly operations: number;
  /**
   * Median over rounds of this process's CPU time (user + system) per operation, in microseconds: the client's own
   * work, which is where certpin's cost lies, without the scheduling noise of a wall clock shared with the server.
   */
  readonly cpuA: number;
  readonly cpuB: number;
  /** Median and interquartile range over rounds of the paired CPU difference a − b per operation, in microseconds. */
  readonly cpuDelta: number;
  readonly cpuDeltaLow: number;
  readonly cpuDeltaHigh: number;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

interface Batch {
  /** Wall-clock microseconds per operation. */
  readonly wall: number;
  /** Process CPU microseconds per operation. */
  readonly cpu: number;
}

async function timeBatch(operation: Operation, count: number): Promise<Batch> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i++) await operation();
  const wall = ((performance.now() - start) * 1000) / count;
  const cpu = process.cpuUsage(cpuStart);
  return { wall, cpu: (cpu.user + cpu.system) / count };
}

/**
 * Runs `a` and `b` in `rounds` interleaved rounds of `perRound` operations each (after `warmup` of each), and
 * returns microseconds per operation and their ratio.
 */
export async function compare(a: Operation, b: Operation, options: { rounds: number; perRound: number; warmup?: number }): Promise<Comparison> {
  const warmup = options.warmup ?? options.perRound;
  await timeBatch(a, warmup);
  await timeBatch(b, warmup);
  const aTimes: number[] = [];
  const bTimes: number[] = [];
  const aCpu: number[] = [];
  const bCpu: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    let ta: Batch;
    let tb: Batch;
    if (round % 2 === 0) {
      ta = await timeBatch(a, options.perRound);
      tb = await timeBatch(b, options.perRound);
    } else {
      tb = await timeBatch(b, options.perRound);
      ta = await timeBatch(a, options.perRound);
    }
    aTimes.push(ta.wall);
    bTimes.push(tb.wall);
    aCpu.push(ta.cpu);
    bCpu.push(tb.cpu);
    ratios.push(ta.wall / tb.wall);
  }
  return {
    a: median(aTimes),
    b: median(bTimes),
    ratio: median(ratios),
    ratioLow: quantile(ratios, 0.25),
    ratioHigh: quantile(ratios, 0.75),
    operations: options.rounds * options.perRound,
    cpuA: median(aCpu),
    cpuB: median(bCpu),
    cpuDelta: median(aCpu.map((x, i) => x - bCpu[i]!)),
    cpuDeltaLow: quantile(aCpu.map((x, i) => x - bCpu[i]!), 0.25),
    cpuDeltaHigh: quantile(aCpu.map((x, i) => x - bCpu[i]!), 0.75),
  };
}

/** Synchronous micro-benchmark: nanoseconds per call of `fn`, median of `rounds` batches of `perRound` calls. */
export function nsPerCall(fn: (i: number) => unknown, options: { rounds: number; perRound: number }): number {
  let sink = 0;
  for (let i = 0; i < options.perRound; i++) if (fn(i)) sink++;
  const times: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < options.perRound; i++) if (fn(i)) sink++;
    times.push(Number(process.hrtime.bigint() - start) / options.perRound);
  }
  if (sink < 0) console.log(sink); // keeps the calls from being optimised away
  return median(times);
}

export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  if (Math.abs(us) >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (Math.abs(us) >= 10) return `${us.toFixed(0)} µs`;
  return `${us.toFixed(1)} µs`;
}

export function formatNanos(ns: number): string {
  return ns >= 1000 ? formatMicros(ns / 1000) : `${ns.toFixed(0)} ns`;
}

export interface Row {
  readonly measurement: string;
  readonly certpin: string;
  readonly baseline: string;
  readonly result: string;
  readonly target: string;
  /**
   * 'PASS' (the median meets the target), 'MISS' (even the favourable quartile misses it), 'NOISE' (the median
   * misses but the interquartile range straddles the target: not resolved at this sample size), or '' (info).
   */
  readonly verdict: '' | 'PASS' | 'MISS' | 'NOISE';
}

/** A Markdown table (readable as is in a terminal, pasteable into BENCHMARKS.md). */
export function renderTable(rows: readonly Row[]): string {
  const header = ['measurement', 'certpin', 'baseline', 'ratio / cost', 'target', ''];
  const cells = rows.map((r) => [r.measurement, r.certpin, r.baseline, r.result, r.target, r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
