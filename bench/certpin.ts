/**
 * certpin as the package runs it: the build's compiled JavaScript (`.build/tsc/`, what `dist/` bundles, one module
 * per file so that the internals measured here can be imported), never the TypeScript sources through tsx, whose
 * transform wraps every function created at run time in a `__name` helper and so makes certpin's closures cost more
 * than they do in the package. Everything is loaded from that one tree, so the benchmark holds one instance of each
 * module (one session cache, one decision cache). It is rebuilt first when missing or older than src/. Types come
 * from the sources (the same declarations).
 */
import type * as Index from '../src/index.js';
import type * as Axios from '../src/adapters/axios.js';
import type * as Got from '../src/adapters/got.js';
import type * as Ws from '../src/adapters/ws.js';
import type * as X509 from '../src/core/x509/index.js';
import type * as Path from '../src/core/path/index.js';
import type * as Signature from '../src/core/path/signature.js';
import type * as Der from '../src/core/der.js';
import type * as Algorithms from '../src/core/x509/algorithms.js';
import type * as Names from '../src/core/x509/name.js';
import type * as Times from '../src/core/x509/time.js';
import type * as Extensions from '../src/core/x509/extensions.js';
import type * as Decision from '../src/core/decision.js';
import type * as Hostname from '../src/core/hostname.js';
import type * as Diagnostics from '../src/node/diagnostics.js';
import type * as PinCheck from '../src/node/pin-check.js';
import type * as TrustStore from '../src/node/trust-store.js';
import { ensureBuilt } from './startup.js';

const problem = ensureBuilt();
if (problem) throw new Error(`the benchmark measures the built package: ${problem}`);

const load = <T>(module: string): Promise<T> => import(new URL(`../.build/tsc/${module}`, import.meta.url).href) as Promise<T>;

export const certpin = await load<typeof Index>('index.js');
export const { pinAxios } = await load<typeof Axios>('adapters/axios.js');
export const { pinnedGotOptions } = await load<typeof Got>('adapters/got.js');
export const { pinnedWebSocketOptions } = await load<typeof Ws>('adapters/ws.js');
export const { decide } = await load<typeof Decision>('core/decision.js');
export const { publishDecision } = await load<typeof Diagnostics>('node/diagnostics.js');
export const { createPinCheck, peerChain } = await load<typeof PinCheck>('node/pin-check.js');
export const { certificateFacts, readCertificate } = await load<typeof X509>('core/x509/index.js');
export const { validateServedChain } = await load<typeof Path>('core/path/index.js');
export const { signatureVerifies } = await load<typeof Signature>('core/path/signature.js');
/** The reader's steps, for `reader-stages.ts`. */
export const readerSteps = {
  ...(await load<typeof Der>('core/der.js')),
  ...(await load<typeof Algorithms>('core/x509/algorithms.js')),
  ...(await load<typeof Names>('core/x509/name.js')),
  ...(await load<typeof Times>('core/x509/time.js')),
  ...(await load<typeof Extensions>('core/x509/extensions.js')),
};
export const { normalizeHost } = await load<typeof Hostname>('core/hostname.js');
export const { tlsTrustFor } = await load<typeof TrustStore>('node/trust-store.js');
