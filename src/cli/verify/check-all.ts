/**
 * Runs `certpin verify`'s checks, `concurrency` at a time. A check is one TLS handshake, two round trips (TCP, then
 * TLS 1.3) of waiting on the network for a few milliseconds of work, so the number in flight sets the run time: 200
 * hosts 50 ms away wait 25 rounds of 100 ms eight at a time, 7 rounds thirty-two at a time.
 * @module
 */
import type { Progress } from './progress.js';

/**
 * Calls `check` on every item, at most `concurrency` at once, and resolves to the results in the items' order.
 * `check` must not reject (a probe reports failures in its result).
 */
export async function checkAll<T extends { readonly host: string }, R>(
  items: readonly T[],
  concurrency: number,
  check: (item: T) => Promise<R>,
  progress: Progress,
  failed: (result: R) => boolean,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      const item = items[index]!;
      progress.started(item.host);
      const result = await check(item);
      results[index] = result;
      progress.finished(item.host, failed(result));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  } finally {
    progress.stop();
  }
  return results;
}
