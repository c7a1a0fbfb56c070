#!/usr/bin/env node
// Start-up cost of loading certpin as an installed package: the median wall time of a child process that imports (or
// requires) an entry, minus the median of `node -e 0`, the two run interleaved so that the machine's load hits both
// alike; and the same for the CPU time each child used, which stays meaningful on a busy machine. With --modules, also lists the Node built-ins an entry loads beyond a bare `node -e 0`, to show what
// dominates.
//
//   node scripts/measure-import.mjs [--cwd DIR] [--runs N] [--node PATH] [--modules] [ENTRY…]
//
// DIR is a project with certpin installed (default: the current directory); ENTRY is `import:SPECIFIER` or
// `require:SPECIFIER`, several specifiers joined with `+` (default: import:certpin require:certpin
// import:certpin/tools). E.g. `require:node:https+node:http2` measures what two built-ins cost together.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    cwd: { type: 'string', default: process.cwd() },
    runs: { type: 'string', default: '21' },
    node: { type: 'string', default: process.execPath },
    modules: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: give a whole number of runs, e.g. --runs 21`);
const entries = positionals.length > 0 ? positionals : ['import:certpin', 'require:certpin', 'import:certpin/tools'];

// Printed by every child once loaded: the CPU time it used, which a busy machine inflates far less than wall time.
const CPU = 'console.log(JSON.stringify(process.cpuUsage()))';

/** The code a child runs to load `entry`, or to load nothing for the baseline. */
function script(entry, after = CPU) {
  if (entry === null) return ['-e', `0;${after}`];
  const [how, list] = entry.split(/:(.*)/s);
  const specifiers = list.split('+');
  if (how === 'import') return ['--input-type=module', '-e', `${specifiers.map((s) => `await import(${JSON.stringify(s)});`).join('')}${after}`];
  if (how === 'require') return ['-e', `${specifiers.map((s) => `require(${JSON.stringify(s)});`).join('')}${after}`];
  throw new Error(`${entry}: write an entry as import:SPECIFIER or require:SPECIFIER, e.g. import:certpin`);
}

/** One child process: its wall time as seen from here, and the CPU time (user + system) it reports itself. */
function timeOnce(args) {
  const start = process.hrtime.bigint();
  const child = spawnSync(values.node, args, { cwd: values.cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (child.status !== 0) throw new Error(`${values.node} ${args.join(' ')} failed in ${values.cwd}:\n${child.stderr}`);
  const { user, system } = JSON.parse(child.stdout.trim().split('\n').at(-1));
  return { wall, cpu: (user + system) / 1000 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const version = spawnSync(values.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`node ${version}, ${runs} runs each, interleaved with node -e 0, in ${values.cwd}`);
console.log(`${'entry'.padEnd(24)} ${'wall'.padStart(8)} ${'node -e 0'.padStart(10)} ${'added'.padStart(8)}   ${'CPU'.padStart(8)} ${'node -e 0'.padStart(10)} ${'added'.padStart(8)}`);
for (const entry of entries) {
  timeOnce(script(entry)); // warm the file system cache
  const base = [];
  const loaded = [];
  for (let i = 0; i < runs; i++) {
    base.push(timeOnce(script(null)));
    loaded.push(timeOnce(script(entry)));
  }
  const cells = ['wall', 'cpu'].flatMap((k) => {
    const b = median(base.map((r) => r[k]));
    const l = median(loaded.map((r) => r[k]));
    return [`${l.toFixed(1)} ms`.padStart(8), `${b.toFixed(1)} ms`.padStart(10), `+${(l - b).toFixed(1)} ms`.padStart(8)];
  });
  console.log(`${entry.padEnd(24)} ${cells.slice(0, 3).join(' ')}   ${cells.slice(3).join(' ')}`);
}

if (values.modules) {
  // The Node built-ins each entry loads that a bare process does not (process.moduleLoadList).
  const probe = `console.log(JSON.stringify({ builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)) }))`;
  const listOf = (entry) => {
    const child = spawnSync(values.node, script(entry, probe), { cwd: values.cwd, encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    return JSON.parse(child.stdout);
  };
  const bare = new Set(listOf(null).builtins);
  for (const entry of entries) {
    const { builtins } = listOf(entry);
    console.log(`\n${entry}: built-ins beyond node -e 0:\n  ${builtins.filter((m) => !bare.has(m) && !m.startsWith('internal/')).join(' ')}`);
  }
}
