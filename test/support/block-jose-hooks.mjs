// Module resolution hooks for a child process that must fail on any load of jose: proves `import 'certpin'` does
// not load it (it is loaded on the first document verification).
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'jose' || specifier.startsWith('jose/')) {
    throw Object.assign(new Error(`Cannot find package '${specifier}' (blocked: must not load at import time)`), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return nextResolve(specifier, context);
}
