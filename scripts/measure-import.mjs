#!/usr/bin/env node
// Start-up cost of loading certpin as an installed package: the median wall time of a child process that imports (or
// requires) an entry, minus the median of `node -e 0`, the two run interleaved so that the machine's load hits both
// alike. With --modules, also lists the Node built-ins an entry loads beyond a bare `node -e 0`, to show what
// dominates.
//
//   node scripts/measure-import.mjs [--cwd DIR] [--runs N] [--node PATH] [--modules] [ENTRY…]
//
// DIR is a project with certpin installed (default: the current directory); ENTRY is `import:SPECIFIER` or
// `require:SPECIFIER` (default: import:certpin require:certpin import:certpin/tools).
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

/** The code a child runs to load `entry`, or to load nothing for the baseline. */
function script(entry, after = '') {
  if (entry === null) return ['-e', `0;${after}`];
  const [how, specifier] = entry.split(/:(.*)/s);
  if (how === 'import') return ['--input-type=module', '-e', `await import(${JSON.stringify(specifier)});${after}`];
  if (how === 'require') return ['-e', `require(${JSON.stringify(specifier)});${after}`];
  throw new Error(`${entry}: write an entry as import:SPECIFIER or require:SPECIFIER, e.g. import:certpin`);
}

function timeOnce(args) {
  const start = process.hrtime.bigint();
  const child = spawnSync(values.node, args, { cwd: values.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (child.status !== 0) throw new Error(`${values.node} ${args.join(' ')} failed in ${values.cwd}:\n${child.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const version = spawnSync(values.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`node ${version}, ${runs} runs each, interleaved with node -e 0, in ${values.cwd}`);
for (const entry of entries) {
  timeOnce(script(entry)); // warm the file system cache
  const base = [];
  const loaded = [];
  for (let i = 0; i < runs; i++) {
    base.push(timeOnce(script(null)));
    loaded.push(timeOnce(script(entry)));
  }
  const b = median(base);
  const l = median(loaded);
  console.log(`${entry.padEnd(28)} ${l.toFixed(1).padStart(6)} ms   node -e 0 ${b.toFixed(1).padStart(6)} ms   +${(l - b).toFixed(1)} ms`);
}

if (values.modules) {
  // The Node built-ins each entry loads that a bare process does not (process.moduleLoadList).
  const probe = `console.log(JSON.stringify({ builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)) }))`;
  const listOf = (entry) => {
    const args = script(entry);
    const child = spawnSync(values.node, [...args.slice(0, -1), `${args.at(-1)};${probe}`], { cwd: values.cwd, encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    return JSON.parse(child.stdout);
  };
  const bare = new Set(listOf(null).builtins);
  for (const entry of entries) {
    const { builtins } = listOf(entry);
    console.log(`\n${entry}: built-ins beyond node -e 0:\n  ${builtins.filter((m) => !bare.has(m) && !m.startsWith('internal/')).join(' ')}`);
  }
}
