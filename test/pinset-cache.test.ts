/**
 * The pin-set cache file shared by the processes of one application: concurrent writers, in one process and in
 * several, leave the highest document they accepted, never a lower one beside or instead of it; a crashed writer's
 * lock does not stop the others.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { readPinSetCache, writePinSetCache } from '../src/node/pinset-cache.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** How a lock names this process's pid space: the host name and the pid namespace. */
const here = `${os.hostname()}/${readlinkSync('/proc/self/ns/pid')}`;

const write = (file: string, sequence: number) => writePinSetCache(file, { jws: `document-${sequence}`, floor: { sequence, digest: undefined } }, 64 * 1024);

function shuffled(count: number): number[] {
  const values = Array.from({ length: count }, (_, i) => i + 1);
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

describe('pin-set cache file', () => {
  it('40 writes at once in one process leave the highest document', async () => {
    for (let round = 0; round < 5; round++) {
      const file = path.join(dir, `same-process-${round}.json`);
      await Promise.all(shuffled(40).map((sequence) => write(file, sequence)));
      const cached = await readPinSetCache(file, 64 * 1024);
      assert.equal(cached.floor?.sequence, 40, `round ${round}`);
      assert.equal(cached.jws, 'document-40');
      assert.equal(existsSync(`${file}.lock`), false, 'the lock is released');
    }
  });

  it('four processes writing at once leave the highest document', async () => {
    const file = path.join(dir, 'processes.json');
    const module = path.resolve(import.meta.dirname, '../src/node/pinset-cache.ts');
    const script = `
      const { writePinSetCache } = await import(${JSON.stringify(module)});
      const sequences = JSON.parse(process.argv[1]);
      await Promise.all(sequences.map((sequence) => writePinSetCache(${JSON.stringify(file)}, { jws: 'document-' + sequence, floor: { sequence } }, 65536)));
    `;
    const all = shuffled(60);
    const children = [0, 1, 2, 3].map((n) => new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify(all.filter((_, i) => i % 4 === n))], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', reject);
      child.on('exit', resolve);
    }));
    assert.deepEqual(await Promise.all(children), [0, 0, 0, 0]);
    const cached = await readPinSetCache(file, 64 * 1024);
    assert.equal(cached.floor?.sequence, 60);
    assert.equal(cached.jws, 'document-60');
  });

  it("a crashed writer's lock (its process gone) is taken over; a lower document still never replaces a higher one", async () => {
    const file = path.join(dir, 'stale.json');
    await write(file, 7);
    // A pid far above Linux's pid_max: no process has it.
    writeFileSync(`${file}.lock`, `${here} 99999999 0123456789abcdef\n`);
    await write(file, 8);
    assert.equal((await readPinSetCache(file, 64 * 1024)).floor?.sequence, 8);
    assert.equal(existsSync(`${file}.lock`), false);
    await write(file, 5);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).highestSeq, 8);
  });

  it('eight writers meeting one stale lock: one takes it over, and the highest document stays (40 rounds)', async () => {
    let lost = 0;
    for (let round = 0; round < 40; round++) {
      const file = path.join(dir, `stale-race-${round}.json`);
      await write(file, 1);
      writeFileSync(`${file}.lock`, `${here} 99999999 0123456789abcdef\n`);
      await Promise.all(shuffled(8).map((n) => write(file, n * 10)));
      if ((await readPinSetCache(file, 64 * 1024)).floor?.sequence !== 80) lost++;
      assert.equal(existsSync(`${file}.lock`), false);
      assert.equal(existsSync(`${file}.lock.takeover`), false);
    }
    assert.equal(lost, 0, `the highest document was lost in ${lost} of 40 rounds`);
  });

  it('an empty lock (its writer stopped between creating and writing it, a full disk) holds writers off for a second only', async () => {
    const file = path.join(dir, 'empty-lock.json');
    writeFileSync(`${file}.lock`, '');
    const past = new Date(Date.now() - 2000);
    utimesSync(`${file}.lock`, past, past);
    const started = Date.now();
    await write(file, 4);
    assert.ok(Date.now() - started < 1000, 'taken over at once');
    assert.equal((await readPinSetCache(file, 64 * 1024)).floor?.sequence, 4);
  });

  it('a lock written on another host, or in another pid namespace of this one (a container), is judged by its age alone', async () => {
    const spaces = ['another-host/pid:[4026531836]', `${os.hostname()}/pid:[1]`];
    await Promise.all(spaces.map(async (space, i) => {
      const file = path.join(dir, `other-space-${i}.json`);
      writeFileSync(`${file}.lock`, `${space} 99999999 0123456789abcdef\n`);
      await assert.rejects(write(file, 3), /stayed held by another process/);
      assert.equal(existsSync(file), false, space);
    }));
  });
});
