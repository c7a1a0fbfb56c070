/**
 * The report budget (50 distinct reports per day, for the whole process) is spent only by reports that are sent. In
 * a process of its own: the budget is process-wide, and other test files spend it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PinPolicy } from '../src/index.js';
import type { ReportDelivery } from '../src/index.js';
import { buildReport } from '../src/core/report.js';
import { deliverReports, flushReports } from '../src/node/reporter.js';
import { backupPin } from './support/pki.js';

function failure(policy: PinPolicy, host: string) {
  return buildReport({ policy, host, port: 443, rule: policy.ruleFor(host), served: [], validated: [], reason: 'pin-mismatch', enforce: true, now: Date.now() });
}

describe('report budget', () => {
  it('failures with nowhere to report them do not use up the budget of the reports that are sent', async () => {
    const quietDeliveries: ReportDelivery[] = [];
    // No report URI: an attacker who makes 50 distinct failures here must not silence the bank's collector.
    const quiet = new PinPolicy({ hosts: { '**.quiet.test': [backupPin(), backupPin()] }, onReport: (_r, d) => quietDeliveries.push(d), onWarning: () => {} });
    for (let i = 0; i < 60; i++) deliverReports(quiet, [failure(quiet, `h${i}.quiet.test`)]);
    deliverReports(quiet, [failure(quiet, 'h0.quiet.test')]);
    const bankDeliveries: ReportDelivery[] = [];
    // A collector that refuses connections: the report is attempted (failed), not dropped for want of budget.
    const bank = new PinPolicy({ hosts: { 'bank.test': [backupPin(), backupPin()] }, reportUri: 'https://127.0.0.1:1/reports', onReport: (_r, d) => bankDeliveries.push(d), onWarning: () => {} });
    deliverReports(bank, [failure(bank, 'bank.test')]);
    await flushReports(5_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(bankDeliveries, ['failed']);
    assert.equal(quietDeliveries.filter((d) => d === 'skipped').length, 60);
    assert.deepEqual(quietDeliveries.at(-1), 'deduplicated', 'a repeated skipped failure is still reported once');
  });
});
