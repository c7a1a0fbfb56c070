/**
 * Measurement and verdicts. A comparison runs certpin's side (A) and the plain side (B) interleaved operation by
 * operation (A B, B A, …) so that drift hits both alike, and keeps, per round, the paired values A ÷ B for the
 * client's CPU time (`process.cpuUsage`: this process only, where certpin's work happens) and for wall time. A
 * verdict is read from the quartiles of those paired values, never from one median: a row passes only when the
 * interquartile range is inside the target.
 */

/** One side of a comparison: the operation, and optional work before and after each operation (not timed). */
export interface Side {
  readonly run: () => Promise<unknown> | unknown;
  readonly before?: () => Promise<unknown> | unknown;
  readonly after?: () => Promise<unknown> | unknown;
}

export interface Quartiles {
  readonly low: number;
  readonly median: number;
  readonly high: number;
}

/** A paired comparison of A (certpin) and B (plain). */
export interface Comparison {
  /** Medians over rounds of the mean per operation, microseconds. */
  readonly wallA: number;
  readonly wallB: number;
  readonly cpuA: number;
  readonly cpuB: number;
  /** Quartiles over rounds of the paired ratios A ÷ B. */
  readonly wallRatio: Quartiles;
  readonly cpuRatio: Quartiles;
  /** Quartiles over rounds of the paired differences A − B per operation, microseconds. */
  readonly wallDelta: Quartiles;
  readonly cpuDelta: Quartiles;
  /** Rounds in which certpin's side took more CPU time, and more wall time, than the plain side. */
  readonly cpuSlower: number;
  readonly wallSlower: number;
  readonly rounds: number;
  /** Operations per side (rounds × operations per round). */
  readonly operations: number;
}

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function quartiles(values: readonly number[]): Quartiles {
  return { low: quantile(values, 0.25), median: quantile(values, 0.5), high: quantile(values, 0.75) };
}

/** An operation that reports the time of the synchronous call that opens its connection, in µs. */
export type TimedOperation = (recordCall: (µs: number) => void) => Promise<void>;

/** Runs `open`, reports how long the call took to `recordCall`, and returns what it opened. */
export function timeCall<T>(recordCall: (µs: number) => void, open: () => T): T {
  const started = performance.now();
  const opened = open();
  recordCall((performance.now() - started) * 1000);
  return opened;
}

/**
 * Runs each operation `perRound` times per round, the order of the operations alternating from round to round, after
 * `warmUp` untimed runs of each. Per operation: the CPU time of this process per run, one value per round, and the
 * time of every synchronous call it reported.
 */
export async function interleavedRounds(operations: readonly TimedOperation[], rounds: number, perRound: number, warmUp = 30): Promise<{ cpu: number[][]; calls: number[][] }> {
  const ignore = () => {};
  for (let i = 0; i < warmUp; i++) for (const operation of operations) await operation(ignore);
  const cpu = operations.map((): number[] => []);
  const calls = operations.map((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < operations.length; k++) {
      const v = r % 2 === 0 ? k : operations.length - 1 - k;
      const record = (µs: number) => calls[v]!.push(µs);
      const start = process.cpuUsage();
      for (let i = 0; i < perRound; i++) await operations[v]!(record);
      const used = process.cpuUsage(start);
      cpu[v]!.push((used.user + used.system) / perRound);
    }
  }
  return { cpu, calls };
}

const collectGarbage = (globalThis as { gc?: () => void }).gc;

/** One batch of operations: microseconds per operation, wall clock and CPU time of the process that ran them. */
export interface Batch {
  readonly wall: number;
  readonly cpu: number;
}

/** Runs `count` operations of `side` here and times them as one batch. */
export async function timeBatch(side: Side, count: number): Promise<Batch> {
  let wall = 0;
  let cpu = 0;
  for (let i = 0; i < count; i++) {
    const t = await timeOne(side);
    wall += t.wall;
    cpu += t.cpu;
  }
  return { wall: wall / count, cpu: cpu / count };
}

/** One operation: wall and CPU microseconds (its `before` and `after` hooks are not timed). */
async function timeOne(side: Side): Promise<Batch> {
  await side.before?.();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await side.run();
  const wall = (performance.now() - start) * 1000;
  const cpu = process.cpuUsage(cpuStart);
  await side.after?.();
  return { wall, cpu: cpu.user + cpu.system };
}

function asSide(side: Side | Side['run']): Side {
  return typeof side === 'function' ? { run: side } : side;
}

export interface RoundOptions {
  readonly rounds: number;
  readonly perRound: number;
  /** Operations of each side before the measured rounds (default: one round's worth). */
  readonly warmup?: number;
  /** Called between rounds (not timed). */
  readonly between?: () => Promise<unknown>;
}

function summarizeRounds(rows: readonly { a: Batch; b: Batch }[], perRound: number): Comparison {
  return {
    wallA: median(rows.map((r) => r.a.wall)),
    wallB: median(rows.map((r) => r.b.wall)),
    cpuA: median(rows.map((r) => r.a.cpu)),
    cpuB: median(rows.map((r) => r.b.cpu)),
    wallRatio: quartiles(rows.map((r) => r.a.wall / r.b.wall)),
    cpuRatio: quartiles(rows.map((r) => r.a.cpu / r.b.cpu)),
    wallDelta: quartiles(rows.map((r) => r.a.wall - r.b.wall)),
    cpuDelta: quartiles(rows.map((r) => r.a.cpu - r.b.cpu)),
    cpuSlower: rows.filter((r) => r.a.cpu > r.b.cpu).length,
    wallSlower: rows.filter((r) => r.a.wall > r.b.wall).length,
    rounds: rows.length,
    operations: rows.length * perRound,
  };
}

/**
 * Runs batches of `a` (certpin) and `b` (plain) in `rounds` interleaved rounds (A B, B A, …) and pairs them per
 * round. `a` and `b` time their own batches (for sides that run in other processes).
 */
export async function compareBatches(a: (count: number) => Promise<Batch>, b: (count: number) => Promise<Batch>, options: RoundOptions): Promise<Comparison> {
  const warmup = options.warmup ?? options.perRound;
  if (warmup > 0) {
    await a(warmup);
    await b(warmup);
  }
  const rows: { a: Batch; b: Batch }[] = [];
  for (let round = 0; round < options.rounds; round++) {
    if (round % 2 === 0) {
      const ta = await a(options.perRound);
      rows.push({ a: ta, b: await b(options.perRound) });
    } else {
      const tb = await b(options.perRound);
      rows.push({ a: await a(options.perRound), b: tb });
    }
    await options.between?.();
  }
  return summarizeRounds(rows, options.perRound);
}

/**
 * Compares operations run in this process, interleaved one by one (A B, B A, A B, …) so that both sides meet the
 * same load on a shared machine, millisecond by millisecond; a round sums `perRound` operations of each side, and
 * the verdict reads the per-round pairs. Garbage is collected before each round (with --expose-gc), not within it,
 * so each side pays within the round for the garbage it makes.
 */
export async function compare(a: Side | Side['run'], b: Side | Side['run'], options: RoundOptions): Promise<Comparison> {
  const sideA = asSide(a);
  const sideB = asSide(b);
  const warmup = options.warmup ?? options.perRound;
  for (let i = 0; i < warmup; i++) {
    await sideA.run();
    await sideB.run();
  }
  const rows: { a: Batch; b: Batch }[] = [];
  for (let round = 0; round < options.rounds; round++) {
    collectGarbage?.();
    const sum = { a: { wall: 0, cpu: 0 }, b: { wall: 0, cpu: 0 } };
    for (let i = 0; i < options.perRound; i++) {
      const order = (i + round) % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const);
      for (const side of order) {
        const t = await timeOne(side === 'a' ? sideA : sideB);
        sum[side].wall += t.wall;
        sum[side].cpu += t.cpu;
      }
    }
    const per = (x: { wall: number; cpu: number }) => ({ wall: x.wall / options.perRound, cpu: x.cpu / options.perRound });
    rows.push({ a: per(sum.a), b: per(sum.b) });
    await options.between?.();
  }
  return summarizeRounds(rows, options.perRound);
}

/** How many rounds, and how long a round should take per side (the number of operations follows from a warm-up). */
export interface SizedRounds {
  readonly rounds: number;
  /** Target time of one side's operations in a round, milliseconds; 0 takes `minPerRound`. */
  readonly batchMs: number;
  readonly minPerRound: number;
  readonly maxPerRound: number;
  /** Operations of each side before anything is measured (also times one operation). */
  readonly warmup: number;
}

/**
 * {@link compare} with rounds sized to take about `batchMs` per side: long enough to average out the scheduling
 * noise of a shared machine, whatever one operation costs. `afterWarmup` runs between the warm-up and the measured
 * rounds (e.g. to snapshot the server's counts).
 */
export async function sizedCompare(a: Side | Side['run'], b: Side | Side['run'], sizing: SizedRounds, afterWarmup?: () => Promise<unknown>): Promise<Comparison & { perRound: number }> {
  const sideA = asSide(a);
  const sideB = asSide(b);
  const wa = await timeBatch(sideA, sizing.warmup);
  const wb = await timeBatch(sideB, sizing.warmup);
  const opMs = Math.max(wa.wall, wb.wall) / 1000;
  const perRound = sizing.batchMs > 0 ? Math.min(sizing.maxPerRound, Math.max(sizing.minPerRound, Math.round(sizing.batchMs / opMs))) : sizing.minPerRound;
  await afterWarmup?.();
  const result = await compare(sideA, sideB, { rounds: sizing.rounds, perRound, warmup: 0 });
  return { ...result, perRound };
}

/** Synchronous micro-benchmark: quartiles over `rounds` batches of the nanoseconds per call of `fn`. */
export function nsPerCall(fn: (i: number) => unknown, options: { rounds: number; perRound: number }): Quartiles {
  let sink = 0;
  for (let i = 0; i < options.perRound; i++) if (fn(i)) sink++;
  const times: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < options.perRound; i++) if (fn(i)) sink++;
    times.push(Number(process.hrtime.bigint() - start) / options.perRound);
  }
  if (sink < 0) console.log(sink); // keeps the calls from being optimised away
  return quartiles(times);
}

export type Verdict = '' | 'PASS' | 'MISS' | 'NOISE';

/**
 * The verdict for a cost of "at most `limit`", where no cost at all is 0 (a time, or a time added to a baseline):
 * PASS when the interquartile range of every measure is inside the target, its upper quartile within `limit` and
 * its width no more than the target allows (a spread wider than the allowance cannot tell whether the cost is within
 * it: an import measured at −15 ms with an IQR of −22 … +22 ms is noise, not a pass); MISS when the median of any
 * measure is outside it; NOISE otherwise.
 */
export function atMost(limit: number, ...measures: readonly Quartiles[]): Verdict {
  return verdictWithin(limit, 0, measures);
}

/** The same for a ratio of certpin to a baseline, "at most `limit`×", where no cost at all is 1×. */
export function ratioAtMost(limit: number, ...measures: readonly Quartiles[]): Verdict {
  return verdictWithin(limit, 1, measures);
}

function verdictWithin(limit: number, noCost: number, measures: readonly Quartiles[]): Verdict {
  if (measures.some((m) => !Number.isFinite(m.median))) return '';
  if (measures.some((m) => m.median > limit)) return 'MISS';
  const allowance = limit - noCost;
  if (measures.every((m) => m.high <= limit && m.high - m.low <= allowance)) return 'PASS';
  return 'NOISE';
}

export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  const sign = us < 0 ? '−' : '';
  const v = Math.abs(us);
  if (v >= 1000) return `${sign}${(v / 1000).toFixed(2)} ms`;
  if (v >= 100) return `${sign}${v.toFixed(0)} µs`;
  if (v >= 10) return `${sign}${v.toFixed(1)} µs`;
  return `${sign}${v.toFixed(2)} µs`;
}

export function formatNanos(ns: number): string {
  return Math.abs(ns) >= 1000 ? formatMicros(ns / 1000) : `${ns.toFixed(0)} ns`;
}

/** `+4.2 %` for a ratio of 1.042. */
export function percent(ratio: number, digits = 1): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  const p = (ratio - 1) * 100;
  return `${p >= 0 ? '+' : '−'}${Math.abs(p).toFixed(digits)} %`;
}

/** `+4.2 % (IQR +1.0 … +6.3)`. */
export function ratioWithSpread(q: Quartiles): string {
  return `${percent(q.median)} (IQR ${percent(q.low)} … ${percent(q.high)})`;
}

/** A row: its cells (as the table's header names them) and its verdict ('' for information only). */
export interface Row {
  readonly cells: readonly string[];
  readonly verdict: Verdict;
  /** For an A/A control row (verdict ''): the verdict the same rule gives it, as if it were certpin's row. */
  readonly control?: Verdict;
}

/** One table of the report. */
export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly Row[];
  /** Lines printed under the table. */
  readonly notes?: readonly string[];
}

/** Markdown tables (readable as is in a terminal, pasteable into BENCHMARKS.md). */
export function renderTables(tables: readonly Table[]): string {
  const out: string[] = [];
  for (const table of tables) {
    const header = [...table.header, 'verdict'];
    const cells = table.rows.map((r) => [...r.cells, r.verdict]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
    const line = (c: readonly string[]) => `| ${header.map((_, i) => (c[i] ?? '').padEnd(widths[i]!)).join(' | ')} |`;
    out.push(`#### ${table.title}`, '', line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line), '');
    for (const note of table.notes ?? []) out.push(note);
    if (table.notes?.length) out.push('');
  }
  return out.join('\n');
}
