/**
 * Runs `certpin verify`'s checks, `concurrency` at a time. A check is one TLS handshake, nearly all of it waiting on
 * the network, so the number in flight sets the run time: 200 hosts at 50 ms round trip take about 2.6 s eight at a
 * time and under a second thirty-two at a time on a laptop.
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
