// Module resolution hooks for a child process that must run as if axios, got and ws were not installed.
const BLOCKED = new Set(['axios', 'got', 'ws', 'https-proxy-agent']);

export async function resolve(specifier, context, nextResolve) {
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
  if (BLOCKED.has(name)) {
    throw Object.assign(new Error(`Cannot find package '${specifier}' (blocked: optional peer dependency)`), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return nextResolve(specifier, context);
}
