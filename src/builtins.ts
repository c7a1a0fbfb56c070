/**
 * Node's networking built-ins, loaded the first time certpin needs them instead of when certpin is imported.
 *
 * Loading `node:tls` costs a Node 22 or 24 process 24 to 31 ms of start-up (measured whole-process, most of it after
 * the module's own code ran), `node:net` about 5 ms and `node:fs/promises` about 3 ms. A process that imports certpin
 * and never opens a connection (a build step that reads a policy, `certpin inspect`, a test that only computes pins)
 * should not pay that; a process that connects pays it once, at its first connection, as it would without certpin.
 * Each accessor is a load on the first call and a field read after it. `process.getBuiltinModule` gives a module's
 * CommonJS face: its ES module face would read every export and run the lazy getters (on Node 22 and 24,
 * `node:http`'s loads the bundled undici).
 * @module
 */
import type * as Http from 'node:http';
import type * as Http2 from 'node:http2';
import type * as Https from 'node:https';
import type * as Net from 'node:net';
import type * as Tls from 'node:tls';
import type * as FsPromises from 'node:fs/promises';

let tls: typeof Tls | undefined;
let https: typeof Https | undefined;
let http: typeof Http | undefined;
let http2: typeof Http2 | undefined;
let net: typeof Net | undefined;
let fsPromises: typeof FsPromises | undefined;

/** `node:tls`. */
export function nodeTls(): typeof Tls {
  return (tls ??= process.getBuiltinModule('node:tls'));
}

/** `node:https` (which loads `node:tls`). */
export function nodeHttps(): typeof Https {
  return (https ??= process.getBuiltinModule('node:https'));
}

/** `node:http`. */
export function nodeHttp(): typeof Http {
  return (http ??= process.getBuiltinModule('node:http'));
}

/** `node:http2` (most processes never open an HTTP/2 session). */
export function nodeHttp2(): typeof Http2 {
  return (http2 ??= process.getBuiltinModule('node:http2'));
}

/** `node:fs/promises`. */
export function nodeFsPromises(): typeof FsPromises {
  return (fsPromises ??= process.getBuiltinModule('node:fs/promises'));
}

/** Node's `net.isIP`: 4, 6, or 0 when `input` is not an IP address literal. */
export function isIP(input: string): number {
  return (net ??= process.getBuiltinModule('node:net')).isIP(input);
}

/**
 * A superclass that stands for `load()` until the first instance is made, then becomes it: certpin's agent classes
 * are declared when certpin is imported, but `node:https` or `node:http` loads when the first agent is made. From
 * then on the prototype chains are those of a class that extends `load()` directly (`instanceof https.Agent` holds,
 * `super` calls reach Node's methods).
 */
export function lazySuperclass<T extends abstract new (...args: never[]) => object>(load: () => T): T {
  function LazySuperclass(this: unknown, ...args: unknown[]): object {
    const superclass = load();
    if (Object.getPrototypeOf(LazySuperclass) !== superclass) {
      Object.setPrototypeOf(LazySuperclass, superclass);
      Object.setPrototypeOf(LazySuperclass.prototype, superclass.prototype);
    }
    return Reflect.construct(superclass, args, new.target);
  }
  return LazySuperclass as unknown as T;
}
