/**
 * A process that starts a DynamicPinPolicy with automatic refresh and never closes it: it must still exit by itself
 * (refresh and expiry timers unref'd, the pin-failure hook holding nothing). Configured by environment variables.
 */
import { DynamicPinPolicy, PinPolicy } from '../../src/index.js';

const policy = new DynamicPinPolicy({
  bootstrap: new PinPolicy({ hosts: { 'api.example.com': JSON.parse(process.env.TEST_PINS!) as string[] }, onWarning: () => {} }),
  keys: JSON.parse(process.env.TEST_JWKS!) as { keys: [] },
  audience: process.env.TEST_AUDIENCE!,
  document: process.env.TEST_URL!,
  ...(process.env.TEST_CA ? { documentCa: process.env.TEST_CA } : {}),
  onEvent: (event) => process.stdout.write(`${event.event}${event.sequence === undefined ? '' : ` ${event.sequence}`}\n`),
});
await policy.ready();
process.stdout.write(`ready ${policy.current().pinSetSequence ?? 'bootstrap'}\n`);
