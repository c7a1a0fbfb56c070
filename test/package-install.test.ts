/**
 * certpin as users get it: the packed tarball, installed with npm into fresh projects, run on the Node that runs this
 * test. An ES module project and a CommonJS project without the optional peers (axios, got, ws); TypeScript projects
 * (strict, with axios, got and ws installed) for `module`/`moduleResolution` node16, nodenext, bundler and the legacy
 * commonjs/node10, each with an ES module and a CommonJS half where the setting allows both, compiled and then run;
 * the README's examples type-checked against the installed declarations; attw and publint on the tarball.
 *
 * The build, the tarball, the installs and the compilation depend only on the sources, not on the Node that runs
 * them: they are made once in `$TMPDIR/certpin-package-install-<repo>/<fingerprint of the inputs>/` and reused by
 * the runs on other Node versions. Running the results (which differs by Node version) happens every time. The
 * workspace is outside the repository, where Node and TypeScript would find the repository's node_modules.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const repo = path.resolve(import.meta.dirname, '..');
const execFileP = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string; exports: Record<string, unknown> };

/** What the build and this test's projects are made from: a change to any of them makes a new workspace. */
const INPUTS = ['package.json', 'package-lock.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts', 'bin', 'schema', 'docs'];
/** What the tarball is built from, copied to a staging directory so that the build never touches the repo's dist/. */
const BUILD_INPUTS = ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts', 'bin', 'schema', 'docs'];

const PIN_A = `sha256/${'A'.repeat(43)}=`;
const PIN_B = `sha256/${'B'.repeat(42)}A=`;

function filesUnder(entry: string): string[] {
  const full = path.join(repo, entry);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [entry];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(repo, path.join(d.parentPath, d.name)))
    .sort();
}

function fingerprint(): string {
  const hash = createHash('sha256');
  for (const file of [...INPUTS.flatMap(filesUnder), path.relative(repo, import.meta.filename)]) {
    hash.update(`${file}\0`).update(readFileSync(path.join(repo, file))).update('\0');
  }
  hash.update(readFileSync(createRequire(import.meta.url).resolve('typescript/package.json')));
  return hash.digest('hex').slice(0, 16);
}

/**
 * What a child process gets of this one's environment: without what `npm run` sets about this repository (its
 * package, its prefix), which would make npm in a consumer project act on the repository instead.
 */
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_(package_|lifecycle_|config_local_prefix$|command$)/.test(name)));

async function run(command: string, args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(command, args, { cwd, env: childEnv, maxBuffer: 16 << 20 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed:\n${stderr ?? ''}${stdout ?? ''}`, { cause: error });
  }
}

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function writeJson(file: string, value: unknown): void {
  write(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The version of a dev dependency in the repo, so that npm finds it in its cache (npm ci put it there). */
function repoVersion(name: string): string {
  return (JSON.parse(readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

// ---------------------------------------------------------------------------------------------------------------
// The projects

/** An ES module project without axios, got or ws: every entry loads. */
const BARE_ESM = `import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PinPolicy, pinnedAgent, pinnedFetch, errors } from 'certpin';
import { parsePin, spkiPin } from 'certpin/tools';
import { pinAxios } from 'certpin/axios';
import { pinnedGotOptions } from 'certpin/got';
import { pinnedWebSocketOptions } from 'certpin/ws';

for (const peer of ['axios', 'got', 'ws']) await assert.rejects(import(peer), { code: 'ERR_MODULE_NOT_FOUND' }, peer + ' is installed');
await assert.rejects(import('certpin/dist/core/pin.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });

const policy = new PinPolicy({ hosts: { 'api.example.com': ['${PIN_A}', '${PIN_B}'] } });
assert.equal(parsePin('${PIN_A}').canonical, '${PIN_A}');
assert.equal(typeof spkiPin, 'function');
assert.throws(() => parsePin('nonsense'), errors.InvalidPinError);
assert.equal(typeof pinnedFetch(policy), 'function');
assert.equal(typeof pinAxios, 'function');
const agent = pinnedAgent(policy);
const got = pinnedGotOptions(policy);
const ws = pinnedWebSocketOptions(policy);
for (const a of [agent, got.agent.https, got.agent.http, ws.agent]) a.destroy();

const schema = JSON.parse(readFileSync(fileURLToPath(import.meta.resolve('certpin/schema.json')), 'utf8'));
assert.equal(typeof schema.$schema, 'string');
const manifest = JSON.parse(readFileSync(fileURLToPath(import.meta.resolve('certpin/package.json')), 'utf8'));
assert.equal(manifest.version, '${pkg.version}');
console.log('ok');
`;

/** A CommonJS project without axios, got or ws: require() of every entry. */
const BARE_CJS = `'use strict';
const assert = require('node:assert/strict');
const { PinPolicy, pinnedAgent, pinnedFetch, errors } = require('certpin');
const { parsePin, spkiPin } = require('certpin/tools');
const { pinAxios } = require('certpin/axios');
const { pinnedGotOptions } = require('certpin/got');
const { pinnedWebSocketOptions } = require('certpin/ws');

for (const peer of ['axios', 'got', 'ws']) assert.throws(() => require(peer), { code: 'MODULE_NOT_FOUND' }, peer + ' is installed');
assert.throws(() => require('certpin/dist/core/pin.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });

const policy = new PinPolicy({ hosts: { 'api.example.com': ['${PIN_A}', '${PIN_B}'] } });
assert.equal(parsePin('${PIN_A}').canonical, '${PIN_A}');
assert.equal(typeof spkiPin, 'function');
assert.throws(() => parsePin('nonsense'), errors.InvalidPinError);
assert.equal(typeof pinnedFetch(policy), 'function');
assert.equal(typeof pinAxios, 'function');
const agent = pinnedAgent(policy);
const got = pinnedGotOptions(policy);
const ws = pinnedWebSocketOptions(policy);
for (const a of [agent, got.agent.https, got.agent.http, ws.agent]) a.destroy();

assert.equal(typeof require('certpin/schema.json').$schema, 'string');
assert.equal(require('certpin/package.json').version, '${pkg.version}');
console.log('ok');
`;

/**
 * CommonJS and ES module code in one process share certpin: require() and import() give the same module, so a policy
 * made through one is a PinPolicy to the code loaded through the other (a dual build would make two of each class,
 * two session caches and two report queues). The port is one that nothing listens on, on 127.0.0.1.
 */
const SAME_INSTANCE = `'use strict';
const assert = require('node:assert/strict');
(async () => {
  for (const entry of ['certpin', 'certpin/tools', 'certpin/axios', 'certpin/got', 'certpin/ws']) {
    const viaRequire = require(entry);
    const viaImport = await import(entry);
    assert.deepEqual(Object.keys(viaRequire).sort(), Object.keys(viaImport).sort(), entry);
    for (const name of Object.keys(viaImport)) assert.equal(viaRequire[name], viaImport[name], entry + ' ' + name);
  }
  const viaRequire = require('certpin');
  const viaImport = await import('certpin');
  assert.equal(viaRequire.PinPolicy, viaImport.PinPolicy);
  const policy = new viaRequire.PinPolicy({ hosts: { '127.0.0.1': ['${PIN_A}', '${PIN_B}'] } });
  assert.ok(policy instanceof viaImport.PinPolicy);
  // checkConnection refuses anything that is not a PinPolicy of its own module with a TypeError.
  const check = await viaImport.checkConnection('https://127.0.0.1:' + process.argv[2] + '/', policy, { timeout: 5000 });
  assert.equal(check.status, 'CONNECTION_NOT_SECURE');
  assert.match(check.reason, /refused/);
  const { pinnedWebSocketOptions } = await import('certpin/ws');
  const ws = pinnedWebSocketOptions(policy);
  assert.equal(ws.agent.https.policy, policy);
  ws.agent.destroy();
  console.log('ok');
})().catch((error) => { console.error(error); process.exitCode = 1; });
`;

/**
 * The TypeScript program of every TypeScript project: the entries, a PinPolicy, and the types users rely on without a
 * cast. `@ts-expect-error` lines prove that the types are real (an unresolved module would make them `any`).
 */
function typescriptMain(withGot: boolean): string {
  return `import assert from 'node:assert/strict';
import https from 'node:https';
import { PinPolicy, classifyError, errors, pinnedAgent, pinnedDispatcher, pinnedFetch } from 'certpin';
import type { PinPolicyOptions, PinnedAgent, PinningErrorDetails } from 'certpin';
import { parsePin, spkiPin } from 'certpin/tools';
import type { Pin } from 'certpin/tools';
import { pinAxios } from 'certpin/axios';
${withGot ? "import { pinnedGotOptions } from 'certpin/got';\n" : ''}import { pinnedWebSocketOptions } from 'certpin/ws';

const options: PinPolicyOptions = { hosts: { 'api.example.com': ['${PIN_A}', '${PIN_B}'] } };
const policy = new PinPolicy(options);
const pinned: typeof fetch = pinnedFetch(policy);
const agent: PinnedAgent = pinnedAgent(policy);
const pin: Pin = parsePin('${PIN_A}');

// Compiled, never called: these would connect.
export function typesOnly(): void {
  https.request('https://api.example.com/v1/balance', { agent }, (res) => res.resume()).end();
  https.get({ host: 'api.example.com', path: '/', agent: pinnedAgent(policy) });
  void pinned('https://api.example.com/v1/balance', { method: 'POST', body: '{}' }).then((res) => res.json());
  void fetch('https://api.example.com/', { dispatcher: pinnedDispatcher(policy) } as unknown as RequestInit);
  try {
    spkiPin('');
  } catch (err) {
    if (err instanceof errors.PinningError) {
      const details: PinningErrorDetails = err;
      console.log(details.host, err.code);
    }
    console.log(classifyError(err).kind);
  }
}

// Never called either: each line is a type error, and would be none if the types had resolved to \`any\`.
export function typeErrors(): unknown[] {
  // @ts-expect-error hosts maps host names to pin sets
  const wrongPolicy = new PinPolicy({ hosts: 42 });
  // @ts-expect-error a pin is text
  const wrongPin = parsePin(42);
  // @ts-expect-error pinnedAgent gives an https.Agent, not a fetch function
  const wrongFetch: typeof fetch = pinnedAgent(policy);
  return [wrongPolicy, wrongPin, wrongFetch];
}

assert.ok(agent instanceof https.Agent);
assert.equal(typeof pinned, 'function');
assert.equal(pin.canonical, '${PIN_A}');
assert.equal(typeof pinAxios, 'function');
const ws = pinnedWebSocketOptions(policy);
${withGot ? 'const got = pinnedGotOptions(policy);\ngot.agent.https.destroy();\ngot.agent.http.destroy();\n' : ''}ws.agent.destroy();
agent.destroy();
console.log('ok');
`;
}

interface TypeScriptProject {
  /** Directory under typed/, and the test's name for it. */
  readonly name: string;
  readonly compilerOptions: Record<string, unknown>;
  /** The halves: a directory each, with its package.json `type`. */
  readonly halves: readonly ('esm' | 'cjs')[];
  /**
   * Whether it uses got too (axios and ws it always uses). got's types are the heaviest of the three (type-fest: 165
   * files), so one project is enough, and node10 resolution cannot see them (got has only an exports map).
   */
  readonly withGot: boolean;
  /** The README's examples, type-checked in the ESM half. */
  readonly readme?: boolean;
}

const TYPESCRIPT_PROJECTS: readonly TypeScriptProject[] = [
  { name: 'node16', compilerOptions: { module: 'node16', moduleResolution: 'node16' }, halves: ['esm', 'cjs'], withGot: false },
  { name: 'nodenext', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' }, halves: ['esm', 'cjs'], withGot: true, readme: true },
  { name: 'bundler', compilerOptions: { module: 'esnext', moduleResolution: 'bundler' }, halves: ['esm'], withGot: false },
  { name: 'commonjs-node10', compilerOptions: { module: 'commonjs', moduleResolution: 'node10' }, halves: ['cjs'], withGot: false },
];

/** The README's TypeScript examples, as test/readme.test.ts takes them (a snippet may use an earlier `policy`). */
function readmeSnippets(): string[] {
  const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => {
    const code = m[1]!;
    const context = /\b(const|let) policy\b/.test(code) ? '' : "declare const policy: import('certpin').PinPolicy;\n";
    return `${context}${code}\nexport {};\n`;
  });
}

/**
 * Compiles a project with the TypeScript compiler API, as `tsc -p` would with the project's tsconfig (strict,
 * skipLibCheck off), except that of the declaration files only certpin's are checked: other packages' are not
 * certpin's to fix, and checking @types/node in each project costs more than the rest of this test. Runs in a child
 * process, so that the projects compile side by side; prints the diagnostics as a JSON array.
 */
const COMPILE = `
import assert from 'node:assert/strict';
import path from 'node:path';
import ts from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('typescript')).href)};
const dir = process.argv[1];
const config = ts.getParsedCommandLineOfConfigFile(path.join(dir, 'tsconfig.json'), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\\n')); },
});
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
const own = program.getSourceFiles().filter((f) => !f.fileName.includes('/node_modules/') || f.fileName.includes('/node_modules/certpin/'));
assert.ok(own.some((f) => f.fileName.includes('/node_modules/certpin/')), dir + ": certpin's declarations were not found");
const diagnostics = [
  ...config.errors,
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...own.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
];
if (diagnostics.length === 0) diagnostics.push(...program.emit().diagnostics);
console.log(JSON.stringify(diagnostics.map((d) => {
  const where = d.file ? path.relative(dir, d.file.fileName) + ':' + (d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1) + ': ' : '';
  return where + ts.flattenDiagnosticMessageText(d.messageText, '\\n');
})));
`;

async function compile(dir: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', COMPILE, dir], dir);
  return JSON.parse(stdout) as string[];
}

/** Runs `task` on each item, `width` at a time. */
async function eachLimited<T, R>(items: readonly T[], width: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------------------------
// The workspace: made once per fingerprint

interface PackedFile {
  readonly path: string;
  readonly size: number;
}

interface Workspace {
  readonly dir: string;
  readonly tarball: string;
  readonly files: readonly PackedFile[];
  readonly size: number;
  readonly unpackedSize: number;
  readonly attw: { readonly ok: boolean; readonly output: string };
  readonly publint: readonly string[];
  readonly compiled: Readonly<Record<string, readonly string[]>>;
}

async function makeWorkspace(dir: string): Promise<void> {
  const install = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', '--loglevel=error'];
  const stage = path.join(dir, 'stage');
  const bare = path.join(dir, 'bare');
  const typed = path.join(dir, 'typed');
  writeJson(path.join(bare, 'package.json'), { name: 'bare-consumer', version: '1.0.0', private: true });
  writeJson(path.join(typed, 'package.json'), { name: 'typed-consumer', version: '1.0.0', private: true });
  const peers = ['@types/node', 'axios', 'got', 'ws', '@types/ws'].map((name) => `${name}@${repoVersion(name)}`);

  // The typed project's other packages install while certpin builds.
  const build = async (): Promise<{ filename: string; size: number; unpackedSize: number; files: PackedFile[] }> => {
    for (const entry of BUILD_INPUTS) cpSync(path.join(repo, entry), path.join(stage, entry), { recursive: true });
    symlinkSync(path.join(repo, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
    await run(process.execPath, ['scripts/build.mjs'], stage);
    const packed = JSON.parse((await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], stage)).stdout) as Awaited<ReturnType<typeof build>>[];
    rmSync(stage, { recursive: true, force: true });
    return packed[0]!;
  };
  const [{ filename, size, unpackedSize, files }] = await Promise.all([build(), run(npm, [...install, ...peers], typed)]);
  const tarball = path.join(dir, filename);

  const attwCli = path.join(repo, 'node_modules/@arethetypeswrong/cli/dist/index.js');
  const [attw] = await Promise.all([
    execFileP(process.execPath, [attwCli, tarball, '--no-color', '--format', 'table-flipped'], { cwd: dir, env: childEnv }).then(
      ({ stdout }) => ({ ok: true, output: stdout }),
      (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
    ),
    run(npm, [...install, tarball], bare),
    run(npm, [...install, tarball], typed),
  ]);

  const { publint } = await import('publint');
  const { formatMessage } = await import('publint/utils');
  const bytes = readFileSync(tarball);
  const lint = await publint({ pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }, strict: true });
  const publintMessages = lint.messages.map((m) => `${m.type}: ${formatMessage(m, lint.pkg) ?? m.code}`);

  writeJson(path.join(bare, 'esm/package.json'), { type: 'module' });
  write(path.join(bare, 'esm/main.js'), BARE_ESM);
  writeJson(path.join(bare, 'cjs/package.json'), { type: 'commonjs' });
  write(path.join(bare, 'cjs/main.js'), BARE_CJS);
  write(path.join(bare, 'cjs/same-instance.js'), SAME_INSTANCE);

  for (const project of TYPESCRIPT_PROJECTS) {
    const root = path.join(typed, project.name);
    writeJson(path.join(root, 'tsconfig.json'), {
      compilerOptions: { target: 'ES2022', lib: ['ES2023'], types: ['node'], strict: true, skipLibCheck: false, esModuleInterop: true, ...project.compilerOptions },
      include: ['esm', 'cjs'],
    });
    for (const half of project.halves) {
      writeJson(path.join(root, half, 'package.json'), { type: half === 'esm' ? 'module' : 'commonjs' });
      write(path.join(root, half, 'main.ts'), typescriptMain(project.withGot));
    }
    if (project.readme) readmeSnippets().forEach((code, i) => write(path.join(root, 'esm/readme', `snippet${i + 1}.ts`), code));
  }
  const diagnostics = await eachLimited(TYPESCRIPT_PROJECTS, 2, (project) => compile(path.join(typed, project.name)));
  const compiled = Object.fromEntries(TYPESCRIPT_PROJECTS.map((project, i) => [project.name, diagnostics[i]]));

  writeJson(path.join(dir, 'workspace.json'), { tarball, files, size, unpackedSize, attw, publint: publintMessages, compiled });
}

/** The workspace of the current inputs: made now, or by an earlier run (another Node version) on the same inputs. */
async function workspace(): Promise<Workspace> {
  // Outside the repository, where Node and TypeScript would find its node_modules (axios, got, ws) by walking up.
  const base = path.join(os.tmpdir(), `certpin-package-install-${createHash('sha256').update(repo).digest('hex').slice(0, 8)}`);
  const id = fingerprint();
  const dir = path.join(base, id);
  if (!existsSync(path.join(dir, 'workspace.json'))) {
    const building = path.join(base, `.build-${id}-${randomBytes(4).toString('hex')}`);
    mkdirSync(building, { recursive: true });
    try {
      await makeWorkspace(building);
      // The tarball's path moves with the directory.
      const made = JSON.parse(readFileSync(path.join(building, 'workspace.json'), 'utf8')) as Workspace;
      writeJson(path.join(building, 'workspace.json'), { ...made, tarball: path.join(dir, path.basename(made.tarball)) });
      try {
        renameSync(building, dir);
      } catch (error) {
        // Another run on the same inputs finished first: use its workspace.
        if (!existsSync(path.join(dir, 'workspace.json'))) throw error;
      }
    } finally {
      rmSync(building, { recursive: true, force: true });
    }
    for (const old of readdirSync(base)) {
      const full = path.join(base, old);
      const stale = old.startsWith('.build-') ? Date.now() - statSync(full).mtimeMs > 3_600_000 : old !== id;
      if (stale) rmSync(full, { recursive: true, force: true });
    }
  }
  return { dir, ...(JSON.parse(readFileSync(path.join(dir, 'workspace.json'), 'utf8')) as Omit<Workspace, 'dir'>) };
}

/** Runs a project's program on this Node: it prints `ok` and nothing on stderr (no warning either). */
async function runs(file: string, args: readonly string[] = []): Promise<void> {
  const { stdout, stderr } = await run(process.execPath, [file, ...args], path.dirname(file));
  assert.equal(stderr, '', `${file} wrote to stderr`);
  assert.equal(stdout.trim(), 'ok');
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ---------------------------------------------------------------------------------------------------------------

describe(`the packed package in fresh projects (Node ${process.version})`, { timeout: 300_000 }, () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace();
  });

  it('the tarball holds the build (no source maps, no sources, no tests), bin and schema, and every exports target', () => {
    const names = ws.files.map((f) => f.path);
    const unexpected = names.filter((n) => !/^(dist\/.+\.(js|d\.ts|cjs|d\.cts)|bin\/certpin\.js|schema\/[\w.-]+\.json|docs\/[\w.-]+\.md|package\.json|README\.md|LICENSE)$/.test(n));
    assert.deepEqual(unexpected, []);
    // The README's links to the documents beside it work on the npm page too (its one picture is left out: 330 KB).
    const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!).filter((target) => !target.startsWith('docs/images/'));
    assert.ok(linked.length > 0);
    for (const target of linked) assert.ok(names.includes(target), `README links ${target}, which the tarball lacks`);
    assert.deepEqual(names.filter((n) => /^dist\/cli\/.*\.d\.ts$/.test(n)), [], 'the CLI has no declarations to ship');
    const leaves = (value: unknown): string[] => (typeof value === 'string' ? [value] : Object.values(value as object).flatMap(leaves));
    const targets = leaves(pkg.exports).map((t) => t.replace(/^\.\//, ''));
    for (const target of targets) assert.ok(names.includes(target), `exports target ${target} is not in the tarball`);
    // 121 KB at 0.2.0 without source maps; a jump means something that is not the library got in.
    assert.ok(ws.size < 250_000, `the tarball is ${ws.size} bytes`);
  });

  it('attw (every resolution mode) and publint (strict) find no problem', () => {
    assert.ok(ws.attw.ok, ws.attw.output);
    assert.deepEqual(ws.publint, []);
  });

  it('an ES module project imports certpin, certpin/tools and each adapter with axios, got and ws not installed', async () => {
    await runs(path.join(ws.dir, 'bare/esm/main.js'));
  });

  it('a CommonJS project requires certpin, its subpaths, schema.json and package.json, with no peer installed', async () => {
    await runs(path.join(ws.dir, 'bare/cjs/main.js'));
  });

  it('require() and import() give one module instance: a policy made through one is accepted by the other', async () => {
    await runs(path.join(ws.dir, 'bare/cjs/same-instance.js'), [String(await closedPort())]);
  });

  it('an application bundled by esbuild (certpin inlined) holds one copy of the library and runs', async () => {
    // The entries reach the library through the package's private import `#internal`: a bundler must follow it to
    // the same chunk as `certpin`, or the application would hold two PinPolicy classes.
    const out = mkdtempSync(path.join(ws.dir, 'bare', 'bundled-'));
    writeFileSync(path.join(out, 'app.js'), `
      import { PinPolicy, pinnedAgent } from 'certpin';
      import { parsePin } from 'certpin/tools';
      import { pinnedWebSocketOptions } from 'certpin/ws';
      const policy = new PinPolicy({ hosts: { 'api.example.com': ['${PIN_A}', '${PIN_B}'] } });
      const agents = [pinnedAgent(policy), pinnedWebSocketOptions(policy).agent];
      if (parsePin('${PIN_A}').kind !== 'spki') throw new Error('certpin/tools');
      for (const agent of agents) agent.destroy();
      console.log('ok');
    `);
    try {
      const { build } = createRequire(path.join(repo, 'package.json'))('esbuild') as typeof import('esbuild');
      await build({ entryPoints: [path.join(out, 'app.js')], outfile: path.join(out, 'app.bundle.mjs'), bundle: true, platform: 'node', format: 'esm', external: ['undici', 'jose', 'tldts-icann'], logLevel: 'error' });
      const bundle = readFileSync(path.join(out, 'app.bundle.mjs'), 'utf8');
      assert.equal(bundle.match(/^var PinPolicy = class\b/gm)?.length, 1, 'PinPolicy is defined once in the bundle');
      await runs(path.join(out, 'app.bundle.mjs'));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('a Node that cannot require() an ES module gets an error that says what to do', async (t) => {
    // --no-experimental-require-module gives this Node the behaviour of one before require(esm).
    const probe = await execFileP(process.execPath, ['--no-experimental-require-module', '-e', "require('certpin')"], { cwd: path.join(ws.dir, 'bare'), env: childEnv }).then(
      () => ({ stderr: '' }),
      (error: { stderr: string }) => error,
    );
    if (/bad option/.test(probe.stderr)) return t.skip(`${process.version} has no --no-experimental-require-module`);
    assert.match(probe.stderr, /require\('certpin'\) needs a Node\.js that can require\(\) an ES module: \^20\.19\.0 \|\| >=22\.12\.0.*Upgrade Node\.js, or load certpin with import\('certpin'\)/);
  });

  for (const project of TYPESCRIPT_PROJECTS) {
    const settings = `module ${String(project.compilerOptions.module)}, moduleResolution ${String(project.compilerOptions.moduleResolution)}`;
    it(`TypeScript (strict; ${settings}): ${project.halves.join(' and ')} compile${project.readme ? ', with the README examples,' : ''} and run`, async () => {
      assert.deepEqual(ws.compiled[project.name], []);
      for (const half of project.halves) await runs(path.join(ws.dir, 'typed', project.name, half, 'main.js'));
    });
  }

  it('the certpin command runs from the installed package, and its commands reach the library (#internal)', async () => {
    const cli = path.join(ws.dir, 'typed/node_modules/certpin/bin/certpin.js');
    const { stdout } = await run(process.execPath, [cli, '--version'], ws.dir);
    assert.equal(stdout.trim(), pkg.version);
    const out = mkdtempSync(path.join(ws.dir, 'cli-'));
    try {
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=installed.example', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2'], out);
      const inspected = await run(process.execPath, [cli, 'inspect', 'cert.pem'], out);
      assert.match(inspected.stdout, /installed\.example/);
      assert.match(inspected.stdout, /sha256\/[A-Za-z0-9+/]{43}=/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
