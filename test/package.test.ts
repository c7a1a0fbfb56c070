/**
 * The package's shape, from the sources: importing certpin and its client subpaths never needs the optional peers
 * (axios, got, ws), and every `exports` entry points at a module that exists. The packed package in fresh projects
 * is test/package-install.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const repo = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);

describe('package', () => {
  it('imports certpin, certpin/tools, certpin/axios, certpin/got and certpin/ws with axios, got and ws not installed', async () => {
    const script = `
      const { register } = await import('node:module');
      register(${JSON.stringify(new URL('./support/block-peers-hooks.mjs', import.meta.url).href)});
      await assert.rejects(import('axios'), /blocked: optional peer/);
      const certpin = await import('./src/index.ts');
      const policy = new certpin.PinPolicy({ hosts: { 'api.example.com': ['sha256/${'A'.repeat(43)}=', 'sha256/${'B'.repeat(42)}A='] } });
      const tools = await import('./src/tools/index.ts');
      assert.equal(tools.parsePin('sha256/${'A'.repeat(43)}=').kind, 'spki');
      const { pinAxios } = await import('./src/adapters/axios.ts');
      const { pinnedGotOptions } = await import('./src/adapters/got.ts');
      const { pinnedWebSocketOptions } = await import('./src/adapters/ws.ts');
      const got = pinnedGotOptions(policy);
      const ws = pinnedWebSocketOptions(policy);
      assert.equal(typeof pinAxios, 'function');
      assert.ok(got.agent.https && ws.agent);
      got.agent.https.destroy(); got.agent.http.destroy(); ws.agent.destroy();
      console.log('ok');
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import assert from 'node:assert/strict';\n${script}`], { cwd: repo });
    assert.equal(stdout.trim(), 'ok');
  });

  it('every exports entry has its source module, a CommonJS entry beside it, and types for both (src/X.ts builds to dist/X.js)', () => {
    interface Branch { types: string; default: string }
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { require: Branch; default: Branch }>;
      typesVersions: Record<string, Record<string, string[]>>;
      bin: Record<string, string>;
    };
    const legacyTypes: Record<string, string[]> = {};
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') {
        assert.ok(existsSync(path.join(repo, target)), `${subpath} → ${target}`);
        if (target.endsWith('.json') && subpath !== './package.json') legacyTypes[subpath.slice(2)] = [target];
        continue;
      }
      assert.deepEqual(Object.keys(target), ['require', 'default'], `${subpath}: require first, then default`);
      const esm = target.default.default;
      assert.match(esm, /^\.\/dist\/.+\.js$/, subpath);
      const source = esm.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts');
      assert.ok(existsSync(path.join(repo, source)), `${subpath} → ${source}`);
      assert.deepEqual(target.default, { types: esm.replace(/\.js$/, '.d.ts'), default: esm }, subpath);
      assert.deepEqual(target.require, { types: esm.replace(/\.js$/, '.d.cts'), default: esm.replace(/\.js$/, '.cjs') }, subpath);
      if (subpath !== '.') legacyTypes[subpath.slice(2)] = [target.require.types];
    }
    // TypeScript's node10 resolution ignores exports: typesVersions gives it the same subpaths.
    assert.deepEqual(pkg.typesVersions, { '*': legacyTypes });
    assert.ok(existsSync(path.join(repo, pkg.bin.certpin!)));
  });

  const built = existsSync(path.join(repo, 'dist/cli/main.js'));
  it('the installed command (bin/certpin.js on the build) runs', { skip: !built && 'no build: `npm test` builds before the tests' }, async () => {
    const version = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version as string;
    const { stdout } = await run(process.execPath, [path.join(repo, 'bin/certpin.js'), '--version']);
    assert.equal(stdout.trim(), version);
    const help = await run(process.execPath, [path.join(repo, 'bin/certpin.js'), 'fetch', '--help']);
    assert.match(help.stdout, /certpin fetch/);
  });

  it('the build loads Node built-ins as CommonJS: importing certpin runs none of their lazy getters', { skip: !built && 'no build: `npm test` builds before the tests' }, async () => {
    // An ES module import of node:crypto reads crypto.webcrypto (and of node:tls its root certificates) to build
    // the module's namespace; certpin's import should cost neither.
    const { stdout } = await run(process.execPath, ['-e', `import(${JSON.stringify(path.join(repo, 'dist/index.js'))}).then(() => console.log(JSON.stringify(process.moduleLoadList)))`]);
    const loaded = JSON.parse(stdout) as string[];
    assert.ok(loaded.includes('NativeModule crypto'), 'certpin loads node:crypto');
    assert.ok(!loaded.includes('NativeModule internal/crypto/webcrypto'), 'Web Crypto was loaded by an ES module import of node:crypto');
    for (const file of readdirSync(path.join(repo, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'))) {
      assert.doesNotMatch(readFileSync(path.join(repo, 'dist', file), 'utf8'), /^import\b[^;]*"node:/m, file);
    }
  });

  it('import("certpin") reads two files, and every other entry shares that library through #internal, never a copy', { skip: !built && 'no build: `npm test` builds before the tests' }, () => {
    // Each module an ES module import reads costs Node about 2 ms of start-up: the main entry is one file of
    // re-exports and one chunk with the whole library.
    const staticImports = (file: string) => [...readFileSync(path.join(repo, 'dist', file), 'utf8').matchAll(/^(?:import|export)\b[^;]*?from "([^"]+)";$|^import "([^"]+)";$/gms)].map((m) => m[1] ?? m[2]!);
    const [library, ...others] = staticImports('index.js');
    assert.deepEqual(others, [], 'dist/index.js imports more than the library chunk');
    assert.match(library!, /^\.\/chunks\/library-\w+\.js$/);
    const libraryFile = path.join('chunks', path.basename(library!));
    const librarySource = readFileSync(path.join(repo, 'dist', libraryFile), 'utf8');
    assert.deepEqual(staticImports(libraryFile), [], 'the library chunk imports other files at load');
    assert.doesNotMatch(librarySource, /import\("\.\.?\//, 'the library chunk imports other files of the package');
    assert.deepEqual(staticImports('internal.js'), [library], 'the private #internal entry is the same chunk');
    const packageJson = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { imports: Record<string, string> };
    assert.equal(packageJson.imports['#internal'], './dist/internal.js');
    const bundles = readdirSync(path.join(repo, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    for (const name of ['PinPolicy', 'DynamicPinPolicy', 'PinnedAgent', 'PinningError', 'PolicyError']) {
      const defining = bundles.filter((file) => new RegExp(`^var ${name} = class\\b`, 'm').test(readFileSync(path.join(repo, 'dist', file), 'utf8')));
      assert.deepEqual(defining, [libraryFile], `class ${name} is defined in [${defining.join(', ')}]`);
    }
  });

  it('the bundles are ASCII: V8 would hold a source with one other character as a two-byte string, twice the memory', { skip: !built && 'no build: `npm test` builds before the tests' }, () => {
    for (const file of readdirSync(path.join(repo, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'))) {
      assert.doesNotMatch(readFileSync(path.join(repo, 'dist', file), 'utf8'), /[\u0080-\uffff]/, file);
    }
  });

  it('node:tls, node:https, node:http, node:http2, node:net and node:fs/promises load at the first use, not at import', { skip: !built && 'no build: `npm test` builds before the tests' }, async () => {
    // node:tls alone costs a Node 22 or 24 process 24 to 31 ms of start-up; a process that never connects should not
    // pay it. Every entry of the package (and the CLI's) is imported; then one agent of each kind is made, which must
    // load what it needs and be what it says (an https.Agent, an http.Agent).
    const lazy = ['tls', 'https', 'http', 'http2', 'net', 'fs/promises'];
    const entries = ['dist/index.js', 'dist/tools/index.js', 'dist/adapters/axios.js', 'dist/adapters/got.js', 'dist/adapters/ws.js'];
    const script = `
      const before = new Set(process.moduleLoadList);
      const imported = {};
      for (const entry of ${JSON.stringify(entries.map((entry) => path.join(repo, entry)))}) Object.assign(imported, await import(entry));
      const atImport = process.moduleLoadList.filter((m) => !before.has(m));
      const policy = new imported.PinPolicy({ hosts: { 'api.example.com': ['sha256/${'A'.repeat(43)}=', 'sha256/${'B'.repeat(42)}A='] } });
      const agents = [imported.pinnedAgent(policy), imported.pinnedHttpAgent(policy), imported.pinnedWebSocketOptions(policy).agent];
      const https = await import('node:https'), http = await import('node:http');
      console.log(JSON.stringify({ atImport, afterAgents: process.moduleLoadList, kinds: [agents[0] instanceof https.Agent, agents[1] instanceof http.Agent, agents[2] instanceof http.Agent, agents[0] instanceof imported.pinnedAgent(policy).constructor] }));
      for (const agent of agents) agent.destroy();
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    const { atImport, afterAgents, kinds } = JSON.parse(stdout) as { atImport: string[]; afterAgents: string[]; kinds: boolean[] };
    for (const name of lazy) assert.ok(!atImport.includes(`NativeModule ${name}`), `importing certpin loaded node:${name}`);
    for (const name of ['tls', 'https', 'http']) assert.ok(afterAgents.includes(`NativeModule ${name}`), `making the agents did not load node:${name}`);
    assert.deepEqual(kinds, [true, true, true, true]);
  });
});
