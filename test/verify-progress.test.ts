/**
 * `certpin verify`'s progress in a CI log: a line at least every `--progress-every` while hosts are pending, also
 * after a line written because a tenth of the hosts finished (which resets the period at any moment).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createProgress } from '../src/cli/verify/progress.js';
import { styleFor } from '../src/cli/style.js';

describe('verify progress lines', () => {
  it('after a line for finished hosts, the next comes one period later, not up to two', async () => {
    const lines: number[] = [];
    const started = performance.now();
    const progress = createProgress({
      stream: { write: () => lines.push(performance.now() - started) },
      style: styleFor({ isTTY: false } as NodeJS.WriteStream),
      mode: 'lines',
      total: 100,
      everyMs: 400,
    });
    for (let i = 0; i < 100; i++) progress.started(`host${i}.test`);
    await sleep(30);
    // Ten finish: a line now, out of phase with the period's timer.
    for (let i = 0; i < 10; i++) progress.finished(`host${i}.test`, false);
    await sleep(1000);
    progress.stop();
    assert.ok(lines.length >= 3, `lines at ${lines.map((t) => t.toFixed(0)).join(', ')} ms`);
    for (let i = 1; i < lines.length; i++) assert.ok(lines[i]! - lines[i - 1]! < 600, `lines at ${lines.map((t) => t.toFixed(0)).join(', ')} ms`);
  });
});
