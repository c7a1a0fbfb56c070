/**
 * Certificate validity times, read as strictly as OpenSSL's `X509_cmp_time` accepts them: UTCTime exactly
 * `YYMMDDHHMMSSZ`, GeneralizedTime exactly `YYYYMMDDHHMMSSZ`, every field in range. OpenSSL treats any other form as
 * an error in the field (the certificate fails), and so does certpin.
 * @module
 */
import { DerError } from '../der.js';
import type { DerElement } from '../der.js';

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Reads a Time element as whole seconds since the epoch. @throws {DerError} */
export function parseTime(buf: Uint8Array, el: DerElement): number {
  const length = el.end - el.start;
  let year: number;
  let at = el.start;
  const digits = (count: number): number => {
    let value = 0;
    for (let i = 0; i < count; i++) {
      const c = buf[at++]!;
      if (c < 0x30 || c > 0x39) throw new DerError('non-digit in a time');
      value = value * 10 + (c - 0x30);
    }
    return value;
  };
  if (el.tag === 0x17) {
    if (length !== 13) throw new DerError('UTCTime is not YYMMDDHHMMSSZ');
    const yy = digits(2);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (el.tag === 0x18) {
    if (length !== 15) throw new DerError('GeneralizedTime is not YYYYMMDDHHMMSSZ');
    year = digits(4);
  } else throw new DerError('a Time must be UTCTime or GeneralizedTime');
  const month = digits(2);
  const day = digits(2);
  const hour = digits(2);
  const minute = digits(2);
  const second = digits(2);
  if (buf[at] !== 0x5a) throw new DerError('a time must end in Z');
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (month < 1 || month > 12) throw new DerError('month out of range');
  const monthDays = month === 2 && leap ? 29 : DAYS[month - 1]!;
  if (day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) throw new DerError('time field out of range');
  return Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
}
