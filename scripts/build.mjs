#!/usr/bin/env node
// Builds dist/:
//
// 1. tsc compiles src/ to .build/tsc/ (JavaScript and declarations, one file per module).
// 2. esbuild bundles in two passes, from that output into dist/. First the library: every module the main entry
//    reaches, in one chunk (dist/chunks/library-*.js) that dist/index.js re-exports the public part of, so that
//    `import('certpin')` reads two files: Node spends about 2 ms of start-up on each ES module it loads, and seven
//    files cost 9 to 16 ms more than two (Node 20, 22 and 24). dist/internal.js re-exports all of that chunk by name
//    for the other entries, which reach it through the package's private import `#internal` (package.json
//    "imports"). Then those entries (tools, the client adapters, the CLI) with their own code in shared chunks.
//    Not minified: names and statements are tsc's, so stack traces stay readable. Dependencies stay outside
//    (undici, jose, tldts-icann are loaded from node_modules). Node's built-in
//    modules are taken as CommonJS (`process.getBuiltinModule`), never through an ES module import: Node builds the
//    ES module face of a built-in by reading every export, which runs the lazy getters that the CommonJS face leaves
//    alone (node:fs loads fs/promises, node:tls parses its root certificates, node:crypto loads Web Crypto; node:http
//    on Node 22 and 24 its bundled undici). Measured with `npm run bench -- --only startup`: about 6–10 ms of
//    `import('certpin')` on this project's CI machine.
// 3. The declarations are copied beside the bundles (dist/index.d.ts, dist/core/…), then one CommonJS entry is
//    written per `require` target of the exports.
//
// certpin is ESM only. A CommonJS entry is two lines that hand `require()` the ES module itself (require(esm), Node
// >= 20.19 and >= 22.12), so that `require('certpin')` and `import('certpin')` reach one module instance: one
// session cache, one report queue, and `instanceof` that holds between a policy made through one and an adapter
// loaded through the other. Its .d.cts re-exports the .d.ts, so that TypeScript sees a CommonJS entry (what it is to
// the code that requires it) with the ES module's types. Bundling keeps that property: the library is one chunk that
// every entry imports, and the other entries' shared code is in chunks of one build, so two entries never hold two
// copies of a module (builtins.js, whose only state is a cache of Node's own modules, is the one exception: see
// below).
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const compiled = path.join(root, '.build', 'tsc');
const dist = path.join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
rmSync(compiled, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', compiled], { cwd: root, stdio: 'inherit' });

/** Every ES module entry of the exports map (`./dist/X.js`), and the CLI's, as their compiled files. */
const entries = [
  ...Object.values(pkg.exports).flatMap((target) => (typeof target === 'object' && typeof target.default?.default === 'string' ? [target.default.default] : [])),
  './dist/cli/main.js',
].map((entry) => path.join(compiled, path.relative('dist', entry)));
const mainEntry = path.join(compiled, 'index.js');
const internalEntry = path.join(compiled, 'internal.js');
const bundleOptions = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
};

// The library: every module the main entry reaches, in one shared chunk beside dist/index.js and dist/internal.js.
const library = await libraryModules(mainEntry);
writeFileSync(internalEntry, await reExportsOf(library));
const libraryBuild = await build({
  ...bundleOptions,
  entryPoints: [mainEntry, internalEntry],
  outbase: compiled,
  outdir: dist,
  splitting: true,
  chunkNames: 'chunks/library-[hash]',
  metafile: true,
});
const internalExports = new Set(libraryBuild.metafile.outputs[path.relative(root, path.join(dist, 'internal.js'))]?.exports ?? []);

// The other entries (tools, adapters, CLI): their own code, sharing chunks among themselves, and the library through
// the package's private `#internal` import. builtins.js is copied into them instead (its only state is a cache of
// what process.getBuiltinModule returns, the same objects for every copy), so that the CLI's start
// (`certpin --help`) loads none of the library.
const shared = new Set(library.filter((file) => file !== path.join(compiled, 'builtins.js')));
const restBuild = await build({
  ...bundleOptions,
  entryPoints: entries.filter((entry) => entry !== mainEntry),
  outbase: compiled,
  outdir: dist,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
  plugins: [
    {
      name: 'certpin-library',
      setup(onBuild) {
        onBuild.onResolve({ filter: /^\.\.?\// }, (args) => (shared.has(path.resolve(args.resolveDir, args.path)) ? { path: '#internal', external: true } : undefined));
      },
    },
  ],
});
checkLibraryImports(Object.keys(restBuild.metafile.outputs).filter((file) => file.endsWith('.js')), internalExports);
rewriteBundles(dist, [loadBuiltinsAsCommonJs, keepAscii]);
cpSync(compiled, dist, { recursive: true, filter: (source) => !source.endsWith('.js') });

/** The compiled modules `entry` reaches (its own file included). */
async function libraryModules(entry) {
  const { metafile } = await build({ ...bundleOptions, entryPoints: [entry], write: false, metafile: true });
  return Object.keys(metafile.inputs).map((input) => path.resolve(root, input));
}

/**
 * An entry that re-exports, by name, every export of `modules`. Fails the build when two modules export one name
 * for two different things: the other entries import the library by name alone.
 */
async function reExportsOf(modules) {
  const owner = new Map();
  const lines = [];
  for (const file of modules) {
    const namespace = await import(pathToFileURL(file).href);
    const names = [];
    for (const name of Object.keys(namespace)) {
      const first = owner.get(name);
      if (first === undefined) {
        owner.set(name, { file, value: namespace[name] });
        names.push(name);
      } else if (first.value !== namespace[name]) {
        throw new Error(`${path.relative(compiled, file)} and ${path.relative(compiled, first.file)} both export "${name}": rename one, the library's entries import it by name`);
      }
    }
    if (names.length > 0) lines.push(`export { ${names.join(', ')} } from ${JSON.stringify(`./${path.relative(compiled, file)}`)};`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every name a bundle imports from `#internal` is one the library exports; none imports the whole library. */
function checkLibraryImports(outputs, exported) {
  for (const output of outputs) {
    const source = readFileSync(path.join(root, output), 'utf8');
    for (const [statement, members] of source.matchAll(/^(?:import|export) ([^;]*?) from "#internal";$/gms)) {
      const named = /^\{([^}]*)\}$/.exec(members.trim());
      if (!named) throw new Error(`${output}: imports the library other than by name: ${statement}`);
      for (const member of named[1].split(',').map((m) => m.trim()).filter(Boolean)) {
        const name = member.split(/\s+as\s+/)[0];
        if (!exported.has(name)) throw new Error(`${output}: imports "${name}" from the library, which does not export it`);
      }
    }
  }
}

/** Applies each rewrite, in order, to every JavaScript file of `dir`, and writes the files that changed. */
function rewriteBundles(dir, rewrites) {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const source = readFileSync(file, 'utf8');
    const rewritten = rewrites.reduce((text, rewrite) => rewrite(text, file), source);
    if (rewritten !== source) writeFileSync(file, rewritten);
  }
}

/**
 * Rewrites every import of a Node built-in (`import x, { a, b as c } from "node:m";`, as esbuild writes them) into
 * `process.getBuiltinModule("node:m")` (see the header for why). Fails the build on any import of a built-in it
 * cannot rewrite.
 */
function loadBuiltinsAsCommonJs(source, file) {
  const rewritten = source.replace(/^import (?:([\w$]+)(?:, )?)?(?:\{([^}]*)\})? from "(node:[\w/]+)";$/gm, (statement, name, members, specifier) => {
    const load = `process.getBuiltinModule(${JSON.stringify(specifier)})`;
    const named = members?.trim() ? `{ ${members.trim().replace(/\s+as\s+/g, ': ')} }` : undefined;
    if (name && named) return `const ${name} = ${load}, ${named} = ${name};`;
    if (name) return `const ${name} = ${load};`;
    if (named) return `const ${named} = ${load};`;
    return statement;
  });
  const left = /^import\b[^;]*"node:[^"]*";$/m.exec(rewritten);
  if (left) throw new Error(`${file}: cannot load this built-in as CommonJS: ${left[0]}`);
  return rewritten;
}

/**
 * Escapes the non-ASCII characters esbuild leaves in the bundles (it escapes those of strings, templates and regular
 * expressions itself, not those of the comments it keeps). V8 holds a source with a single non-ASCII character as a
 * two-byte string: the main chunk took 273 KB of young-generation memory at import instead of 137 KB. `\uXXXX`
 * (a surrogate pair above U+FFFF) means the same character in a comment, a string, an identifier or a pattern.
 */
function keepAscii(source) {
  return source.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The `require` branch of every exports entry that has one: `{ types: X.d.cts, default: X.cjs }`. */
const requireTargets = Object.entries(pkg.exports).flatMap(([subpath, target]) => {
  if (typeof target !== 'object' || target.require === undefined) return [];
  const { types, default: entry } = target.require;
  const esm = target.default?.default;
  if (!entry?.endsWith('.cjs') || !types?.endsWith('.d.cts') || esm !== entry.replace(/\.cjs$/, '.js')) {
    throw new Error(`package.json exports["${subpath}"]: write it as { require: { types: X.d.cts, default: X.cjs }, default: { types: X.d.ts, default: X.js } }`);
  }
  return [{ subpath, entry, types }];
});

const nodeRange = pkg.engines.node;
for (const { subpath, entry, types } of requireTargets) {
  const name = `certpin${subpath.slice(1)}`;
  const esm = `./${path.basename(entry, '.cjs')}.js`;
  writeFileSync(
    path.join(root, entry),
    `'use strict';
// ${name} for require(): the ES module itself, the same instance import() gives (require(esm), Node ${nodeRange}).
try {
  module.exports = require(${JSON.stringify(esm)});
} catch (error) {
  if (error?.code !== 'ERR_REQUIRE_ESM') throw error;
  throw Object.assign(new Error(\`require('${name}') needs a Node.js that can require() an ES module: ${nodeRange}, without --no-experimental-require-module. This is \${process.version}. Upgrade Node.js, or load certpin with import('${name}').\`), { code: 'ERR_REQUIRE_ESM', cause: error });
}
`,
  );
  // TypeScript's `module: node16` (and nodenext before TypeScript 5.8) models a Node that cannot require() an ES
  // module and reports TS1479 on this line even with skipLibCheck off; the types resolve all the same, and at run
  // time Node ${nodeRange} can, so the line is exempted.
  writeFileSync(
    path.join(root, types),
    `// ${name} for require(): the ES module's types (see ${path.basename(entry)}).
// @ts-ignore TS1479 under module node16: the ES module is required with require(esm), Node ${nodeRange}.
export * from ${JSON.stringify(esm)};
`,
  );
}
