/**
 * Anti-rollback for signed pin-set documents. Each document carries a `seq` that only grows; the client remembers the
 * highest it accepted (the floor) and the digest of that document's payload. A document below the floor is a replay
 * of an older one (rollback); one at the floor with another payload means the signer published two different
 * documents under one number (equivocation). Both are refused. The floor only ever rises, including when a cache
 * file is read: an unsigned number can make certpin refuse documents, never accept one.
 * @module
 */

/** The highest `seq` accepted so far and the SHA-256 (hex) of that document's payload, when known. */
export interface SequenceFloor {
  readonly sequence: number;
  readonly digest: string | undefined;
}

/** What a document's `seq` means against the floor. */
export type SequenceVerdict =
  | { readonly kind: 'newer' }
  /** The document accepted at the floor, again (re-fetched, or re-signed with the same payload). */
  | { readonly kind: 'same' }
  | { readonly kind: 'rollback' | 'equivocation'; readonly message: string };

/** Judges a verified document's `seq` and payload digest against the floor. */
export function judgeSequence(floor: SequenceFloor | undefined, sequence: number, digest: string): SequenceVerdict {
  if (!floor || sequence > floor.sequence) return { kind: 'newer' };
  if (sequence < floor.sequence) {
    return { kind: 'rollback', message: `"seq" ${sequence} is lower than ${floor.sequence}, the highest already accepted: an older document replayed` };
  }
  if (floor.digest === undefined) {
    return { kind: 'rollback', message: `"seq" ${sequence} is the highest already seen, whose payload is not known here; only a higher "seq" can be accepted` };
  }
  if (floor.digest !== digest) {
    return { kind: 'equivocation', message: `"seq" ${sequence} was already accepted with another payload; every change of the pin sets needs a higher "seq"` };
  }
  return { kind: 'same' };
}

/**
 * The floor after seeing `candidate`: the higher of the two; at an equal `seq`, a known digest is kept, an unknown one
 * filled in. Never lower than `floor`.
 */
export function raiseFloor(floor: SequenceFloor | undefined, candidate: SequenceFloor | undefined): SequenceFloor | undefined {
  if (!candidate) return floor;
  if (!floor || candidate.sequence > floor.sequence) return { sequence: candidate.sequence, digest: candidate.digest };
  if (candidate.sequence === floor.sequence && floor.digest === undefined && candidate.digest !== undefined) return { sequence: floor.sequence, digest: candidate.digest };
  return floor;
}

/** Whether a value read from an untrusted place (a cache file) is a usable `seq`. */
export function isSequence(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}
