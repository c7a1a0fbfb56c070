/**
 * The README's TypeScript examples compile against the real public API (strict, like the project), so that what a
 * user pastes works. A snippet may use `policy` from an earlier one; everything else it must import itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import ts from 'typescript';

const repo = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => ({ code: m[1]!, line: readme.slice(0, m.index).split('\n').length + 1 }));
// Inside the repository, so that the snippets resolve axios, got, ws and Node's types from its node_modules.
const dir = mkdtempSync(path.join(repo, '.tmp-readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Names a snippet may take from the text before it. */
const CONTEXT = "declare const policy: import('certpin').PinPolicy;\n";

describe('README', () => {
  it('has TypeScript examples', () => assert.ok(snippets.length >= 10, `found ${snippets.length}`));

  it('every TypeScript example type-checks against certpin (strict)', () => {
    const files = snippets.map(({ code }, i) => {
      const file = path.join(dir, `snippet${i + 1}.ts`);
      const declaresPolicy = /\b(const|let) policy\b/.test(code);
      // `export {}` keeps each snippet a module of its own even without imports.
      writeFileSync(file, `${declaresPolicy ? '' : CONTEXT}${code}\nexport {};\n`);
      return file;
    });
    const config = ts.getParsedCommandLineOfConfigFile(path.join(repo, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    assert.ok(config);
    const program = ts.createProgram(files, {
      ...config.options,
      noEmit: true,
      noUnusedLocals: false,
      rootDir: repo,
      // The package's own names, mapped to the sources so that no build is needed.
      paths: { certpin: ['./src/index.ts'], 'certpin/tools': ['./src/tools/index.ts'], 'certpin/*': ['./src/adapters/*.ts'] },
      baseUrl: repo,
    });
    const problems = ts.getPreEmitDiagnostics(program).filter((d) => d.file && files.includes(path.resolve(d.file.fileName)));
    const described = problems.map((d) => {
      const index = files.indexOf(path.resolve(d.file!.fileName));
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      const offset = /declare const policy/.test(d.file!.text) ? 1 : 0;
      return `README.md:${snippets[index]!.line + line - offset}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    assert.deepEqual(described, []);
  });
});
