/**
 * What a signed pin-set document may not do to the application's built-in (bootstrap) policy: leave a host it pins
 * unpinned, make a host it enforces report-only, let a pin set lapse earlier than the built-in one would (while the
 * document is in force), or turn off `onlyPinnedHosts`. A document replaces pins (that is what rotation is), but it
 * never weakens pinning below what the application shipped with, unless the application opts in.
 *
 * The comparison is exact, not sampled: a policy's answer for a name depends only on which of its patterns' base
 * names are suffixes of that name and how many labels lie between (none, one, more), so probing every base name of
 * both policies at those three depths, plus one name under no base, asks both policies every question they answer
 * differently.
 * @module
 */
import { isIpLiteral } from './hostname.js';
import type { HostRule, PinPolicy } from './policy.js';

/**
 * Says how `candidate` (a document's pin sets, on the bootstrap's trust) weakens `bootstrap`, or `undefined` when it
 * does not. `until` is when the document expires (milliseconds): a candidate pin set that lapses before that, and
 * before the bootstrap's own pin set would, leaves the host unpinned in between.
 */
export function findWeakening(bootstrap: PinPolicy, candidate: PinPolicy, until: number): string | undefined {
  if (bootstrap.onlyPinnedHosts && !candidate.onlyPinnedHosts) return 'it turns off onlyPinnedHosts, which the built-in policy sets';
  const now = bootstrap.now();
  const bases = new Set<string>();
  for (const rule of [...bootstrap.rules, ...candidate.rules]) if (rule.pattern.text !== '*') bases.add(rule.pattern.base);
  const fresh = freshLabel(bases);
  const probes = [`${fresh}.${fresh}`];
  for (const base of bases) {
    probes.push(base);
    if (!isIpLiteral(base)) probes.push(`${fresh}.${base}`, `${fresh}.${fresh}.${base}`);
  }
  for (const name of probes) {
    const enforced = bootstrap.ruleFor(name);
    if (!enforced || lapsed(enforced, now)) continue;
    const replacement = candidate.ruleFor(name);
    const what = `${name.includes(fresh) ? `a name such as ${name}` : name}, pinned by the built-in pin set ${enforced.pattern.text},`;
    if (!replacement) return `${what} would no longer be pinned`;
    if (!enforced.reportOnly && replacement.reportOnly) return `${what} would only be reported, not enforced (pin set ${replacement.pattern.text} is report-only)`;
    const end = replacement.expires?.getTime() ?? Infinity;
    if (end < Math.min(enforced.expires?.getTime() ?? Infinity, until)) {
      return `${what} would lose its pins on ${new Date(end).toISOString()} (pin set ${replacement.pattern.text} expires then), while the document is still in force`;
    }
  }
  return undefined;
}

function lapsed(rule: HostRule, now: number): boolean {
  return rule.expires !== undefined && rule.expires.getTime() <= now;
}

/** A label that is in no base name, so that names made with it fall under no pattern except through their suffix. */
function freshLabel(bases: ReadonlySet<string>): string {
  const labels = new Set<string>();
  for (const base of bases) for (const label of base.split('.')) labels.add(label);
  let label = 'certpin-probe';
  for (let i = 2; labels.has(label); i++) label = `certpin-probe${i}`;
  return label;
}
