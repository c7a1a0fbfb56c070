/**
 * JSON as a policy file must be read: `JSON.parse` keeps the last of two equal keys in an object and says nothing, so
 * a second `"reportOnly": true` or `"expires"` would weaken a policy without a word. certpin refuses such a file.
 * @module
 */

/**
 * The first key that appears twice in one object of `text`, compared as JSON decodes it (`"a"` and `"\u0061"` are
 * the same key), or `undefined`.
 * @param text JSON that `JSON.parse` accepts (the scan relies on it being well formed).
 */
export function duplicateJsonKey(text: string): string | undefined {
  const stack: { keys: Set<string> | undefined; keyNext: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const frame = stack.at(-1);
      if (frame?.keys && frame.keyNext) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (frame.keys.has(key)) return key;
        frame.keys.add(key);
        frame.keyNext = false;
      }
      i = end;
    } else if (c === '{') stack.push({ keys: new Set(), keyNext: true });
    else if (c === '[') stack.push({ keys: undefined, keyNext: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const frame = stack.at(-1);
      if (frame?.keys) frame.keyNext = true;
    }
  }
  return undefined;
}

/** The error message for a duplicate key, naming it and the fix. */
export function duplicateKeyMessage(key: string): string {
  return `the key ${JSON.stringify(key)} appears twice in one object; JSON keeps the last one, which could change the policy without a word. Write each key once`;
}
