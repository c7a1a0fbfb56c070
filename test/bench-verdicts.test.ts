/**
 * The benchmark's verdicts (bench/harness.ts): a row passes only when its whole spread fits the target, so that a
 * noisy run cannot pass for a fast one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { atMost, ratioAtMost } from '../bench/harness.js';
import { comparisonRow } from '../bench/connections.js';

const q = (low: number, median: number, high: number) => ({ low, median, high });

describe('benchmark verdicts', () => {
  it('a cost passes when its interquartile range lies within the target and is no wider than it', () => {
    assert.equal(atMost(30, q(14.2, 17.9, 26.7), q(15.5, 16.9, 26.5)), 'PASS');
    assert.equal(atMost(30, q(20, 27.6, 29.7)), 'PASS');
  });

  it('a spread wider than the target is noise, even around a median of nothing (an import "costing" −15 ms)', () => {
    assert.equal(atMost(30, q(-21.9, -15, 21.6)), 'NOISE');
    assert.equal(atMost(30, q(-21.9, -15, 21.6), q(1, 2, 3)), 'NOISE');
  });

  it('an upper quartile past the target is noise; a median past it is a miss, whatever the other measure', () => {
    assert.equal(atMost(30, q(23.5, 27.6, 30.5)), 'NOISE');
    assert.equal(atMost(30, q(33.6, 47.9, 60.2), q(1, 2, 3)), 'MISS');
    assert.equal(atMost(30, q(Number.NaN, Number.NaN, Number.NaN)), '');
  });

  it('a ratio is measured from 1×: a 1 % target passes only a spread within 1 %', () => {
    assert.equal(ratioAtMost(1.01, q(0.995, 1.0, 1.004)), 'PASS');
    // Certpin "faster" by noise: the whole range is under 1.01, the spread is ±10 %.
    assert.equal(ratioAtMost(1.01, q(0.85, 0.93, 1.005)), 'NOISE');
    assert.equal(ratioAtMost(1.5, q(1.04, 1.06, 1.09)), 'PASS');
    assert.equal(ratioAtMost(1.01, q(1.0, 1.02, 1.05)), 'MISS');
  });

  it('an A/A control row counts for nothing: its verdict is given beside it, not as a verdict', () => {
    const noise = { low: 0.94, median: 1.03, high: 1.12 };
    const comparison = { wallA: 1, wallB: 1, cpuA: 1, cpuB: 1, wallRatio: noise, cpuRatio: noise, wallDelta: q(-5, 3, 12), cpuDelta: q(-5, 3, 12), cpuSlower: 11, wallSlower: 11, rounds: 20, operations: 400 };
    const row = comparisonRow('control: node:tls on both sides', 'a vs b', comparison, '');
    assert.equal(row.verdict, 'MISS', 'as certpin\'s row, +3 % misses a 1 % target');
    const control = comparisonRow('control: node:tls on both sides', 'a vs b', comparison, '', 1.01, true);
    assert.equal(control.verdict, '');
    assert.equal(control.control, 'MISS');
    assert.match(control.cells.at(-1)!, /A\/A control: ≤ \+1 % CPU and wall would read MISS/);
  });
});
