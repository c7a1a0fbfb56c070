#!/usr/bin/env node
// The certpin command: runs the compiled CLI (dist is built by `npm run build`, and before packing by `prepack`).

// `certpin verify` resolves many host names at once, and libuv's default pool of 4 threads would queue the lookups.
// The pool starts on first use, so the size is set before anything is loaded.
process.env.UV_THREADPOOL_SIZE ??= '32';
const { runCli } = await import('../dist/cli/main.js');
runCli();
